"""Test helpers shared by the readerstudy tests."""
from __future__ import annotations

from readerstudy.services import create_reader, start_reading


def invite(study, name: str = "Reader", **kwargs):
    """Invite a reader and answer their questionnaire (and consent), as the invitation page does."""
    reader = create_reader(study, name, **kwargs)
    start_reading(reader, {"role": "radiologist", "years_experience": 10, "subspecialty": ""}, consented=True)
    return reader
