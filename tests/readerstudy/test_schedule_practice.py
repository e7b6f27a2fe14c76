"""Practice trials teach no rule about the classes: their class and odd position are crossed with resolution.

With practice feedback on, a reader learns from the practice which images were real. If the practice at
one resolution were all of one class ("every small image was synthetic"), that is what they would learn,
right before the trials that measure the resolution effect. So across readers the class (forced choice:
the odd image's position) at each resolution must be each one with equal chance, and within one reader
each resolution's practice holds each class equally often (+-1) where the count allows.
"""
from __future__ import annotations

import hashlib
import math
from collections import Counter

import pytest

from readerstudy.models import Reader
from readerstudy.scheduling import (SCHEDULE_VERSION, ScheduleError, ScheduleSpec, check_supply,
                                    schedule_trials)
from readerstudy.services import create_reader, save_design

from .test_scheduling import make_pool, with_catch

RESOLUTION_SETS = [(32, 64), (32, 64, 128), (32, 64, 128, 256)]
PRACTICE_COUNTS = [2, 3, 4, 5, 8]
POOL = make_pool(n_sources=40, resolutions=(32, 64, 128, 256))
BY_ID = {ref.id: ref for ref in POOL}
READERS = 240
Z = 4.0  # fixed seeds: a pass or a fail is for good; 4 standard errors keeps chance from deciding it


def practice(spec: ScheduleSpec, seed: int, **kwargs) -> list:
    return [t for t in schedule_trials(POOL, spec, seed, reader_index=seed, **kwargs) if t.kind == "practice"]


def label(trial) -> str | int:
    """The class of a single image; the odd image's position in forced choice."""
    return trial.odd_position if trial.odd_position is not None else BY_ID[trial.image_ids[0]].image_class


def associations(spec: ScheduleSpec, choices, readers: int = READERS) -> list[str]:
    """Each resolution whose share of some class (position) over many readers is off its equal share."""
    at: dict[int, Counter] = {res: Counter() for res in spec.resolutions}
    for seed in range(readers):
        for trial in practice(spec, seed):
            at[trial.resolution][label(trial)] += 1
    off = []
    share = 1 / len(choices)
    for res, counts in sorted(at.items()):
        n = sum(counts.values())
        if not n:
            continue
        for choice in choices:
            if abs(counts[choice] / n - share) > Z * math.sqrt(share * (1 - share) / n):
                off.append(f"{res} px: {choice} in {counts[choice]} of {n}")
    return off


def spec_for(design: str, resolutions, p: int, **extra) -> ScheduleSpec:
    return ScheduleSpec(design=design, resolutions=resolutions, trials_per_resolution=1, practice_trials=p,
                        **extra)


@pytest.mark.parametrize("resolutions", RESOLUTION_SETS, ids=len)
@pytest.mark.parametrize("case_set", ["shared", "random"])
def test_across_readers_the_practice_class_is_independent_of_the_resolution(resolutions, case_set):
    for p in PRACTICE_COUNTS:
        spec = spec_for("single", resolutions, p, case_set=case_set)
        assert not associations(spec, ("real", "synthetic")), f"{p} practice trials"


@pytest.mark.parametrize("resolutions", RESOLUTION_SETS, ids=len)
@pytest.mark.parametrize("alternatives", [2, 3])
def test_across_readers_the_odd_position_in_practice_is_independent_of_the_resolution(resolutions, alternatives):
    for p in PRACTICE_COUNTS:
        spec = spec_for("choice", resolutions, p, alternatives=alternatives)
        assert not associations(spec, range(alternatives)), f"{p} practice trials"


@pytest.mark.parametrize("design", ["single", "choice"])
def test_each_readers_practice_is_balanced_within_every_resolution_and_overall(design):
    choices = (0, 1, 2) if design == "choice" else ("real", "synthetic")
    for resolutions in RESOLUTION_SETS:
        for p in PRACTICE_COUNTS:
            spec = spec_for(design, resolutions, p, alternatives=3)
            for seed in range(20):
                trials = practice(spec, seed)
                # The resolutions in turn, the largest first, as before.
                per_res = Counter(t.resolution for t in trials)
                assert sorted(per_res.values(), reverse=True) == [per_res[r] for r in sorted(per_res, reverse=True)]
                assert max(per_res.values()) - min(per_res.values()) <= 1
                overall = Counter(label(t) for t in trials)
                assert max(overall[c] for c in choices) - min(overall[c] for c in choices) <= 1
                for res in per_res:
                    here = Counter(label(t) for t in trials if t.resolution == res)
                    assert max(here[c] for c in choices) - min(here[c] for c in choices) <= 1, (p, res, here)


