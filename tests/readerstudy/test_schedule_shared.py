"""A shared case set: every reader of a study reads the same images, crossed with resolution in a Latin square.

Reader group k = reader_index mod M reads source group g at resolution (g + k) mod M.
"""
from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readerstudy.scheduling import ImageRef, ScheduleError, ScheduleSpec, check_supply, schedule_trials

from .test_scheduling import make_pool, with_catch

RESOLUTIONS = (32, 64, 128)
POOL = with_catch(make_pool(n_sources=60, resolutions=RESOLUTIONS), resolutions=RESOLUTIONS)
BY_ID = {ref.id: ref for ref in POOL}
LABELLED = make_pool(n_sources=90, resolutions=RESOLUTIONS, labels=3)
LABELLED_BY_ID = {ref.id: ref for ref in LABELLED}


def source(image_id: int, by_id=BY_ID) -> str:
    return by_id[image_id].source_id


def main_sets(trials, by_id=BY_ID) -> dict[int, frozenset[int]]:
    """Resolution -> the image ids of the main trials there."""
    sets = defaultdict(set)
    for t in trials:
        if t.kind == "main":
            sets[t.resolution].update(t.image_ids)
    return {res: frozenset(ids) for res, ids in sets.items()}


def main_sources(trials, by_id=BY_ID) -> dict[int, frozenset[str]]:
    return {res: frozenset(by_id[i].source_id for i in ids) for res, ids in main_sets(trials, by_id).items()}


designs = st.sampled_from(["single", "rating", "choice"])


def spec_for(design: str, t: int, **extra) -> ScheduleSpec:
    if design == "choice":
        return ScheduleSpec(design="choice", alternatives=extra.pop("alternatives", 2), resolutions=RESOLUTIONS,
                            trials_per_resolution=t, **extra)
    return ScheduleSpec(design=design, resolutions=RESOLUTIONS, trials_per_resolution=t, **extra)


@settings(max_examples=30, deadline=None)
@given(design=designs, t=st.integers(1, 8), study_seed=st.integers(0, 2**48), reader_seed=st.integers(0, 2**48),
       fraction=st.sampled_from([0.5, 0.25, 0.75]), order=st.sampled_from(["interleaved", "blocked"]))
def test_readers_of_one_group_read_the_same_images_and_the_groups_form_a_latin_square(
        design, t, study_seed, reader_seed, fraction, order):
    spec = spec_for(design, t, synthetic_fraction=fraction, order=order, practice_trials=2, catch_trials=2,
                    repeat_trials=1)
    m = len(RESOLUTIONS)
    schedules = [schedule_trials(POOL, spec, reader_seed + i, study_seed=study_seed, reader_index=i)
                 for i in range(2 * m)]
    sets = [main_sets(trials) for trials in schedules]
    for i in range(m):
        assert sets[i] == sets[i + m], f"readers {i} and {i + m} are in one group but read different images"
    assert len({tuple(sorted(s.items())) for s in sets[:m]}) == m or m == 1
    # Source groups: the sources reader group 0 reads at each resolution.
    by_group = [main_sources(schedules[i]) for i in range(m)]
    groups = [by_group[0][res] for res in sorted(RESOLUTIONS)]
    assert all(not a & b for i, a in enumerate(groups) for b in groups[i + 1:]), "source groups overlap"
    for g, group in enumerate(groups):
        # Across the M reader groups, source group g is read at every resolution (at (g + k) mod M by group k).
        read_at = {res for k in range(m) for res, sources in by_group[k].items() if sources == group}
        assert read_at == set(RESOLUTIONS)
        for k in range(m):
            assert by_group[k][sorted(RESOLUTIONS)[(g + k) % m]] == group
    for trials in schedules:
        shown = [source(i) for tr in trials if tr.kind != "repeat" for i in tr.image_ids]
        assert len(shown) == len(set(shown)), "a source reached a reader twice (or at two resolutions)"


