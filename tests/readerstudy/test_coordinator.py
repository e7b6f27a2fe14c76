"""Coordinator flows: design a study, invite, revoke, exclude, copy, and the design freeze."""
from __future__ import annotations

import json

import pytest
from django.db import models

from readerstudy.models import Reader, Study
from readerstudy.services import create_reader

from .helpers import invite

pytestmark = pytest.mark.django_db


def design_form(pool, **overrides):
    data = {
        "name": "Chest X-ray by resolution", "pool": pool.pk, "design": "single", "alternatives": 2,
        "odd_class": "real", "resolutions": "32,64", "trials_per_resolution": 4, "case_set": "shared",
        "synthetic_fraction": 0.5,
        "order": "interleaved", "practice_trials": 0, "practice_pass_mark": 0, "repeat_trials": 0, "catch_trials": 0,
        "min_view_ms": 0, "confidence_scale": "5", "display_size": 512, "upscale": "pixelated", "blank_ms": 250,
        "rating_labels": "a\nb\nc\nd", "exposure_mode": "none", "exposure_ms": 500, "instructions": "Look closely.",
        "consent": "",
    }
    data.update(overrides)
    return data


def test_alice_designs_a_study_and_sees_its_full_configuration(client, alice, pool):
    client.force_login(alice)
    response = client.post("/coordinator/studies/new/", design_form(pool))
    assert response.status_code == 302
    study = Study.objects.get()
    assert study.resolutions == [32, 64] and study.confidence_scale == "5" and study.created_by == alice
    page = client.get(f"/coordinator/studies/{study.pk}/").content.decode()
    assert "32, 64" in page and "Look closely." in page and str(study.seed) in page


@pytest.mark.parametrize("field, value, message", [
    ("resolutions", "32,abc", "whole numbers"),
    ("resolutions", "32,512", "no images at 512 px"),
    ("alternatives", 7, "less than or equal to 4"),
    ("synthetic_fraction", 1.5, "less than or equal to 1"),
])
def test_a_wrong_design_value_is_explained_and_nothing_is_saved(client, alice, pool, field, value, message):
    client.force_login(alice)
    response = client.post("/coordinator/studies/new/", design_form(pool, **{field: value}))
    assert response.status_code == 400 and message in response.content.decode()
    assert not Study.objects.exists()


def test_alice_invites_a_reader_with_htmx_and_gets_a_personal_link(client, alice, study):
    client.force_login(alice)
    response = client.post(f"/coordinator/studies/{study.pk}/readers/invite/", {"name": "Dr. Gray"},
                           HTTP_HX_REQUEST="true")
    reader = Reader.objects.get()
    assert response.status_code == 200 and f"/r/{reader.token}/" in response.content.decode()
    assert reader.trials.count() == 12


def test_an_invitation_the_pool_cannot_supply_is_explained(client, alice, make_study):
    study = make_study(trials_per_resolution=40)
    client.force_login(alice)
    response = client.post(f"/coordinator/studies/{study.pk}/readers/invite/", {"name": "X"}, HTTP_HX_REQUEST="true")
    assert "need 60 real sources with images at every resolution; the pool has 30" in response.content.decode()
    assert not Reader.objects.exists()


def test_revoking_a_link_locks_the_reader_out(client, alice, study):
    reader = create_reader(study, "R")
    client.force_login(alice)
    client.post(f"/coordinator/studies/{study.pk}/readers/{reader.pk}/revoke/")
    client.logout()
    assert client.get(f"/r/{reader.token}/").status_code == 410


def test_a_frozen_design_cannot_be_edited_but_can_be_copied(client, alice, study):
    reader = invite(study, "R")
    token = client.get(f"/api/reader/{reader.token}/").json()["trials"][0]["token"]
    client.post(f"/api/reader/{reader.token}/responses/", json.dumps({"trial": token, "answer": "real"}),
                content_type="application/json")
    client.force_login(alice)
    assert client.get(f"/coordinator/studies/{study.pk}/edit/").status_code == 302
    api = client.patch(f"/api/studies/{study.pk}/", {"trials_per_resolution": 2}, content_type="application/json")
    assert api.status_code == 400 and "frozen" in api.content.decode()
    response = client.post(f"/coordinator/studies/{study.pk}/copy/")
    copy = Study.objects.exclude(pk=study.pk).get()
    assert response.status_code == 302 and copy.frozen_at is None and copy.seed != study.seed
    assert copy.status == "draft" and copy.resolutions == study.resolutions


