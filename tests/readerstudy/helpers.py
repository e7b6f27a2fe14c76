"""Test helpers shared by the readerstudy tests."""
from __future__ import annotations

from readerstudy.services import create_reader, start_reading


def invite(study, name: str = "Reader", **kwargs):
    """Invite a reader and answer their questionnaire (and consent), as the invitation page does."""
    reader = create_reader(study, name, **kwargs)
    start_reading(reader, {"role": "radiologist", "years_experience": 10, "subspecialty": ""}, consented=True)
    return reader


def labelled_phantom_pool(folder, patients: int = 12, size: int = 48, resolutions=(32, 48)):
    """A pool folder of `patients` real and as many synthetic phantom patients, labelled none/spot in turn:
    the smallest pool the whole quality report takes."""
    from tests.generation.test_quality_support import phantom_set, write_pool

    def labelled(first_seed: int) -> list[dict]:
        images = phantom_set(first_seed, patients, size)
        for n, image in enumerate(images):
            image["label"] = ("none", "spot")[n % 2]
        return images

    return write_pool(folder, labelled(0), labelled(500), resolutions=list(resolutions))


def run_queued_tasks() -> None:
    """Run every queued background task with the library's own worker, here and now; the worker installs
    its own signal handlers, which are put back afterwards."""
    import signal

    from django.core.management import call_command

    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        call_command("db_worker", batch=True, startup_delay=False, interval=0, verbosity=0)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
