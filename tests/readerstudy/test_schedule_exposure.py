"""Constant stimuli: fixed exposure levels, each equally often per resolution and class, in random order."""
from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from readerstudy.scheduling import ScheduleSpec, schedule_trials

from .test_scheduling import make_pool, with_catch

RESOLUTIONS = (32, 64, 128)
POOL = with_catch(make_pool(n_sources=60, resolutions=RESOLUTIONS), resolutions=RESOLUTIONS)
BY_ID = {ref.id: ref for ref in POOL}
levels_st = st.lists(st.integers(17, 2000), min_size=2, max_size=8, unique=True).map(tuple)


def truth(trial) -> str:
    return BY_ID[trial.image_ids[trial.odd_position or 0]].image_class


def balanced(counts: Counter, levels) -> bool:
    per_level = [counts.get(level, 0) for level in levels]
    return max(per_level) - min(per_level) <= 1 and set(counts) <= set(levels)


@settings(max_examples=50, deadline=None)
@given(levels=levels_st, t=st.integers(1, 14), seed=st.integers(0, 2**48), index=st.integers(0, 5),
       design=st.sampled_from(["single", "rating", "choice"]), case_set=st.sampled_from(["shared", "random"]),
       fraction=st.sampled_from([0.5, 0.25]), repeats=st.integers(0, 6), catch=st.integers(0, 6))
def test_every_level_is_given_equally_often_per_resolution_and_per_class(
        levels, t, seed, index, design, case_set, fraction, repeats, catch):
    spec = ScheduleSpec(design=design, resolutions=RESOLUTIONS, trials_per_resolution=t, synthetic_fraction=fraction,
                        case_set=case_set, practice_trials=2, repeat_trials=min(repeats, 3 * t - 1), catch_trials=catch,
                        exposure_levels=levels)
    trials = schedule_trials(POOL, spec, seed, study_seed=seed // 2, reader_index=index)
    assert all(tr.exposure_ms is None for tr in trials if tr.kind == "practice")
    assert all(tr.exposure_ms in levels for tr in trials if tr.kind != "practice")
    for kind in ("main", "repeat", "catch"):
        for res in RESOLUTIONS:
            here = [tr for tr in trials if tr.kind == kind and tr.resolution == res]
            assert balanced(Counter(tr.exposure_ms for tr in here), levels), (kind, res)
            for cls in ("real", "synthetic"):
                of_class = Counter(tr.exposure_ms for tr in here if truth(tr) == cls)
                if of_class:
                    assert balanced(of_class, levels), (kind, res, cls)


def test_the_levels_come_in_random_order_that_differs_between_readers():
    spec = ScheduleSpec(resolutions=RESOLUTIONS, trials_per_resolution=12, exposure_levels=(100, 200, 400, 800))
    sequences = {tuple(tr.exposure_ms for tr in schedule_trials(POOL, spec, seed, study_seed=1)) for seed in range(5)}
    assert len(sequences) == 5
    # No level follows the trial's class: over many readers each level is as often real as synthetic. In each
    # resolution 6 + 6 trials share 4 levels, so a level goes 2 + 1 or 1 + 2 ways: by chance, the difference
    # over 180 resolutions has a standard deviation of about 13.
    by_level = Counter()
    for seed in range(60):
        for tr in schedule_trials(POOL, spec, seed, study_seed=1, reader_index=seed):
            if tr.kind == "main":
                by_level[(tr.exposure_ms, truth(tr))] += 1
    for level in spec.exposure_levels:
        assert abs(by_level[(level, "real")] - by_level[(level, "synthetic")]) <= 4 * 180 ** 0.5


def test_without_levels_no_trial_gets_an_exposure_from_the_schedule():
    spec = ScheduleSpec(resolutions=RESOLUTIONS, trials_per_resolution=4, repeat_trials=2)
    assert all(tr.exposure_ms is None for tr in schedule_trials(POOL, spec, 3))


def test_levels_leave_the_images_and_order_as_they_are():
    plain = ScheduleSpec(resolutions=RESOLUTIONS, trials_per_resolution=6, practice_trials=2, repeat_trials=2)
    timed = ScheduleSpec(resolutions=RESOLUTIONS, trials_per_resolution=6, practice_trials=2, repeat_trials=2,
                         exposure_levels=(100, 300))
    images = [[t.image_ids for t in schedule_trials(POOL, spec, 8)] for spec in (plain, timed)]
    assert images[0] == images[1]