def test_status_changes_follow_the_allowed_transitions(client, alice, study):
    client.force_login(alice)
    client.post(f"/coordinator/studies/{study.pk}/status/pause/")
    study.refresh_from_db()
    assert study.status == "paused"
    client.post(f"/coordinator/studies/{study.pk}/status/close/")
    client.post(f"/coordinator/studies/{study.pk}/status/open/")
    study.refresh_from_db()
    assert study.status == "closed"


def test_the_pool_page_shows_counts_and_sources_to_coordinators(client, alice, pool):
    client.force_login(alice)
    page = client.get(f"/coordinator/pools/{pool.pk}/").content.decode()
    assert "real_0" in page or "synthetic_0" in page
    image = pool.images.first()
    response = client.get(f"/coordinator/pools/{pool.pk}/images/{image.uid}.png")
    assert response.status_code == 200 and response.content[:4] == b"\x89PNG"


def test_an_invitation_to_an_account_works_only_for_that_account(client, alice, charlie, study, django_user_model):
    client.force_login(alice)
    response = client.post(f"/coordinator/studies/{study.pk}/readers/invite/", {"name": "Charlie", "username": "charlie"},
                           HTTP_HX_REQUEST="true")
    assert "account charlie" in response.content.decode()
    reader = Reader.objects.get()
    assert reader.user == charlie
    client.logout()
    assert client.get(f"/r/{reader.token}/").status_code == 302  # to the login page
    assert client.get(f"/api/reader/{reader.token}/").status_code == 401
    dave = django_user_model.objects.create_user("dave", password="dave-pass-123")
    client.force_login(dave)
    assert client.get(f"/api/reader/{reader.token}/").status_code == 403
    client.force_login(charlie)
    assert "Resolution study" in client.get("/reading/").content.decode()
    assert client.get(f"/api/reader/{reader.token}/").status_code == 200


def test_an_unknown_account_is_explained(client, alice, study):
    client.force_login(alice)
    response = client.post(f"/coordinator/studies/{study.pk}/readers/invite/", {"name": "X", "username": "nobody"},
                           HTTP_HX_REQUEST="true")
    assert "No active account is called" in response.content.decode()
    assert not Reader.objects.exists()


def test_a_logged_in_account_reader_must_send_the_csrf_token(study, charlie):
    from django.test import Client

    reader = invite(study, "Charlie", user=charlie)
    client = Client(enforce_csrf_checks=True)
    client.force_login(charlie)
    token = client.get(f"/api/reader/{reader.token}/").json()["trials"][0]["token"]
    forged = client.post(f"/api/reader/{reader.token}/responses/", json.dumps({"trial": token, "answer": "real"}),
                         content_type="application/json")
    assert forged.status_code == 403
    assert not reader.trials.filter(response__isnull=False).exists()


def test_the_study_page_plans_the_sample_size_for_its_design(client, alice, make_study):
    """The page shows the planner's figures for this study's layout (the planner is tested in tests/analysis)."""
    from analysis.planning import components_from_model, design_table, headline_power

    shared = make_study(trials_per_resolution=50)  # 3 resolutions: 150 images each, in 3 reader groups
    model = components_from_model(0.6)
    power = headline_power(model, readers=8, images=150, groups=3)["power"]
    needed = int(design_table(model, groups=3, images=(150,))["readers"][0])
    client.force_login(alice)
    page = client.get(f"/coordinator/studies/{shared.pk}/power/?accuracy=0.6&readers=8").content.decode()
    assert f"<strong>{round(100 * power)}% power</strong>" in page and f"<strong>{needed} readers</strong>" in page
    assert "150 images at each resolution" in page and "in 3 reader groups" in page
    assert "correlation" not in page.lower(), "the planner takes no within-reader correlation"

    subsets = make_study(trials_per_resolution=50, case_set="random", design="choice", alternatives=3)
    power = headline_power(components_from_model(0.6, alternatives=3, design="choice"), readers=8, images=50,
                           chance=1 / 3)["power"]
    page = client.get(f"/coordinator/studies/{subsets.pk}/power/?accuracy=0.6&readers=8").content.decode()
    assert f"<strong>{round(100 * power)}% power</strong>" in page and "against chance (0.33)" in page
    few = client.get(f"/coordinator/studies/{subsets.pk}/power/?accuracy=0.6&readers=2").content.decode()
    assert "no power: a reader-random test needs at least 3 readers" in few
    bad = client.get(f"/coordinator/studies/{shared.pk}/power/?accuracy=1.5&readers=8").content.decode()
    assert "accuracy" in bad and "power" not in bad.split("</form>")[1]