@settings(max_examples=30, deadline=None)
@given(design=designs, t=st.integers(1, 8), study_seed=st.integers(0, 2**48), reader_index=st.integers(0, 20),
       fraction=st.sampled_from([0.5, 0.2, 0.8]))
def test_class_counts_per_resolution_are_exact(design, t, study_seed, reader_index, fraction):
    spec = spec_for(design, t, synthetic_fraction=fraction, alternatives=3)
    trials = schedule_trials(POOL, spec, reader_index, study_seed=study_seed, reader_index=reader_index)
    main = [tr for tr in trials if tr.kind == "main"]
    assert Counter(tr.resolution for tr in main) == {res: t for res in RESOLUTIONS}
    for res in RESOLUTIONS:
        here = [tr for tr in main if tr.resolution == res]
        if design == "choice":
            for tr in here:
                classes = [BY_ID[i].image_class for i in tr.image_ids]
                assert classes[tr.odd_position] == "real" and classes.count("real") == 1 and len(classes) == 3
                assert len({BY_ID[i].resolution for i in tr.image_ids}) == 1
        else:
            synthetic = sum(BY_ID[tr.image_ids[0]].image_class == "synthetic" for tr in here)
            assert synthetic == round(t * fraction)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 4), k=st.integers(1, 3), study_seed=st.integers(0, 2**48),
       reader_seed=st.integers(0, 2**48), reader_index=st.integers(0, 5))
def test_forced_choice_positions_are_balanced_per_resolution_and_differ_between_readers(
        n, k, study_seed, reader_seed, reader_index):
    spec = ScheduleSpec(design="choice", alternatives=n, resolutions=(32, 64), trials_per_resolution=n * k)
    pool = make_pool(n_sources=80, resolutions=(32, 64))
    trials = schedule_trials(pool, spec, reader_seed, study_seed=study_seed, reader_index=reader_index)
    for res in spec.resolutions:
        assert Counter(t.odd_position for t in trials if t.resolution == res) == {p: k for p in range(n)}


def test_the_reader_seed_decides_the_positions_and_the_study_seed_the_images():
    spec = ScheduleSpec(design="choice", alternatives=3, resolutions=(32, 64), trials_per_resolution=12)
    pool = make_pool(n_sources=80, resolutions=(32, 64))
    by_id = {r.id: r for r in pool}
    first, second = (schedule_trials(pool, spec, seed, study_seed=7, reader_index=0) for seed in (1, 2))

    def cases(trials):  # the odd image with its foils, whatever their positions
        return {(t.image_ids[t.odd_position], frozenset(t.image_ids)) for t in trials}

    def positions(trials):
        return {t.image_ids[t.odd_position]: t.odd_position for t in trials}

    assert cases(first) == cases(second)
    assert positions(first) != positions(second)
    assert [t.image_ids for t in first] != [t.image_ids for t in second]
    other_study = schedule_trials(pool, spec, 1, study_seed=8, reader_index=0)
    assert cases(other_study) != cases(first)
    assert all(len({by_id[i].resolution for i in t.image_ids}) == 1 for t in first)


def test_forced_choice_foils_share_the_odd_images_label_and_are_the_same_for_every_reader():
    spec = ScheduleSpec(design="choice", alternatives=3, resolutions=RESOLUTIONS, trials_per_resolution=6)
    schedules = [schedule_trials(LABELLED, spec, 100 + i, study_seed=3, reader_index=i) for i in range(6)]
    for trials in schedules:
        for t in trials:
            assert len({LABELLED_BY_ID[i].label for i in t.image_ids}) == 1
    for i in range(3):
        assert main_sets(schedules[i], LABELLED_BY_ID) == main_sets(schedules[i + 3], LABELLED_BY_ID)


@settings(max_examples=30, deadline=None)
@given(design=designs, practice=st.integers(1, 8), study_seed=st.integers(0, 2**48),
       reader_index=st.integers(0, 8))