def test_a_shared_case_set_keeps_enough_of_either_class_for_an_odd_practice_count():
    # Either class may get the odd practice trial, so 5 practice trials need 3 sources of each class
    # (the pool less its last synthetic source has only 2 synthetic ones left over).
    pool = make_pool(n_sources=13, resolutions=(32, 64))
    check_supply(pool, ScheduleSpec(resolutions=(32, 64), trials_per_resolution=10, practice_trials=5))
    with pytest.raises(ScheduleError, match="5 practice trials need 3 synthetic sources outside the main case set"):
        check_supply(pool[:-2], ScheduleSpec(resolutions=(32, 64), trials_per_resolution=10, practice_trials=5))


# ----------------------------------------------------------------------------- versions

GOLDEN_POOL = with_catch(make_pool(n_sources=40, resolutions=(32, 64, 128, 256)), n=8,
                         resolutions=(32, 64, 128, 256))

# Schedules version "2" made, as digests of every field of every planned trial (seed 12345, study seed 678,
# reader index 1). Readers invited under version 2 keep their stored trials; these keep them re-derivable.
VERSION_2 = {
    "single shared": (ScheduleSpec(trials_per_resolution=6, practice_trials=5, catch_trials=2, repeat_trials=2),
                      "c0cf9d6c26974b9b"),
    "single random blocked": (ScheduleSpec(resolutions=(32, 64), trials_per_resolution=8, practice_trials=4,
                                           case_set="random", order="blocked"), "a4fe6c2833d81fb6"),
    "choice shared": (ScheduleSpec(design="choice", alternatives=3, resolutions=(32, 64, 128),
                                   trials_per_resolution=4, practice_trials=4, catch_trials=1), "27a0d8fbe5cca694"),
    "constant stimuli": (ScheduleSpec(resolutions=(32, 64), trials_per_resolution=8, practice_trials=3,
                                      repeat_trials=2, exposure_levels=(50, 100, 200)), "d8be01a3843ebfb1"),
}


def digest(spec: ScheduleSpec, **kwargs) -> str:
    trials = schedule_trials(GOLDEN_POOL, spec, 12345, study_seed=678, reader_index=1, **kwargs)
    rows = [(t.kind, t.resolution, t.image_ids, t.odd_position, t.block, t.repeat_of, t.exposure_ms) for t in trials]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", VERSION_2)
def test_version_2_schedules_are_reproduced_exactly(name):
    spec, expected = VERSION_2[name]
    assert digest(spec, version="2") == expected
    assert digest(spec) != expected, "new readers get the current version"


def test_version_2_is_kept_as_it_was_label_shortcut_included():
    spec = spec_for("single", (32, 64), 4)
    for seed in range(10):
        old = Counter((t.resolution, label(t)) for t in practice(spec, seed, version="2"))
        assert old == {(64, "real"): 2, (32, "synthetic"): 2}


def test_an_unknown_version_is_refused():
    with pytest.raises(ScheduleError, match="Unknown schedule version '9'"):
        schedule_trials(POOL, spec_for("single", (32, 64), 2), 1, version="9")


def test_the_study_case_set_is_the_same_whichever_version_made_a_readers_schedule():
    spec = ScheduleSpec(resolutions=(32, 64, 128), trials_per_resolution=4, practice_trials=3)

    def main(version):
        trials = schedule_trials(POOL, spec, 7, study_seed=99, reader_index=2, version=version)
        return {(t.resolution, t.image_ids) for t in trials if t.kind == "main"}

    assert main("2") == main(SCHEDULE_VERSION)


@pytest.mark.django_db
def test_a_schedule_rebuilt_before_any_answer_is_made_and_labelled_by_the_current_version(make_study):
    study = make_study(practice_trials=4)
    reader = create_reader(study, "Invited earlier")
    Reader.objects.filter(pk=reader.pk).update(schedule_version="2")
    study.trials_per_resolution = 3
    save_design(study)
    reader.refresh_from_db()
    assert reader.schedule_version == SCHEDULE_VERSION
    assert reader.trials.filter(kind="main").count() == 3 * 3
