"""Trial schedules as a pure, seeded, versioned function.

`schedule_trials(images, spec, seed)` turns the pool's image list and a study's design into one reader's
ordered trial list. Same inputs, same seed, same `SCHEDULE_VERSION` -> the same schedule, byte for byte.
Nothing here touches the database: `services.create_reader` stores the result.

Guarantees (tested with hypothesis in tests/readerstudy/test_scheduling.py):
- each resolution gets `trials_per_resolution` main trials, with the real/synthetic ratio of the spec;
- unless `allow_source_repeat`, a source image reaches a reader at most once (across resolutions, across
  practice and main trials, and across the images of a forced-choice trial);
- classes are balanced inside every block (a block is one resolution when `order == "blocked"`, or one
  round across all resolutions when interleaved);
- forced choice: the odd image's position is balanced across positions per resolution;
- repeated trials copy a main trial (same images, same positions) later in the sequence;
- catch trials (attention checks) use the pool's catch images (obviously synthetic) in place of the
  synthetic images of a trial, are spread through the main trials, and never count as main trials.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

SCHEDULE_VERSION = "1"
CLASSES = ("real", "synthetic")


class ScheduleError(ValueError):
    """The pool cannot supply the design; the message says what is missing."""


@dataclass(frozen=True)
class ImageRef:
    id: int
    source_id: str
    image_class: str
    resolution: int
    label: str = ""
    role: str = "main"


@dataclass(frozen=True)
class ScheduleSpec:
    design: str = "single"
    resolutions: tuple[int, ...] = (32, 64, 128, 256)
    trials_per_resolution: int = 10
    synthetic_fraction: float = 0.5
    alternatives: int = 2
    odd_class: str = "real"
    allow_source_repeat: bool = False
    order: str = "interleaved"
    practice_trials: int = 0
    repeat_trials: int = 0
    catch_trials: int = 0


@dataclass(frozen=True)
class PlannedTrial:
    kind: str
    resolution: int
    image_ids: tuple[int, ...]
    odd_position: int | None = None
    block: int = 0
    repeat_of: int | None = None


@dataclass
class _Draft:
    kind: str
    resolution: int
    images: tuple[ImageRef, ...]
    odd_position: int | None = None
    block: int = 0
    repeat_of: "_Draft | None" = None

    @property
    def truth(self) -> str:
        return self.images[self.odd_position or 0].image_class


class _SourceBank:
    """Shuffled sources per class and resolution; hands each source out once unless repeats are allowed."""

    def __init__(self, images: list[ImageRef], rng: random.Random, allow_repeat: bool):
        self.by_key: dict[tuple[str, str, int], list[ImageRef]] = defaultdict(list)
        for image in sorted(images, key=lambda i: (i.role, i.image_class, i.resolution, i.source_id, i.id)):
            self.by_key[(image.role, image.image_class, image.resolution)].append(image)
        for refs in self.by_key.values():
            rng.shuffle(refs)
        self.used: set[str] = set()
        self.used_at: set[tuple[str, int]] = set()
        self.allow_repeat = allow_repeat

    def take(self, image_class: str, resolution: int, n: int, *, label: str | None = None,
             exclude: set[str] = frozenset(), what: str = "trials", role: str = "main") -> list[ImageRef]:
        taken: list[ImageRef] = []
        for ref in self.by_key.get((role, image_class, resolution), []):
            if len(taken) == n:
                break
            seen = (ref.source_id, resolution) in self.used_at if self.allow_repeat else ref.source_id in self.used
            if seen or ref.source_id in exclude:
                continue
            if label is not None and ref.label != label:
                continue
            taken.append(ref)
            self.used.add(ref.source_id)
            self.used_at.add((ref.source_id, resolution))
        if len(taken) < n:
            available = len(self.by_key.get((role, image_class, resolution), []))
            kind = "catch" if role == "catch" else image_class
            raise ScheduleError(
                f"The pool has too few {kind} images at {resolution} px for the {what}: "
                f"{n} more needed, {len(taken)} unused left of {available}"
                + ("" if self.allow_repeat else " (each source image is shown to a reader at most once)")
                + ". Use fewer trials, fewer resolutions, or a larger pool."
            )
        return taken


def _spread(drafts: list[_Draft], rng: random.Random) -> list[_Draft]:
    """Order trials so that each class is spread evenly (random order within each class)."""
    keyed = []
    for cls in CLASSES:
        members = [d for d in drafts if d.truth == cls]
        rng.shuffle(members)
        for rank, draft in enumerate(members):
            keyed.append(((rank + rng.random()) / len(members), draft))
    keyed.sort(key=lambda pair: pair[0])
    return [draft for _, draft in keyed]


def _chunk_size(spec: ScheduleSpec) -> int:
    if spec.design == "choice":
        return min(spec.alternatives, spec.trials_per_resolution)
    fraction = Fraction(spec.synthetic_fraction).limit_denominator(spec.trials_per_resolution)
    return max(1, min(fraction.denominator, spec.trials_per_resolution))


def _choice_trial(bank: _SourceBank, spec: ScheduleSpec, res: int, position: int, kind: str,
                  exclude: set[str]) -> _Draft:
    """One odd image at `position` among n-1 of the other class, all at one resolution (and one label).

    In a catch trial the synthetic side comes from the pool's catch images, so the answer is obvious.
    """
    other = "synthetic" if spec.odd_class == "real" else "real"
    role = {cls: ("catch" if kind == "catch" and cls == "synthetic" else "main") for cls in CLASSES}
    odd = bank.take(spec.odd_class, res, 1, exclude=exclude, what=f"{kind} forced-choice trials",
                    role=role[spec.odd_class])[0]
    others = bank.take(other, res, spec.alternatives - 1, label=None if kind == "catch" else (odd.label or None),
                       exclude=exclude | {odd.source_id}, what=f"{kind} forced-choice trials", role=role[other])
    images = list(others)
    images.insert(position, odd)
    return _Draft(kind, res, tuple(images), odd_position=position)


def _main_trials(bank: _SourceBank, spec: ScheduleSpec, rng: random.Random) -> dict[int, list[_Draft]]:
    per_resolution: dict[int, list[_Draft]] = {}
    resolutions = list(spec.resolutions)
    rng.shuffle(resolutions)  # which resolution draws first from the shared sources is random too
    for res in resolutions:
        t = spec.trials_per_resolution
        drafts: list[_Draft] = []
        if spec.design == "choice":
            positions = [i % spec.alternatives for i in range(t)]
            rng.shuffle(positions)
            drafts = [_choice_trial(bank, spec, res, position, "main", set()) for position in positions]
        else:
            n_syn = round(t * spec.synthetic_fraction)
            for cls, n in (("synthetic", n_syn), ("real", t - n_syn)):
                for ref in bank.take(cls, res, n, what="main trials"):
                    drafts.append(_Draft("main", res, (ref,)))
        per_resolution[res] = drafts
    return per_resolution


def _practice_trials(bank: _SourceBank, spec: ScheduleSpec, rng: random.Random) -> list[_Draft]:
    """Practice images come from sources the reader will not see in the main trials."""
    main_sources = set(bank.used)
    drafts: list[_Draft] = []
    resolutions = sorted(spec.resolutions, reverse=True)
    for i in range(spec.practice_trials):
        res = resolutions[i % len(resolutions)]
        if spec.design == "choice":
            drafts.append(_choice_trial(bank, spec, res, i % spec.alternatives, "practice", main_sources))
        else:
            cls = CLASSES[i % 2]
            refs = bank.take(cls, res, 1, exclude=main_sources, what="practice trials")
            drafts.append(_Draft("practice", res, tuple(refs)))
    rng.shuffle(drafts)
    return drafts


def _catch_trials(bank: _SourceBank, spec: ScheduleSpec, rng: random.Random) -> list[_Draft]:
    """Attention checks from the pool's catch images, at the study's resolutions in turn."""
    if not spec.catch_trials:
        return []
    drafts: list[_Draft] = []
    resolutions = list(spec.resolutions)
    rng.shuffle(resolutions)
    main_sources = set(bank.used)
    for i in range(spec.catch_trials):
        res = resolutions[i % len(resolutions)]
        if spec.design == "choice":
            drafts.append(_choice_trial(bank, spec, res, rng.randrange(spec.alternatives), "catch", main_sources))
        else:
            refs = bank.take("synthetic", res, 1, exclude=main_sources, what="catch trials", role="catch")
            drafts.append(_Draft("catch", res, tuple(refs)))
    return drafts


def _insert_catch(sequence: list[_Draft], catch: list[_Draft], rng: random.Random) -> list[_Draft]:
    sequence = list(sequence)
    for draft in catch:
        position = rng.randint(1, len(sequence))  # never the very first trial
        draft.block = sequence[position - 1].block
        sequence.insert(position, draft)
    return sequence


def _order(per_resolution: dict[int, list[_Draft]], spec: ScheduleSpec, rng: random.Random) -> list[_Draft]:
    ordered: list[_Draft] = []
    if spec.order == "blocked":
        resolutions = list(spec.resolutions)
        rng.shuffle(resolutions)
        for block, res in enumerate(resolutions, start=1):
            drafts = list(per_resolution[res])
            rng.shuffle(drafts)
            for d in drafts:
                d.block = block
            ordered.extend(drafts)
        return ordered
    size = _chunk_size(spec)
    spread = {res: _spread(drafts, rng) if spec.design != "choice" else rng.sample(drafts, len(drafts))
              for res, drafts in per_resolution.items()}
    rounds = math.ceil(spec.trials_per_resolution / size)
    for block in range(rounds):
        members = [d for res in spec.resolutions for d in spread[res][block * size:(block + 1) * size]]
        rng.shuffle(members)
        for d in members:
            d.block = block + 1
        ordered.extend(members)
    return ordered


def _insert_repeats(main: list[_Draft], n: int, rng: random.Random) -> list[_Draft]:
    if n and n > len(main) - 1:
        raise ScheduleError(f"{n} repeated trials asked for, but a reader has only {len(main)} main trials "
                            "(a repeat needs a later place that does not follow its original directly).")
    sequence = list(main)
    for original in rng.sample(main[:-1], n):
        after = sequence.index(original) + 2  # never straight after the original
        position = rng.randint(min(after, len(sequence)), len(sequence))
        copy = _Draft("repeat", original.resolution, original.images, original.odd_position, original.block, original)
        sequence.insert(position, copy)
    return sequence


def validate_spec(spec: ScheduleSpec) -> None:
    if spec.design not in ("single", "choice", "rating"):
        raise ScheduleError(f"Unknown design {spec.design!r}: use single, choice or rating.")
    if not spec.resolutions:
        raise ScheduleError("Choose at least one resolution.")
    if spec.trials_per_resolution < 1:
        raise ScheduleError("Trials per resolution must be at least 1.")
    if spec.design == "choice" and not 2 <= spec.alternatives <= 4:
        raise ScheduleError("A forced-choice trial shows 2 to 4 images.")
    if not 0.0 <= spec.synthetic_fraction <= 1.0:
        raise ScheduleError("The synthetic fraction is between 0 and 1.")
    if spec.order not in ("interleaved", "blocked"):
        raise ScheduleError(f"Unknown order {spec.order!r}: use interleaved or blocked.")


def schedule_trials(images: list[ImageRef], spec: ScheduleSpec, seed: int) -> list[PlannedTrial]:
    """One reader's trials, in order: practice first, then main trials with repeats mixed in."""
    validate_spec(spec)
    rng = random.Random(f"mirage-schedule-v{SCHEDULE_VERSION}:{seed}")
    bank = _SourceBank(images, rng, spec.allow_source_repeat)
    per_resolution = _main_trials(bank, spec, rng)
    practice = _practice_trials(bank, spec, rng)
    catch = _catch_trials(bank, spec, rng)
    main = _insert_repeats(_order(per_resolution, spec, rng), spec.repeat_trials, rng)
    main = _insert_catch(main, catch, rng)
    drafts = practice + main
    index_of = {id(d): i for i, d in enumerate(drafts)}
    return [
        PlannedTrial(
            kind=d.kind, resolution=d.resolution, image_ids=tuple(i.id for i in d.images),
            odd_position=d.odd_position, block=d.block,
            repeat_of=index_of[id(d.repeat_of)] if d.repeat_of is not None else None,
        )
        for d in drafts
    ]
