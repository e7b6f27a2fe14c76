"""schedule_trials is a pure function: balance, no repeats, reproducibility, position balance.

Most guarantees here hold for both case sets; tests of the random case set alone say so. The shared case
set's own guarantees are in test_schedule_shared.py, the order's in test_schedule_order.py.
"""
from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readerstudy.scheduling import ImageRef, ScheduleError, ScheduleSpec, schedule_trials, validate_spec


def make_pool(n_sources: int = 60, resolutions=(32, 64, 128), labels: int = 0) -> list[ImageRef]:
    refs = []
    next_id = 0
    for cls in ("real", "synthetic"):
        for s in range(n_sources):
            for res in resolutions:
                label = f"L{s % labels}" if labels else ""
                refs.append(ImageRef(next_id, f"{cls}-{s}", cls, res, label))
                next_id += 1
    return refs


POOL = make_pool()
BY_ID = {ref.id: ref for ref in POOL}
LARGE_POOL = make_pool(n_sources=80, resolutions=(32, 64))
LARGE_BY_ID = {ref.id: ref for ref in LARGE_POOL}


def truth_of(trial) -> str:
    return BY_ID[trial.image_ids[trial.odd_position or 0]].image_class


specs = st.builds(
    ScheduleSpec,
    design=st.sampled_from(["single", "rating"]),
    case_set=st.sampled_from(["shared", "random"]),
    resolutions=st.just((32, 64, 128)),
    trials_per_resolution=st.integers(2, 12),
    synthetic_fraction=st.sampled_from([0.5, 0.25, 0.75]),
    order=st.sampled_from(["interleaved", "blocked"]),
    practice_trials=st.integers(0, 4),
    repeat_trials=st.integers(0, 3),
)


@settings(max_examples=60, deadline=None)
@given(spec=specs, seed=st.integers(0, 2**48))
def test_single_image_schedules_are_balanced_and_never_repeat_a_source(spec, seed):
    trials = schedule_trials(POOL, spec, seed)
    main = [t for t in trials if t.kind == "main"]
    assert Counter(t.resolution for t in main) == {r: spec.trials_per_resolution for r in spec.resolutions}
    for res in spec.resolutions:
        synthetic = sum(truth_of(t) == "synthetic" for t in main if t.resolution == res)
        assert synthetic == round(spec.trials_per_resolution * spec.synthetic_fraction)
    shown = [BY_ID[i].source_id for t in trials if t.kind != "repeat" for i in t.image_ids]
    assert len(shown) == len(set(shown)), "a source image reached the reader twice"
    assert [t.kind for t in trials[: spec.practice_trials]] == ["practice"] * spec.practice_trials
    assert sum(t.kind == "repeat" for t in trials) == min(spec.repeat_trials, len(main))


@settings(max_examples=40, deadline=None)
@given(spec=specs, seed=st.integers(0, 2**48))
def test_the_same_seed_gives_the_same_schedule(spec, seed):
    assert schedule_trials(POOL, spec, seed) == schedule_trials(list(reversed(POOL)), spec, seed)


def test_different_seeds_give_different_orders():
    spec = ScheduleSpec(resolutions=(32, 64, 128), trials_per_resolution=10)
    assert schedule_trials(POOL, spec, 1) != schedule_trials(POOL, spec, 2)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**48), t=st.integers(1, 8), case_set=st.sampled_from(["shared", "random"]))
def test_a_blocked_schedule_shows_each_resolution_in_one_contiguous_run(seed, t, case_set):
    spec = ScheduleSpec(resolutions=(32, 64, 128), trials_per_resolution=2 * t, order="blocked", case_set=case_set)
    main = [tr for tr in schedule_trials(POOL, spec, seed) if tr.kind == "main"]
    blocks = Counter(tr.block for tr in main)
    assert all(len({tr.resolution for tr in main if tr.block == b}) == 1 for b in blocks)
    runs = [tr.resolution for i, tr in enumerate(main) if i == 0 or main[i - 1].resolution != tr.resolution]
    assert len(runs) == len(spec.resolutions)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**48), n=st.integers(2, 4), k=st.integers(1, 3),
       odd=st.sampled_from(["real", "synthetic"]), case_set=st.sampled_from(["shared", "random"]))
def test_forced_choice_balances_the_odd_position_and_uses_each_image_once(seed, n, k, odd, case_set):
    spec = ScheduleSpec(design="choice", alternatives=n, odd_class=odd, resolutions=(32, 64),
                        trials_per_resolution=n * k, case_set=case_set)
    trials = schedule_trials(LARGE_POOL, spec, seed)
    for res in spec.resolutions:
        positions = Counter(t.odd_position for t in trials if t.resolution == res)
        assert positions == {p: k for p in range(n)}
    for t in trials:
        classes = [LARGE_BY_ID[i].image_class for i in t.image_ids]
        assert len(classes) == n and classes[t.odd_position] == odd and classes.count(odd) == 1
        assert len({LARGE_BY_ID[i].resolution for i in t.image_ids}) == 1
    sources = [LARGE_BY_ID[i].source_id for t in trials for i in t.image_ids]
    assert len(sources) == len(set(sources))


@pytest.mark.parametrize("case_set", ["shared", "random"])
def test_forced_choice_images_share_the_odd_images_label(case_set):
    pool = make_pool(labels=3)
    by_id = {r.id: r for r in pool}
    spec = ScheduleSpec(design="choice", alternatives=3, resolutions=(32, 64), trials_per_resolution=6,
                        case_set=case_set, practice_trials=3)
    for t in schedule_trials(pool, spec, 11):
        assert len({by_id[i].label for i in t.image_ids}) == 1


