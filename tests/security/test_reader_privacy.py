"""Who read is for coordinators only: analysts (and scripts with an analyst's token) get each reader's code,
as the exports and reports do, and never a name, an e-mail address, an account or an invitation link."""
from __future__ import annotations

import pytest

from ..readerstudy.helpers import invite

pytestmark = pytest.mark.django_db


def test_analysts_see_reader_codes_and_no_names_emails_accounts_or_links(client, study, bob, charlie):
    first = invite(study, "Dr Ada Lovelace", email="ada@example.org")
    second = invite(study, "Dr Grace Hopper", user=charlie)
    client.force_login(bob)
    listed = client.get(f"/api/readers/?study={study.pk}").json()["results"]
    one = client.get(f"/api/readers/{second.pk}/").json()
    for reader in [*listed, one]:
        assert reader["name"] == reader["code"] and reader["email"] == "" and reader["user"] is None
        assert reader["invitation_url"] is None
    assert [r["code"] for r in listed] == [first.code, second.code] == ["R001", "R002"]
    text = client.get(f"/api/readers/?study={study.pk}").content.decode()
    assert "Lovelace" not in text and "ada@example.org" not in text and "Hopper" not in text


def test_coordinators_see_who_each_reader_is(client, study, alice, charlie):
    reader = invite(study, "Dr Grace Hopper", email="grace@example.org", user=charlie)
    client.force_login(alice)
    shown = client.get(f"/api/readers/{reader.pk}/").json()
    assert (shown["name"], shown["email"], shown["user"], shown["code"]) == (
        "Dr Grace Hopper", "grace@example.org", charlie.pk, "R001")
    assert shown["invitation_url"].endswith(f"/r/{reader.token}/")
