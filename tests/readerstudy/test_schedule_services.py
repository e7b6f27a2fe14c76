"""How studies use the schedules: reader ordinals, shared case sets, constant stimuli, account-bound links,
the design form's refusals, and the migration of existing studies."""
from __future__ import annotations

import json
from collections import defaultdict

import pytest

from readerstudy.forms import StudyForm
from readerstudy.models import Reader, Response, Study, Trial
from readerstudy.services import create_reader, save_design, start_reading

from .helpers import invite

pytestmark = pytest.mark.django_db


def main_images(reader) -> dict[int, frozenset[int]]:
    """Resolution -> the pool image ids of the reader's main trials there."""
    sets = defaultdict(set)
    for trial in reader.trials.filter(kind="main").prefetch_related("images"):
        sets[trial.resolution].update(image.image_id for image in trial.images.all())
    return {res: frozenset(ids) for res, ids in sets.items()}


def sources(images: frozenset[int], pool) -> frozenset[str]:
    return frozenset(pool.images.filter(pk__in=images).values_list("source_id", flat=True))


def test_readers_are_numbered_in_invitation_order_and_share_images_by_group(study, pool):
    assert study.case_set == "shared"
    readers = [create_reader(study, f"R{i}") for i in range(6)]
    assert [r.ordinal for r in readers] == list(range(6))
    sets = [main_images(r) for r in readers]
    for i in range(3):
        assert sets[i] == sets[i + 3]
    assert len({tuple(sorted(s.items())) for s in sets[:3]}) == 3
    # Source group read by reader group 0 at resolution i is read by reader group k at resolution i + k.
    resolutions = sorted(study.resolutions)
    for i, res in enumerate(resolutions):
        group = sources(sets[0][res], pool)
        for k in range(3):
            assert sources(sets[k][resolutions[(i + k) % 3]], pool) == group


def test_rebuilding_the_schedules_keeps_every_readers_ordinal_and_group(study):
    readers = [create_reader(study, f"R{i}") for i in range(4)]
    study.trials_per_resolution = 2
    save_design(study)
    rebuilt = list(Reader.objects.filter(study=study).order_by("pk"))
    assert [r.ordinal for r in rebuilt] == [0, 1, 2, 3]
    assert all(r.trials.filter(kind="main").count() == 6 for r in rebuilt)
    assert main_images(rebuilt[0]) == main_images(rebuilt[3]) != main_images(rebuilt[1])
    assert [r.seed for r in rebuilt] == [r.seed for r in readers]


def test_a_random_case_set_gives_readers_their_own_subsets(make_study):
    study = make_study(case_set="random")
    first, second, _, fourth = (create_reader(study, f"R{i}") for i in range(4))
    assert main_images(first) != main_images(fourth)


def test_constant_stimuli_store_each_trials_level_and_serve_it_before_the_trial_is_current(client, make_study):
    levels = [100, 200, 400]
    study = make_study(exposure_mode="constant", exposure_levels_ms=levels, trials_per_resolution=6,
                       practice_trials=2, catch_trials=2, repeat_trials=2)
    reader = invite(study)
    stored = list(reader.trials.order_by("index").values_list("kind", "resolution", "exposure_ms"))
    # Practice is timed too: the levels from the longest down (practice comes first in the schedule).
    assert [ms for kind, _, ms in stored if kind == "practice"] == [400, 200]
    assert all(ms in levels for kind, _, ms in stored if kind != "practice")
    for res in study.resolutions:
        counts = [sum(1 for kind, r, ms in stored if kind == "main" and r == res and ms == level) for level in levels]
        assert counts == [2, 2, 2]
    # The next trial's exposure is known before it is shown (the page does not wait for the server).
    for _ in range(4):
        current, following = client.get(f"/api/reader/{reader.token}/").json()["trials"]
        for payload in (current, following):
            assert payload["exposure_ms"] == Trial.objects.get(token=payload["token"]).exposure_ms
        trial = Trial.objects.get(token=current["token"])
        answer = {"trial": trial.token, "answer": "real"}
        if current["exposure_ms"] is not None:
            answer["client_exposure_ms"] = current["exposure_ms"] + 3.0
        client.post(f"/api/reader/{reader.token}/responses/", json.dumps(answer), content_type="application/json")
    timed = Response.objects.filter(trial__reader=reader, trial__exposure_ms__isnull=False)
    assert all(timed.values_list("exposure_ok", flat=True))
    assert client.get(f"/api/reader/{reader.token}/").json()["trials"][0]["exposure_ms"] is not None
    # Serving never changes a stored level.
    assert list(reader.trials.order_by("index").values_list("kind", "resolution", "exposure_ms")) == stored