def test_a_new_study_form_starts_from_the_defaults(client, alice, pool):
    client.force_login(alice)
    page = client.get("/coordinator/studies/new/").content.decode()
    assert 'value="32,64,128,256"' in page and "Clearly synthetic" in page


def test_a_reminder_goes_only_to_a_reader_who_can_get_and_use_it(client, alice, study, mailoutbox):
    client.force_login(alice)
    with_email = invite(study, "Mail", email="mail@example.org")
    without = invite(study, "NoMail")
    excluded = invite(study, "Out", email="out@example.org")
    Reader.objects.filter(pk=excluded.pk).update(excluded=True)

    def remind(reader):
        return client.post(f"/coordinator/studies/{study.pk}/readers/{reader.pk}/remind/", HTTP_HX_REQUEST="true")

    page = remind(without).content.decode()
    assert "NoMail has no e-mail address" in page and f"/r/{without.token}/" in page
    page = remind(excluded).content.decode()
    assert "Out is excluded: no reminder was sent" in page
    page = remind(with_email).content.decode()
    assert [m.to for m in mailoutbox] == [["mail@example.org"]] and with_email.token in mailoutbox[0].body
    assert list(Reader.objects.filter(reminded_at__isnull=False).values_list("name", flat=True)) == ["Mail"]
    # The button is offered only where a reminder can go out.
    assert page.count("/remind/") == 2 and "Remind again" in page  # one form: its hx-post and its action
    Study.objects.filter(pk=study.pk).update(status="paused")
    page = remind(with_email).content.decode()
    assert "the study is paused, so the link would not let them read" in page and len(mailoutbox) == 1
    assert "/remind/" not in page


@pytest.mark.parametrize("change, field, message", [
    ({"time_limit_ms": 3000, "min_view_ms": 3000}, "min_view_ms", "must be shorter than the time limit"),
    ({"time_limit_ms": 100}, "time_limit_ms", "under 250 ms"),
    ({"exposure_mode": "fixed", "exposure_ms": 0}, "exposure_ms", "one frame at 60 Hz"),
    ({"exposure_mode": "fixed", "exposure_ms": 120_000}, "exposure_ms", "60,000 ms"),
    ({"exposure_mode": "staircase"}, "exposure_mode", "kept only for studies that already use it"),
    ({"exposure_mode": "constant", "exposure_levels_ms": [10, 200]}, "exposure_levels_ms", "17 ms"),
    ({"exposure_mode": "constant", "exposure_levels_ms": [200]}, "exposure_levels_ms", "2 to 8 exposure levels"),
    ({"trials_per_resolution": 2**31 - 1}, "trials_per_resolution", "less than or equal to 1000"),
    ({"catch_trials": 501}, "catch_trials", "less than or equal to 500"),
    ({"blank_ms": 2**31 - 1}, "blank_ms", "at most 10,000 ms"),
])
def test_a_design_that_cannot_be_read_is_refused(client, alice, pool, change, field, message):
    client.force_login(alice)
    response = client.post("/api/studies/", {"name": "S", "pool": pool.pk, "resolutions": [32], **change},
                           content_type="application/json")
    assert response.status_code == 400 and message in json.dumps(response.json()), response.content
    assert not Study.objects.exists()


def test_practice_trials_are_timed_like_the_main_trials_with_a_fixed_exposure(make_study):
    study = make_study(practice_trials=2, exposure_mode="fixed", exposure_ms=200)
    reader = invite(study)
    kinds = dict(reader.trials.values_list("kind").annotate(n=models.Count("id", filter=models.Q(exposure_ms=200))))
    assert kinds == {"practice": 2, "main": 12}


