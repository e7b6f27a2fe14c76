"""schedule_trials is a pure function: balance, no repeats, reproducibility, position balance."""
from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readerstudy.scheduling import ImageRef, ScheduleError, ScheduleSpec, schedule_trials


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
@given(seed=st.integers(0, 2**48), t=st.integers(1, 8), order=st.sampled_from(["interleaved", "blocked"]))
def test_classes_are_balanced_inside_every_block(seed, t, order):
    spec = ScheduleSpec(resolutions=(32, 64, 128), trials_per_resolution=2 * t, order=order)
    main = [tr for tr in schedule_trials(POOL, spec, seed) if tr.kind == "main"]
    blocks = Counter(tr.block for tr in main)
    for block in blocks:
        classes = Counter(truth_of(tr) for tr in main if tr.block == block)
        assert classes["real"] == classes["synthetic"], f"block {block} is unbalanced: {classes}"
    if order == "blocked":
        assert all(len({tr.resolution for tr in main if tr.block == b}) == 1 for b in blocks)
        # A blocked schedule shows each resolution in one contiguous run.
        runs = [tr.resolution for i, tr in enumerate(main) if i == 0 or main[i - 1].resolution != tr.resolution]
        assert len(runs) == len(spec.resolutions)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**48), n=st.integers(2, 4), k=st.integers(1, 3),
       odd=st.sampled_from(["real", "synthetic"]))
def test_forced_choice_balances_the_odd_position_and_uses_each_image_once(seed, n, k, odd):
    spec = ScheduleSpec(design="choice", alternatives=n, odd_class=odd, resolutions=(32, 64), trials_per_resolution=n * k)
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


def test_forced_choice_images_share_the_odd_images_label():
    pool = make_pool(labels=3)
    by_id = {r.id: r for r in pool}
    spec = ScheduleSpec(design="choice", alternatives=3, resolutions=(64,), trials_per_resolution=6)
    for t in schedule_trials(pool, spec, 11):
        assert len({by_id[i].label for i in t.image_ids}) == 1


def test_repeats_copy_an_earlier_main_trial_and_never_follow_it_directly():
    spec = ScheduleSpec(resolutions=(32, 64, 128), trials_per_resolution=6, repeat_trials=4)
    trials = schedule_trials(POOL, spec, 5)
    repeats = [(i, t) for i, t in enumerate(trials) if t.kind == "repeat"]
    assert len(repeats) == 4
    for i, t in repeats:
        original = trials[t.repeat_of]
        assert original.kind == "main" and original.image_ids == t.image_ids and t.repeat_of < i - 1


def test_allowing_source_repeats_lets_a_source_appear_at_two_resolutions_but_never_twice_at_one():
    pool = make_pool(n_sources=6)
    by_id = {r.id: r for r in pool}
    spec = ScheduleSpec(resolutions=(32, 64, 128), trials_per_resolution=8, allow_source_repeat=True)
    trials = schedule_trials(pool, spec, 9)
    for res in spec.resolutions:
        sources = [by_id[t.image_ids[0]].source_id for t in trials if t.resolution == res]
        assert len(sources) == len(set(sources))


def test_a_pool_too_small_for_the_design_is_refused_with_a_clear_message():
    with pytest.raises(ScheduleError, match=r"too few synthetic images at \d+ px"):
        schedule_trials(make_pool(n_sources=10), ScheduleSpec(trials_per_resolution=10, resolutions=(32, 64, 128)), 1)


def test_practice_images_never_appear_in_the_main_trials():
    spec = ScheduleSpec(resolutions=(32, 64), trials_per_resolution=10, practice_trials=6, allow_source_repeat=True)
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
@given(seed=st.integers(0, 2**48), n=st.integers(1, 6), design=st.sampled_from(["single", "rating", "choice"]))
def test_catch_trials_use_only_catch_images_and_never_open_the_session(seed, n, design):
    pool = with_catch(LARGE_POOL if design == "choice" else POOL, resolutions=(32, 64))
    by_id = {r.id: r for r in pool}
    spec = ScheduleSpec(design=design, resolutions=(32, 64), trials_per_resolution=4, catch_trials=n)
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