def test_practice_under_constant_stimuli_runs_through_the_levels_whatever_the_class(client, make_study):
    study = make_study(exposure_mode="constant", exposure_levels_ms=[300, 100, 200], practice_trials=4,
                       trials_per_resolution=2)
    seen = set()
    for i in range(12):
        reader = create_reader(study, f"R{i}")
        practice = reader.trials.filter(kind="practice").order_by("index")
        assert [t.exposure_ms for t in practice] == [300, 200, 100, 300]
        seen.update((t.truth, t.exposure_ms) for t in practice[:2])
    # The practice trials come in random order, so each class meets each of the first levels.
    assert seen == {(cls, ms) for cls in ("real", "synthetic") for ms in (300, 200)}
    briefing = client.get(f"/r/{reader.token}/").content.decode()
    assert "The practice trials are timed too, starting with the longest duration." in briefing


def test_practice_under_a_fixed_exposure_is_timed_like_the_main_trials(client, make_study):
    study = make_study(exposure_mode="fixed", exposure_ms=300, practice_trials=2, trials_per_resolution=1,
                       resolutions=[64])
    reader = invite(study)
    practice = list(reader.trials.filter(kind="practice").order_by("index"))
    assert [t.exposure_ms for t in practice] == [300, 300]
    current, following = client.get(f"/api/reader/{reader.token}/").json()["trials"]
    assert (current["kind"], current["exposure_ms"], following["exposure_ms"]) == ("practice", 300, 300)
    shown = {"trial": current["token"], "answer": "real", "client_exposure_ms": 305.0, "requested_exposure_ms": 300}
    client.post(f"/api/reader/{reader.token}/responses/", json.dumps(shown), content_type="application/json")
    unshown = {"trial": following["token"], "answer": "real"}  # the page sent no exposure: not shown as asked
    client.post(f"/api/reader/{reader.token}/responses/", json.dumps(unshown), content_type="application/json")
    assert [Response.objects.get(trial__token=t["token"]).exposure_ok for t in (current, following)] == [True, False]


def test_a_reader_whose_practice_was_planned_untimed_keeps_it_untimed(client, make_study):
    study = make_study(exposure_mode="fixed", exposure_ms=300, practice_trials=2, trials_per_resolution=1,
                       resolutions=[64])
    reader = create_reader(study, "Reader")
    reader.trials.filter(kind="practice").update(exposure_ms=None)  # invited while practice was untimed
    assert "The practice trials show the image until you answer." in client.get(f"/r/{reader.token}/").content.decode()
    start_reading(reader, {"role": "radiologist", "years_experience": 10, "subspecialty": ""}, consented=True)
    current, following = client.get(f"/api/reader/{reader.token}/").json()["trials"]
    assert (current["kind"], current["exposure_ms"], following["exposure_ms"]) == ("practice", None, None)
    assert reader.trials.filter(kind="practice", exposure_ms__isnull=False).count() == 0, "serving keeps it so"


def test_an_account_bound_invitation_stays_closed_once_the_account_is_deleted(client, study, charlie, bob):
    reader = invite(study, "Charlie", user=charlie)
    assert reader.account_bound
    charlie.delete()
    reader.refresh_from_db()
    assert reader.user is None and reader.account_bound
    response = client.get(f"/api/reader/{reader.token}/")
    assert response.status_code == 403
    assert "account that no longer exists" in response.json()["detail"]
    page = client.get(f"/r/{reader.token}/")
    assert page.status_code == 403 and "ask the coordinator for a new link" in page.content.decode()
    client.force_login(bob)
    assert client.get(f"/api/reader/{reader.token}/").status_code == 403


def test_an_invitation_without_an_account_is_a_bearer_link(client, study):
    reader = invite(study)
    assert not reader.account_bound
    assert client.get(f"/api/reader/{reader.token}/").status_code == 200


def design_form(pool, **overrides):
    data = {
        "name": "S", "pool": pool.pk, "design": "single", "alternatives": 2, "odd_class": "real",
        "resolutions": "32,64,96", "trials_per_resolution": 4, "case_set": "shared", "synthetic_fraction": 0.5,
        "order": "interleaved", "practice_trials": 0, "practice_pass_mark": 0, "repeat_trials": 0,
        "catch_trials": 0, "min_view_ms": 0, "confidence_scale": "off", "display_size": 512,
        "upscale": "pixelated", "blank_ms": 250, "rating_labels": "a\nb\nc\nd", "exposure_mode": "none",
        "exposure_ms": 500, "exposure_levels_ms": "100,200,400,800", "instructions": "", "consent": "",
    }
    data.update(overrides)
    return data