@pytest.mark.parametrize("case_set", ["shared", "random"])
def test_repeats_copy_an_earlier_main_trial_and_never_follow_it_directly(case_set):
    spec = ScheduleSpec(resolutions=(32, 64, 128), trials_per_resolution=6, repeat_trials=4, case_set=case_set)
    trials = schedule_trials(POOL, spec, 5)
    repeats = [(i, t) for i, t in enumerate(trials) if t.kind == "repeat"]
    assert len(repeats) == 4
    for i, t in repeats:
        original = trials[t.repeat_of]
        assert original.kind == "main" and original.image_ids == t.image_ids and t.repeat_of < i - 1


def test_allowing_source_repeats_lets_a_source_appear_at_two_resolutions_but_never_twice_at_one():
    pool = make_pool(n_sources=6)
    by_id = {r.id: r for r in pool}
    spec = ScheduleSpec(resolutions=(32, 64, 128), trials_per_resolution=8, allow_source_repeat=True,
                        case_set="random")
    trials = schedule_trials(pool, spec, 9)
    for res in spec.resolutions:
        sources = [by_id[t.image_ids[0]].source_id for t in trials if t.resolution == res]
        assert len(sources) == len(set(sources))


def test_a_pool_too_small_for_a_random_case_set_is_refused_with_a_clear_message():
    spec = ScheduleSpec(trials_per_resolution=10, resolutions=(32, 64, 128), case_set="random")
    with pytest.raises(ScheduleError, match=r"too few synthetic images at \d+ px"):
        schedule_trials(make_pool(n_sources=10), spec, 1)


@pytest.mark.parametrize("case_set", ["shared", "random"])
def test_practice_images_never_appear_in_the_main_trials(case_set):
    spec = ScheduleSpec(resolutions=(32, 64), trials_per_resolution=10, practice_trials=6, allow_source_repeat=True,
                        case_set=case_set)
    trials = schedule_trials(POOL, spec, 3)
    practice = {BY_ID[i].source_id for t in trials if t.kind == "practice" for i in t.image_ids}
    main = {BY_ID[i].source_id for t in trials if t.kind == "main" for i in t.image_ids}
    assert practice and not practice & main


def with_catch(pool: list[ImageRef], n: int = 10, resolutions=(32, 64, 128)) -> list[ImageRef]:
    start = max(r.id for r in pool) + 1
    catch = [ImageRef(start + i * len(resolutions) + j, f"catch-{i}", "synthetic", res, "", "catch")
             for i in range(n) for j, res in enumerate(resolutions)]
    return pool + catch


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**48), n=st.integers(1, 6), design=st.sampled_from(["single", "rating", "choice"]),
       case_set=st.sampled_from(["shared", "random"]))
def test_catch_trials_use_only_catch_images_and_never_open_the_session(seed, n, design, case_set):
    pool = with_catch(LARGE_POOL if design == "choice" else POOL, resolutions=(32, 64))
    by_id = {r.id: r for r in pool}
    spec = ScheduleSpec(design=design, resolutions=(32, 64), trials_per_resolution=4, catch_trials=n,
                        case_set=case_set)
    trials = schedule_trials(pool, spec, seed)
    catch = [t for t in trials if t.kind == "catch"]
    assert len(catch) == n and trials[0].kind != "catch"
    for t in trials:
        roles = [by_id[i].role for i in t.image_ids]
        synthetic_roles = {by_id[i].role for i in t.image_ids if by_id[i].image_class == "synthetic"}
        if t.kind == "catch":
            assert synthetic_roles == {"catch"}
        else:
            assert "catch" not in roles
    main = [t for t in trials if t.kind == "main"]
    assert len(main) == 8


@pytest.mark.parametrize("change, message", [
    ({"trials_per_resolution": 2**31 - 1}, "1 to 1,000"),
    ({"trials_per_resolution": 1001}, "1 to 1,000"),
    ({"trials_per_resolution": 0}, "1 to 1,000"),
    ({"practice_trials": 201}, "Practice trials are 0 to 200"),
    ({"repeat_trials": 501}, "Repeat trials are 0 to 500"),
    ({"catch_trials": 2**31 - 1}, "Catch trials are 0 to 500"),
    ({"case_set": "mixed"}, "Unknown case set"),
    ({"exposure_levels": (100,)}, "2 to 8 different exposures"),
    ({"exposure_levels": (100, 100)}, "2 to 8 different exposures"),
    ({"exposure_levels": tuple(range(100, 1000, 100))}, "2 to 8 different exposures"),
])
def test_a_design_beyond_the_bounds_is_refused_before_any_schedule_is_built(change, message):
    spec = ScheduleSpec(**change)
    with pytest.raises(ScheduleError, match=message):
        validate_spec(spec)
    with pytest.raises(ScheduleError, match=message):
        schedule_trials(POOL, spec, 1)


def test_the_largest_allowed_design_is_accepted_and_one_more_trial_is_not():
    largest = ScheduleSpec(trials_per_resolution=1000, practice_trials=200, repeat_trials=500, catch_trials=500)
    assert validate_spec(largest) is None
    with pytest.raises(ScheduleError, match="1 to 1,000"):
        validate_spec(ScheduleSpec(trials_per_resolution=1001))