def test_practice_comes_from_sources_no_reader_reads_in_the_main_trials(design, practice, study_seed, reader_index):
    spec = spec_for(design, 4, practice_trials=practice)
    every_main = set()
    for index in range(len(RESOLUTIONS)):
        every_main |= {source(x) for t in schedule_trials(POOL, spec, index, study_seed=study_seed,
                                                          reader_index=index)
                       if t.kind == "main" for x in t.image_ids}
    trials = schedule_trials(POOL, spec, 99, study_seed=study_seed, reader_index=reader_index)
    practice_sources = [source(i) for t in trials if t.kind == "practice" for i in t.image_ids]
    assert [t.kind for t in trials[:practice]] == ["practice"] * practice
    assert practice_sources and not set(practice_sources) & every_main
    assert len(practice_sources) == len(set(practice_sources))


@settings(max_examples=20, deadline=None)
@given(design=designs, catch=st.integers(1, 6), repeats=st.integers(1, 4), seed=st.integers(0, 2**48))
def test_catch_and_repeated_trials_keep_their_guarantees(design, catch, repeats, seed):
    spec = spec_for(design, 4, catch_trials=catch, repeat_trials=repeats, practice_trials=2)
    trials = schedule_trials(POOL, spec, seed, study_seed=seed // 2, reader_index=seed % 5)
    kinds = Counter(t.kind for t in trials)
    assert kinds["catch"] == catch and kinds["repeat"] == repeats and kinds["main"] == 4 * len(RESOLUTIONS)
    first_main = next(i for i, t in enumerate(trials) if t.kind != "practice")
    assert trials[first_main].kind == "main"
    for i, t in enumerate(trials):
        synthetic_roles = {BY_ID[x].role for x in t.image_ids if BY_ID[x].image_class == "synthetic"}
        if t.kind == "catch":
            assert synthetic_roles == {"catch"}
        else:
            assert "catch" not in {BY_ID[x].role for x in t.image_ids}
        if t.kind == "repeat":
            original = trials[t.repeat_of]
            assert original.kind == "main" and original.image_ids == t.image_ids and t.repeat_of < i - 1
            assert original.odd_position == t.odd_position


@settings(max_examples=20, deadline=None)
@given(design=designs, seed=st.integers(0, 2**48), study_seed=st.integers(0, 2**48), index=st.integers(0, 9))
def test_the_same_inputs_give_the_same_schedule(design, seed, study_seed, index):
    spec = spec_for(design, 4, practice_trials=2, catch_trials=2, repeat_trials=2, exposure_levels=(100, 300))
    once = schedule_trials(POOL, spec, seed, study_seed=study_seed, reader_index=index)
    assert once == schedule_trials(list(reversed(POOL)), spec, seed, study_seed=study_seed, reader_index=index)


def test_fully_crossed_every_reader_reads_one_source_group_at_every_resolution():
    spec = ScheduleSpec(resolutions=RESOLUTIONS, trials_per_resolution=6, allow_source_repeat=True, practice_trials=4)
    schedules = [schedule_trials(POOL, spec, 10 + i, study_seed=5, reader_index=i) for i in range(4)]
    sources = [main_sources(trials) for trials in schedules]
    group = sources[0][RESOLUTIONS[0]]
    assert len(group) == 6
    assert all(s == {res: group for res in RESOLUTIONS} for s in sources)
    for trials in schedules:
        for res in RESOLUTIONS:  # once per resolution, never twice at one
            here = [source(i) for t in trials if t.kind == "main" and t.resolution == res for i in t.image_ids]
            assert len(here) == len(set(here))
        practice = {source(i) for t in trials if t.kind == "practice" for i in t.image_ids}
        assert practice and not practice & group


def test_only_sources_with_an_image_at_every_resolution_are_used():
    pool = make_pool(n_sources=40, resolutions=RESOLUTIONS)
    # Half the real sources lack their 128 px image.
    missing = {f"real-{s}" for s in range(20)}
    pool = [r for r in pool if not (r.source_id in missing and r.resolution == 128)]
    spec = ScheduleSpec(resolutions=RESOLUTIONS, trials_per_resolution=4)
    for i in range(3):
        trials = schedule_trials(pool, spec, i, study_seed=1, reader_index=i)
        assert not {ref.source_id for ref in pool if ref.id in {x for t in trials for x in t.image_ids}} & missing


def test_a_pool_too_small_for_a_shared_case_set_names_what_is_needed_and_what_there_is():
    pool = make_pool(n_sources=80, resolutions=(32, 64, 128, 256))
    spec = ScheduleSpec(resolutions=(32, 64, 128, 256), trials_per_resolution=50)
    message = ("Shared case set: 4 resolutions x 25 real images need 100 real sources with images at every "
               "resolution; the pool has 80.")
    with pytest.raises(ScheduleError, match=message.replace(".", r"\.")):
        schedule_trials(pool, spec, 1)
    with pytest.raises(ScheduleError, match="4 resolutions x 25 real images"):
        check_supply(pool, spec)
    crossed = ScheduleSpec(resolutions=(32, 64), trials_per_resolution=200, allow_source_repeat=True)
    with pytest.raises(ScheduleError, match="100 real images read at every resolution need 100 real sources"):
        check_supply(pool, crossed)
    choice = ScheduleSpec(design="choice", alternatives=4, resolutions=(32, 64), trials_per_resolution=20)
    with pytest.raises(ScheduleError, match="2 resolutions x 20 trials x 3 synthetic foils need 120 synthetic"):
        check_supply(pool, choice)


def test_check_supply_refuses_what_practice_catch_or_repeats_cannot_have_and_accepts_what_fits():
    pool = make_pool(n_sources=12, resolutions=(32, 64))
    check_supply(pool, ScheduleSpec(resolutions=(32, 64), trials_per_resolution=8, practice_trials=8))
    with pytest.raises(ScheduleError, match="5 practice trials need 3 real sources outside the main case set"):
        check_supply(pool, ScheduleSpec(resolutions=(32, 64), trials_per_resolution=10, practice_trials=5))
    with pytest.raises(ScheduleError, match="too few catch images"):
        check_supply(pool, ScheduleSpec(resolutions=(32, 64), trials_per_resolution=4, catch_trials=1))
    with pytest.raises(ScheduleError, match="repeated trials"):
        check_supply(pool, ScheduleSpec(resolutions=(32, 64), trials_per_resolution=1, repeat_trials=2))
    labelled = make_pool(n_sources=12, resolutions=(32,), labels=12)  # no two sources of a class share a label
    with pytest.raises(ScheduleError, match="labelled 'L"):
        check_supply(labelled, ScheduleSpec(design="choice", alternatives=3, resolutions=(32,),
                                            trials_per_resolution=2))


def test_the_reader_group_repeats_every_m_readers_for_any_resolution_order():
    spec_sorted = ScheduleSpec(resolutions=(32, 64, 128), trials_per_resolution=4)
    spec_unsorted = ScheduleSpec(resolutions=(128, 32, 64), trials_per_resolution=4)
    for i in range(3):
        a = schedule_trials(POOL, spec_sorted, i, study_seed=2, reader_index=i)
        b = schedule_trials(POOL, spec_unsorted, i, study_seed=2, reader_index=i)
        assert main_sets(a) == main_sets(b)


def test_eligibility_ignores_a_source_id_shared_by_both_classes():
    pool = make_pool(n_sources=10, resolutions=(32,))
    clash = [ImageRef(10_000, "real-0", "synthetic", 32)]  # a malformed pool: one source in two classes
    spec = ScheduleSpec(resolutions=(32,), trials_per_resolution=20)
    with pytest.raises(ScheduleError, match="1 resolution x 10 real images need 10 real sources .*the pool has 9"):
        schedule_trials(pool + clash, spec, 1)