def test_the_form_refuses_a_design_the_pool_cannot_supply_when_it_is_saved(client, alice, pool):
    client.force_login(alice)
    # 3 resolutions x 12 real images need 36 real sources; the test pool has 30.
    response = client.post("/coordinator/studies/new/", design_form(pool, trials_per_resolution=24))
    page = response.content.decode()
    assert response.status_code == 400 and "3 resolutions x 12 real images need 36 real sources" in page
    assert "the pool has 30" in page and not Study.objects.exists()
    # 3 x 10 fit, and so does a random subset per reader.
    assert client.post("/coordinator/studies/new/", design_form(pool, trials_per_resolution=20)).status_code == 302
    assert client.post("/coordinator/studies/new/", design_form(pool, trials_per_resolution=20,
                                                                case_set="random")).status_code == 302
    assert sorted(Study.objects.values_list("case_set", flat=True)) == ["random", "shared"]


def test_the_form_refuses_practice_catch_or_repeats_the_pool_cannot_supply(client, alice, pool):
    client.force_login(alice)
    response = client.post("/coordinator/studies/new/", design_form(pool, trials_per_resolution=20,
                                                                    practice_trials=1))
    assert response.status_code == 400 and "outside the main case set" in response.content.decode()
    response = client.post("/coordinator/studies/new/", design_form(pool, catch_trials=16))
    assert response.status_code == 400 and "too few catch images" in response.content.decode()
    assert not Study.objects.exists()


def test_new_studies_are_not_offered_the_staircase_but_one_that_has_it_keeps_it(client, alice, pool, make_study):
    offered = [value for value, _ in StudyForm().fields["exposure_mode"].choices]
    assert offered == ["none", "fixed", "constant"]
    client.force_login(alice)
    response = client.post("/coordinator/studies/new/", design_form(pool, exposure_mode="staircase"))
    assert response.status_code == 400 and not Study.objects.exists()
    # A study that already uses the staircase keeps it through an edit.
    old = make_study(exposure_mode="staircase", exposure_ms=500, status="draft")
    assert "staircase" in [value for value, _ in StudyForm(instance=old).fields["exposure_mode"].choices]
    response = client.post(f"/coordinator/studies/{old.pk}/edit/",
                           design_form(pool, name="Old", exposure_mode="staircase"))
    assert response.status_code == 302, response.content.decode()
    old.refresh_from_db()
    assert old.exposure_mode == "staircase" and old.name == "Old"


def test_switching_a_study_to_the_staircase_is_refused(make_study):
    from django.core.exceptions import ValidationError

    study = make_study(exposure_mode="fixed")
    study.exposure_mode = "staircase"
    with pytest.raises(ValidationError, match="kept only for studies that already use it"):
        study.clean()
    kept = make_study(exposure_mode="staircase")
    kept.clean()


def test_constant_stimuli_through_the_form(client, alice, pool):
    client.force_login(alice)
    response = client.post("/coordinator/studies/new/", design_form(pool, exposure_mode="constant",
                                                                    exposure_levels_ms="800, 100,200"))
    assert response.status_code == 302
    assert Study.objects.get().exposure_levels_ms == [100, 200, 800]
    response = client.post("/coordinator/studies/new/", design_form(pool, exposure_mode="constant",
                                                                    exposure_levels_ms="100,abc"))
    assert response.status_code == 400 and "exposure levels as whole numbers" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_existing_studies_on_a_random_case_set_and_account_links_bound(pool):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    before = [("readerstudy", "0002_pool_audited_properties")]
    after = [("readerstudy", "0003_case_set_exposure_levels_reader_ordinal")]
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        user = old.get_model("auth", "User").objects.create(username="erin")
        study = old.get_model("readerstudy", "Study").objects.create(name="Old", pool_id=pool.pk, resolutions=[32])
        Old = old.get_model("readerstudy", "Reader")
        for i in range(3):
            Old.objects.create(study=study, name=f"R{i}", token=f"t{i}", seed=i, user=user if i == 1 else None)
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps
        assert new.get_model("readerstudy", "Study").objects.get(pk=study.pk).case_set == "random"
        rows = new.get_model("readerstudy", "Reader").objects.order_by("pk").values_list("ordinal", "account_bound")
        assert list(rows) == [(0, False), (1, True), (2, False)]
    finally:  # later tests on this database need every migration, including any added after this one
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_an_image_url_handed_out_before_the_account_was_deleted_is_refused(client, study, charlie):
    from readerstudy.services import start_reading

    reader = invite(study, "Charlie", user=charlie)
    start_reading(reader, {"role": "radiologist", "years_experience": 5}, consented=False)
    client.force_login(charlie)
    url = client.get(f"/api/reader/{reader.token}/").json()["trials"][0]["images"][0]["url"]
    assert client.get(url).status_code == 200
    client.logout()
    charlie.delete()
    response = client.get(url)
    assert response.status_code == 403 and b"PNG" not in response.content[:8]