@pytest.mark.parametrize("design, expected", [
    ({}, []), ({"display_size": 1024}, ["An image of 1024 px needs a window of 1072 x 1284"]),
    ({"design": "choice", "alternatives": 4}, ["4 images of 512 px side by side need a window of 2144 x 772"]),
    ({"design": "choice", "alternatives": 3, "display_size": 600}, []),
])
def test_the_study_page_warns_when_the_images_cannot_be_shown_at_their_size(client, alice, make_study,
                                                                           design, expected):
    study = make_study(**design)
    assert [w[:len(e)] for w, e in zip(study.layout_warnings(), expected)] == expected
    assert len(study.layout_warnings()) == len(expected)
    client.force_login(alice)
    page = client.get(f"/coordinator/studies/{study.pk}/").content.decode()
    assert ("CSS px" in page) is bool(expected)


def test_a_script_reads_for_an_account_invitation_with_that_accounts_api_token(study, charlie, bob):
    from django.test import Client
    from rest_framework.authtoken.models import Token

    reader = invite(study, "Charlie", user=charlie)
    script = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=charlie).key}")
    trial = script.get(f"/api/reader/{reader.token}/").json()["trials"][0]["token"]
    answered = script.post(f"/api/reader/{reader.token}/responses/", json.dumps({"trial": trial, "answer": "real"}),
                           content_type="application/json")
    assert answered.status_code == 201
    other = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bob).key}")
    assert other.get(f"/api/reader/{reader.token}/").status_code == 403
    assert Client().get(f"/api/reader/{reader.token}/").status_code == 401


def test_saving_a_study_lands_on_its_coordinator_page_with_the_message_shown_once(client, alice, pool):
    client.force_login(alice)
    response = client.post("/coordinator/studies/new/", design_form(pool), follow=True)
    study = Study.objects.get()
    assert response.redirect_chain == [(f"/coordinator/studies/{study.pk}/", 302)]
    assert response.templates[0].name == "coordinator/study_detail.html"
    assert response.content.decode().count("Study “Chest X-ray by resolution” saved.") == 1
    assert "saved." not in client.get("/coordinator/").content.decode()


def test_every_study_page_action_lands_on_a_coordinator_page_with_its_message(client, alice, make_study):
    study = make_study(status="draft")
    client.force_login(alice)
    steps = [
        (f"/coordinator/studies/{study.pk}/status/open/", f"/coordinator/studies/{study.pk}/", "Study is now open."),
        (f"/coordinator/studies/{study.pk}/status/pause/", f"/coordinator/studies/{study.pk}/",
         "Study is now paused."),
        (f"/coordinator/studies/{study.pk}/status/close/", f"/coordinator/studies/{study.pk}/",
         "Study is now closed."),
        (f"/coordinator/studies/{study.pk}/status/open/", f"/coordinator/studies/{study.pk}/",
         "A closed study cannot be asked to open."),
    ]
    for url, landing, message in steps:
        response = client.post(url, follow=True)
        assert response.redirect_chain == [(landing, 302)], url
        assert response.content.decode().count(message) == 1, url
    response = client.post(f"/coordinator/studies/{study.pk}/copy/", follow=True)
    copy = Study.objects.exclude(pk=study.pk).get()
    assert response.redirect_chain == [(f"/coordinator/studies/{copy.pk}/edit/", 302)]
    assert "Study copied." in response.content.decode() and 'name="resolutions"' in response.content.decode()


def test_the_dashboard_links_to_the_coordinator_pages_of_studies_and_pools(client, alice, study):
    client.force_login(alice)
    page = client.get("/coordinator/").content.decode()
    assert f'href="/coordinator/studies/{study.pk}/"' in page
    assert f'href="/coordinator/pools/{study.pool_id}/"' in page
    detail = client.get(f"/coordinator/studies/{study.pk}/").content.decode()
    assert f'action="/coordinator/studies/{study.pk}/copy/"' in detail
    assert f'href="/coordinator/pools/{study.pool_id}/"' in detail
    assert "/api/" not in detail.replace('href="/api/docs/"', "")



def test_a_refused_htmx_invitation_is_said_in_the_table_and_not_again_on_the_next_page(client, alice, study):
    client.force_login(alice)
    response = client.post(f"/coordinator/studies/{study.pk}/readers/invite/", {"name": "X", "username": "nobody"},
                           HTTP_HX_REQUEST="true")
    assert "No active account is called" in response.content.decode()
    assert "No active account is called" not in client.get(f"/coordinator/studies/{study.pk}/").content.decode()


