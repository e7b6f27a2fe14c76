"""How well one feature of what a reader receives predicts the truth, against what chance allows.

A reader (or a script) who learns a rule on some trials and applies it to others is what blinding must
defeat, so every classifier here is scored on trials it was not fitted on: the trials are split in two
folds (by group, so an image shown twice never sits in both), fitted on one, scored on the other, and
the other way round. A held-out prediction made without real information is right with probability at
most the majority class's share p0, so its accuracy over n trials stays below

    p0 + Z * sqrt(p0 * (1 - p0) / n)

but for about one run in 2,000 (Z = 3.3, one-sided). Two kinds of classifier:

- lookup: one answer per value of the feature (for categorical things: a hash, a key set, a header);
  a value never seen in fitting gets the fitted majority class;
- threshold: one cut on a number and a direction, optionally one per stratum (per resolution, say).

And for forced choice, rules that pick one of a trial's images (the smallest file, the one whose layout
differs), credited 1/k when k images tie, against the chance 1/m of finding the odd one among m.
"""
from __future__ import annotations

import hashlib
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

Z = 3.3


@dataclass(frozen=True)
class Verdict:
    feature: str
    accuracy: float
    chance: float
    bound: float
    n: int

    @property
    def leaks(self) -> bool:
        return self.n > 0 and self.accuracy > self.bound

    def __str__(self) -> str:
        flag = "LEAKS" if self.leaks else "ok"
        return (f"{self.feature}: accuracy {self.accuracy:.3f} over {self.n} "
                f"(chance {self.chance:.3f}, bound {self.bound:.3f}) {flag}")


def bound(chance: float, n: int, z: float = Z) -> float:
    return chance + z * math.sqrt(chance * (1 - chance) / n) if n else 1.0


def digest(value) -> str:
    """A short, stable name for any value (repr of sorted structures)."""
    return hashlib.sha256(repr(value).encode()).hexdigest()[:12]


def folds(groups: Sequence[Hashable], seed: int = 0) -> list[int]:
    """0 or 1 for each item, the same for every item of a group, about half the groups each."""
    unique = sorted(set(groups), key=repr)
    random.Random(seed).shuffle(unique)
    side = {group: i % 2 for i, group in enumerate(unique)}
    return [side[g] for g in groups]


def _majority(labels: Sequence[Hashable]) -> Hashable:
    counts = Counter(labels)
    return max(sorted(counts, key=repr), key=lambda label: counts[label])


def _fit_lookup(values, labels) -> Callable:
    by_value: dict = defaultdict(list)
    for value, label in zip(values, labels):
        by_value[value].append(label)
    table = {value: _majority(group) for value, group in by_value.items()}
    fallback = _majority(labels)
    return lambda value: table.get(value, fallback)


def _fit_threshold(values, labels) -> Callable:
    """The single cut (and direction, and pair of classes) with the best accuracy on these trials."""
    fallback = _majority(labels)
    classes = sorted(set(labels), key=repr)
    pairs = sorted(zip(values, labels), key=lambda pair: pair[0])
    total = Counter(labels)
    below: Counter = Counter()
    best, best_rule = total[fallback], (None, fallback, fallback)
    # Sweep the cuts between consecutive distinct values: `below` holds the labels at or under the cut.
    for i, (value, label) in enumerate(pairs):
        below[label] += 1
        if i + 1 < len(pairs) and pairs[i + 1][0] == value:
            continue
        if i + 1 == len(pairs):
            break
        cut = (value + pairs[i + 1][0]) / 2
        for high in classes:
            for low in classes:
                right = total[high] - below[high] + below[low]
                if right > best:
                    best, best_rule = right, (cut, high, low)
    cut, high, low = best_rule
    if cut is None:
        return lambda value: fallback
    return lambda value: high if value > cut else low


def _fit(kind: str, values, labels, strata) -> Callable:
    fit = {"lookup": _fit_lookup, "threshold": _fit_threshold}[kind]
    by_stratum: dict = defaultdict(lambda: ([], []))
    for value, label, stratum in zip(values, labels, strata):
        by_stratum[stratum][0].append(value)
        by_stratum[stratum][1].append(label)
    rules = {stratum: fit(v, l) for stratum, (v, l) in by_stratum.items()}
    fallback = _majority(labels)
    return lambda value, stratum: rules[stratum](value) if stratum in rules else fallback


def predictive_power(feature: str, values: Sequence, labels: Sequence[Hashable], *, kind: str = "lookup",
                     groups: Sequence[Hashable] | None = None, strata: Sequence[Hashable] | None = None,
                     z: float = Z) -> Verdict:
    """Held-out accuracy of the best `kind` classifier from `values` to `labels` (two folds, both ways)."""
    n = len(labels)
    if n < 4:
        return Verdict(feature, 0.0, 1.0, 1.0, 0)
    groups = list(groups) if groups is not None else list(range(n))
    strata = list(strata) if strata is not None else [None] * n
    side = folds(groups)
    right = 0
    for train in (0, 1):
        fitted = [i for i in range(n) if side[i] == train]
        scored = [i for i in range(n) if side[i] != train]
        if not fitted or not scored:
            continue
        rule = _fit(kind, [values[i] for i in fitted], [labels[i] for i in fitted], [strata[i] for i in fitted])
        right += sum(rule(values[i], strata[i]) == labels[i] for i in scored)
    chance = max(Counter(labels).values()) / n
    return Verdict(feature, right / n, chance, bound(chance, n, z), n)


def pick_accuracy(feature: str, trials: Sequence[tuple[Sequence, int]], rule: str, z: float = Z) -> Verdict:
    """How often picking by `rule` finds the odd image; `trials` holds (per-image values, odd position).

    Rules: "smallest", "largest", and "odd one out" (the images whose value fewest images share).
    Every image the rule cannot tell apart from the picked one shares the credit. Chance is the mean of
    1/m over the trials (m images each).
    """
    credit = 0.0
    for values, odd in trials:
        if rule == "smallest":
            chosen = [i for i, v in enumerate(values) if v == min(values)]
        elif rule == "largest":
            chosen = [i for i, v in enumerate(values) if v == max(values)]
        elif rule == "odd one out":
            counts = Counter(values)
            fewest = min(counts.values())
            chosen = [i for i, v in enumerate(values) if counts[v] == fewest]
        else:
            raise ValueError(rule)
        credit += (odd in chosen) / len(chosen)
    n = len(trials)
    chance = sum(1 / len(values) for values, _ in trials) / n if n else 1.0
    return Verdict(f"{feature} ({rule})", credit / n if n else 0.0, chance, bound(chance, n, z), n)
