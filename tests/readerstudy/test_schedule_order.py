"""The order of a schedule tells a reader nothing about classes beyond each resolution's overall ratio.

A block is a round holding an equal share (+-1) of every resolution's trials (interleaved), or one
resolution (blocked); inside a resolution the classes come in random order, with no block balanced by class.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readerstudy.scheduling import ScheduleSpec, schedule_trials

from .test_scheduling import BY_ID, POOL

RESOLUTIONS = (32, 64, 128)


def main_trials(spec: ScheduleSpec, seed: int):
    trials = schedule_trials(POOL, spec, seed, study_seed=seed // 3, reader_index=seed % 3)
    return [(t, BY_ID[t.image_ids[0]].image_class) for t in trials if t.kind == "main"]


def guess(expected_synthetic: float, expected_real: float, seen: list[int], fraction: float) -> str:
    """The class with more left to come: expected in the whole set less what has been seen."""
    synthetic_left, real_left = expected_synthetic - seen[0], expected_real - seen[1]
    if synthetic_left != real_left:
        return "synthetic" if synthetic_left > real_left else "real"
    return "synthetic" if fraction >= 0.5 else "real"


def counting_attacks(spec: ScheduleSpec, seeds: range) -> tuple[float, float]:
    """Accuracy of two counting attackers who know the true class of every trial already answered.

    The block attacker counts the earlier trials of the same resolution in the same block, and predicts the
    class the block still owes (it is told how many trials of that resolution the block holds). The
    resolution attacker counts every earlier trial of the resolution against its overall ratio.
    """
    t, fraction = spec.trials_per_resolution, spec.synthetic_fraction
    n_synthetic = round(t * fraction)
    block_hits = resolution_hits = total = 0
    for seed in seeds:
        main = main_trials(spec, seed)
        share = Counter((trial.block, trial.resolution) for trial, _ in main)
        in_block, in_resolution = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
        for trial, truth in main:
            size = share[(trial.block, trial.resolution)]
            seen_block, seen_resolution = in_block[(trial.block, trial.resolution)], in_resolution[trial.resolution]
            block_hits += guess(size * fraction, size * (1 - fraction), seen_block, fraction) == truth
            resolution_hits += guess(n_synthetic, t - n_synthetic, seen_resolution, fraction) == truth
            total += 1
            for seen in (seen_block, seen_resolution):
                seen[0 if truth == "synthetic" else 1] += 1
    return block_hits / total, resolution_hits / total


def ratio_baseline(t: int, fraction: float) -> float:
    """The resolution attacker's exact expected accuracy when a resolution's classes come in random order.

    What any exact case set gives away, whatever the schedule: predicting from the overall resolution
    ratio and the classes seen so far. Computed over every order of the resolution's trials.
    """
    n_synthetic = round(t * fraction)

    @cache
    def hits(synthetic_left: int, real_left: int) -> float:
        left = synthetic_left + real_left
        if left == 0:
            return 0.0
        seen = [n_synthetic - synthetic_left, (t - n_synthetic) - real_left]
        predicted = guess(n_synthetic, t - n_synthetic, seen, fraction)
        value = 0.0
        if synthetic_left:
            value += synthetic_left / left * ((predicted == "synthetic") + hits(synthetic_left - 1, real_left))
        if real_left:
            value += real_left / left * ((predicted == "real") + hits(synthetic_left, real_left - 1))
        return value

    return hits(n_synthetic, t - n_synthetic) / t


@pytest.mark.parametrize("t, fraction", [(2, 0.5), (6, 0.5), (8, 0.5), (10, 0.5), (12, 0.25)])
@pytest.mark.parametrize("case_set", ["shared", "random"])
def test_a_counting_attacker_does_no_better_than_the_resolution_ratio_allows(t, fraction, case_set):
    spec = ScheduleSpec(resolutions=RESOLUTIONS, trials_per_resolution=t, synthetic_fraction=fraction,
                        case_set=case_set)
    by_block, by_resolution = counting_attacks(spec, range(150))
    baseline = ratio_baseline(t, fraction)
    assert by_block <= baseline + 0.025, (by_block, baseline)
    assert abs(by_resolution - baseline) <= 0.025, (by_resolution, baseline)


def test_the_old_exact_pairs_are_gone():
    # Before, every (block, resolution) of an interleaved schedule held one real and one synthetic image.
    spec = ScheduleSpec(resolutions=RESOLUTIONS, trials_per_resolution=10)
    cells = Counter()
    for seed in range(20):
        pairs = defaultdict(list)
        for trial, truth in main_trials(spec, seed):
            pairs[(trial.block, trial.resolution)].append(truth)
        cells.update(len(set(classes)) == 1 for classes in pairs.values() if len(classes) >= 2)
    assert cells[True] > 0.1 * sum(cells.values()), cells


@pytest.mark.parametrize("t", [4, 8, 10])
def test_classes_come_in_random_order_inside_a_resolution(t):
    # With n of each class in random order, the next trial of a resolution repeats the class with
    # probability (n - 1) / (2n - 1); an order that spreads classes evenly would repeat it far less often.
    spec = ScheduleSpec(resolutions=RESOLUTIONS, trials_per_resolution=t)
    same = pairs = 0
    for seed in range(150):
        last = {}
        for trial, truth in main_trials(spec, seed):
            if trial.resolution in last:
                same += last[trial.resolution] == truth
                pairs += 1
            last[trial.resolution] = truth
    n = t // 2
    assert abs(same / pairs - (n - 1) / (2 * n - 1)) < 0.03


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**48), t=st.integers(1, 30), case_set=st.sampled_from(["shared", "random"]))
def test_each_interleaved_round_holds_an_equal_share_of_every_resolution(seed, t, case_set):
    spec = ScheduleSpec(resolutions=RESOLUTIONS, trials_per_resolution=t, case_set=case_set)
    trials = schedule_trials(POOL, spec, seed)
    main = [tr for tr in trials if tr.kind == "main"]
    blocks = sorted({tr.block for tr in main})
    assert blocks == list(range(1, len(blocks) + 1))
    for res in RESOLUTIONS:
        shares = [sum(tr.block == b and tr.resolution == res for tr in main) for b in blocks]
        assert max(shares) - min(shares) <= 1 and sum(shares) == t
    # The rounds come one after the other.
    assert [tr.block for tr in main] == sorted(tr.block for tr in main)