def invitation_stamp(client, study) -> str:
    import re

    page = client.get(f"/coordinator/studies/{study.pk}/").content.decode()
    return re.search(r'name="form_stamp" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("htmx", [True, False])
def test_an_invitation_sent_twice_from_one_form_invites_one_reader(client, alice, study, htmx):
    client.force_login(alice)
    stamp = invitation_stamp(client, study)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    for _ in range(2):  # a double click
        response = client.post(f"/coordinator/studies/{study.pk}/readers/invite/",
                               {"name": "Dr. Gray", "email": "gray@example.org", "form_stamp": stamp}, **headers)
        assert response.status_code == (200 if htmx else 302)
    assert list(Reader.objects.values_list("name", flat=True)) == ["Dr. Gray"]
    if htmx:  # the answer carries a fresh form, so the next invitation is a new one
        stamp = response.content.decode().split('name="form_stamp" value="')[1].split('"')[0]
    else:
        stamp = invitation_stamp(client, study)
    again = client.post(f"/coordinator/studies/{study.pk}/readers/invite/",
                        {"name": "dr.  gray", "email": "other@example.org", "form_stamp": stamp}, follow=True, **headers)
    assert Reader.objects.filter(name__iexact="Dr. Gray").count() == 1  # names are unique in a study
    assert "already invited to this study" in again.content.decode()
    client.post(f"/coordinator/studies/{study.pk}/readers/invite/",
                {"name": "Dr. Grey", "email": "grey@example.org", "form_stamp": stamp}, **headers)
    assert Reader.objects.filter(name__startswith="Dr. Gr").count() == 2


def test_an_invitation_with_an_address_is_e_mailed_with_the_personal_link(client, alice, study, mailoutbox):
    client.force_login(alice)
    response = client.post(f"/coordinator/studies/{study.pk}/readers/invite/",
                           {"name": "Dr. Gray", "email": "gray@example.org"}, follow=True)
    reader = Reader.objects.get(name="Dr. Gray")
    assert "invited and their invitation e-mailed" in response.content.decode()
    assert [m.to for m in mailoutbox] == [["gray@example.org"]]
    assert f"/r/{reader.token}/" in mailoutbox[0].body and study.name in mailoutbox[0].subject
    client.post(f"/coordinator/studies/{study.pk}/readers/invite/", {"name": "Dr. Hale"})
    assert len(mailoutbox) == 1  # no address, no e-mail: the link is in the table


def test_the_page_and_the_api_refuse_the_same_actions_with_the_same_words(client, alice, study):
    from rest_framework.authtoken.models import Token

    client.force_login(alice)
    token = Token.objects.create(user=alice).key
    api = {"HTTP_AUTHORIZATION": f"Token {token}"}
    client.post(f"/coordinator/studies/{study.pk}/status/close/")
    page = client.post(f"/coordinator/studies/{study.pk}/readers/invite/", {"name": "Dr. Gray"}, follow=True)
    response = client.post("/api/readers/", {"study": study.pk, "name": "Dr. Gray"}, **api)
    assert response.status_code == 409, response.content
    assert response.json()["detail"] in page.content.decode()
    again = client.post(f"/api/studies/{study.pk}/close/", **api)
    assert again.status_code == 409 and "cannot be asked to close" in again.json()["detail"]

def test_an_invitation_says_who_was_invited(client, alice, study):
    client.force_login(alice)
    response = client.post(f"/coordinator/studies/{study.pk}/readers/invite/", {"name": "Dr. Gray"}, follow=True)
    assert response.redirect_chain == [(f"/coordinator/studies/{study.pk}/", 302)]
    assert response.content.decode().count("Dr. Gray invited") == 1
    fragment = client.post(f"/coordinator/studies/{study.pk}/readers/invite/", {"name": "Dr. Hale"},
                           HTTP_HX_REQUEST="true").content.decode()
    assert "Dr. Hale invited" in fragment


def test_revoking_and_excluding_without_htmx_land_on_the_study_page_with_a_message(client, alice, study):
    reader = create_reader(study, "Dr. Gray")
    client.force_login(alice)
    base = f"/coordinator/studies/{study.pk}/readers/{reader.pk}"
    revoked = client.post(f"{base}/revoke/", follow=True)
    assert revoked.redirect_chain == [(f"/coordinator/studies/{study.pk}/", 302)]
    assert "Dr. Gray’s link was withdrawn." in revoked.content.decode()
    excluded = client.post(f"{base}/exclude/", {"reason": "left early"}, follow=True)
    assert "Dr. Gray is excluded (left early)." in excluded.content.decode()


def test_a_design_field_outside_the_forms_fieldsets_is_still_on_the_page(client, alice, pool, monkeypatch):
    from readerstudy.forms import StudyForm

    client.force_login(alice)
    assert "More settings" not in client.get("/coordinator/studies/new/").content.decode()
    monkeypatch.setattr(StudyForm, "FIELDSETS", [(legend, [name for name in names if name != "blank_ms"])
                                                 for legend, names in StudyForm.FIELDSETS])
    page = client.get("/coordinator/studies/new/").content.decode()
    assert "More settings" in page and page.count('name="blank_ms"') == 1


def test_the_study_summary_shows_only_what_applies_and_renders_markdown(client, alice, make_study):
    client.force_login(alice)
    study = make_study(design="single", instructions="Look **carefully**.")
    page = client.get(f"/coordinator/studies/{study.pk}/").content.decode()
    assert "<strong>carefully</strong>" in page and "**carefully**" not in page
    assert "<th>Synthetic fraction</th>" in page
    assert "<th>Alternatives</th>" not in page and "<th>Rating labels</th>" not in page
    choice = make_study(design="choice", alternatives=3)
    page = client.get(f"/coordinator/studies/{choice.pk}/").content.decode()
    assert "<th>Alternatives</th>" in page and "<th>Synthetic fraction</th>" not in page


def test_the_pool_page_shows_samples_of_both_classes(client, alice, study):
    client.force_login(alice)
    samples = client.get(f"/coordinator/pools/{study.pool.pk}/").context["samples"]
    assert [image.image_class for image in samples[:4]] == ["real", "synthetic", "real", "synthetic"]


def test_the_api_stores_a_field_that_does_not_apply_at_its_default_as_the_page_does(client, alice, pool):
    client.force_login(alice)
    response = client.post("/api/studies/", {"name": "Choice", "pool": pool.pk, "resolutions": [32], "design": "choice",
                                             "alternatives": 3, "confidence_scale": "5", "exposure_ms": 300},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    study = Study.objects.get()
    default = {name: Study._meta.get_field(name).get_default() for name in ("confidence_scale", "exposure_ms")}
    assert (study.alternatives, study.confidence_scale, study.exposure_ms) == (3, default["confidence_scale"],
                                                                               default["exposure_ms"])
    single = client.patch(f"/api/studies/{study.pk}/", {"design": "single", "confidence_scale": "5"},
                          content_type="application/json")
    assert single.status_code == 200 and single.json()["confidence_scale"] == "5"
    study.refresh_from_db()
    assert study.alternatives == Study._meta.get_field("alternatives").get_default()
    untimed = client.patch(f"/api/studies/{study.pk}/", {"exposure_mode": "none", "exposure_levels_ms": [1]},
                           content_type="application/json")
    assert untimed.status_code == 200, "a value of a field that does not apply never refuses the design"


@pytest.mark.parametrize("design, expected", [
    ({"practice_trials": 4, "practice_pass_mark": 0.5}, None),
    ({"practice_trials": 4, "practice_pass_mark": 0}, None),
    ({"practice_trials": 2, "practice_pass_mark": 0.5}, "judges each reader on 2 practice answers"),
    ({"practice_trials": 4, "practice_pass_mark": 0.5, "exposure_mode": "constant",
      "exposure_levels_ms": [100, 200, 400, 800]}, "with 4 practice trials and 4 exposures that is 1. 16 practice"),
    ({"practice_trials": 16, "practice_pass_mark": 0.5, "exposure_mode": "constant",
      "exposure_levels_ms": [100, 200, 400, 800]}, None),
])
def test_the_study_page_warns_when_a_pass_mark_rests_on_too_few_answers(client, alice, make_study, design, expected):
    study = make_study(status="draft", **design)
    assert [w for w in study.practice_warnings() if expected is None or expected in w] == \
        ([] if expected is None else study.practice_warnings())
    assert (expected is None) == (study.practice_warnings() == [])
    client.force_login(alice)
    page = client.get(f"/coordinator/studies/{study.pk}/").content.decode()
    assert (expected is None) != ("The pass mark" in page)
