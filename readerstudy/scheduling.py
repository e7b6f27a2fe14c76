"""Trial schedules as a pure, seeded, versioned function.

`schedule_trials(images, spec, seed, study_seed=..., reader_index=...)` turns the pool's image list and a
study's design into one reader's ordered trial list. Same inputs, same version -> the same schedule, byte
for byte. Nothing here touches the database: `services.create_reader` stores the result, and the reader's
`schedule_version` with it, so a stored schedule can be re-derived from the reader's seed and version.

Versions (`schedule_trials(..., version=...)` makes any of `SCHEDULE_VERSIONS`; new readers get
`SCHEDULE_VERSION`):
- "2": the practice trials took the resolutions in turn and alternated the class (forced choice: the odd
  image's position) by their place, so with an even number of resolutions each resolution's practice was
  all of one class, the same for every reader. Kept only to re-derive schedules stored with it.
- "3": the practice class and odd position are crossed with the resolution (see the guarantees below).
The shared case set (which sources, which foils, which groups) is the study's, not the reader's: it is the
same in every version, so readers of one study made by different versions read the same images.

Two case sets:
- "shared" (new studies): which sources, of which class, and for forced choice which odd image with which
  foils, comes from the study seed alone, so every reader of a study reads the same images and reader- and
  image-random statistics can be formed. The sources are split into one group per resolution and crossed
  with the resolutions in a Latin square: reader group k = reader_index mod M reads source group g at
  resolution (g + k) mod M (resolutions sorted). At each resolution all readers of one reader group read
  exactly the same images, every source group is read at every resolution across the M reader groups, and
  no reader sees one source at two resolutions. With `allow_source_repeat` the design is fully crossed
  instead: one source group, read at every resolution by every reader. Only sources with an image at every
  study resolution are used. The reader's own seed decides order, forced-choice positions, practice, catch
  and repeat placement.
- "random": the reader's seed picks a random subset of the pool for each reader.

Guarantees (tested with hypothesis in tests/readerstudy/test_scheduling.py and test_schedule_*.py):
- each resolution gets `trials_per_resolution` main trials, with the real/synthetic ratio of the spec;
- unless `allow_source_repeat`, a source image reaches a reader at most once (across resolutions, across
  practice and main trials, and across the images of a forced-choice trial);
- order: blocked = one block per resolution, in random order; interleaved = rounds, each holding an equal
  share (+-1) of every resolution's trials, with the classes in random order (no block is balanced by
  class, so one trial's class tells nothing about another's beyond the resolution's overall ratio);
- forced choice: the odd image's position is balanced across positions per resolution;
- repeated trials copy a main trial (same images, same positions) later in the sequence;
- catch trials (attention checks) use the pool's catch images (obviously synthetic) in place of the
  synthetic images of a trial, are spread through the main trials, and never count as main trials;
- constant stimuli (`exposure_levels`): every level is given equally often (+-1) per resolution and per
  class to the main trials, and likewise to the repeated and to the catch trials, in random order;
- practice: the trials take the resolutions in turn, largest first; one random cycle of the classes (forced
  choice: of the odd image's positions) per reader runs over them grouped by resolution, so each resolution
  and the practice as a whole get each class (position) equally often (+-1), and across readers the class
  (position) at any resolution is each one with equal chance: practice feedback teaches no rule like
  "small means synthetic". With an odd number, which class gets the extra trial is random too.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field

SCHEDULE_VERSION = "3"
SCHEDULE_VERSIONS = ("2", "3")
SHARED_CASE_SET_VERSION = "2"  # the study's case set is drawn the same way in every version
CLASSES = ("real", "synthetic")
CASE_SETS = ("shared", "random")
MAX_TRIALS_PER_RESOLUTION = 1000
MAX_PRACTICE_TRIALS = 200
MAX_REPEAT_TRIALS = 500
MAX_CATCH_TRIALS = 500
ROUND_SHARE = 4  # interleaved order: about this many trials of each resolution per round


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
    case_set: str = "shared"
    exposure_levels: tuple[int, ...] = ()  # constant stimuli; empty = the study's own exposure, if any


@dataclass(frozen=True)
class PlannedTrial:
    kind: str
    resolution: int
    image_ids: tuple[int, ...]
    odd_position: int | None = None
    block: int = 0
    repeat_of: int | None = None
    exposure_ms: int | None = None


@dataclass(eq=False)  # a trial is itself: list.index finds it by identity, fast
class _Draft:
    kind: str
    resolution: int
    images: tuple[ImageRef, ...]
    odd_position: int | None = None
    block: int = 0
    repeat_of: "_Draft | None" = None
    exposure_ms: int | None = None

    @property
    def truth(self) -> str:
        return self.images[self.odd_position or 0].image_class


def _other(image_class: str) -> str:
    return "synthetic" if image_class == "real" else "real"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# ----------------------------------------------------------------------------- random case set

class _SourceBank:
    """Shuffled images per class and resolution; hands each source out once unless repeats are allowed."""

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
                f"The pool has too few {kind} images at {resolution} px for the {what}: {n} needed, "
                f"{len(taken)} left unused of {available}"
                + ("" if self.allow_repeat else " (each source image is shown to a reader at most once)")
                + f". Add at least {n - len(taken)} more {kind} images at {resolution} px to the pool, "
                "or use fewer trials or fewer resolutions."
            )
        return taken


def _choice_trial(bank: _SourceBank, spec: ScheduleSpec, res: int, position: int, kind: str,
                  exclude: set[str], what: str = "") -> _Draft:
    """One odd image at `position` among n-1 of the other class, all at one resolution (and one label).

    In a catch trial the synthetic side comes from the pool's catch images, so the answer is obvious.
    """
    other = _other(spec.odd_class)
    role = {cls: ("catch" if kind == "catch" and cls == "synthetic" else "main") for cls in CLASSES}
    what = what or f"{kind} forced-choice trials"
    odd = bank.take(spec.odd_class, res, 1, exclude=exclude, what=what, role=role[spec.odd_class])[0]
    others = bank.take(other, res, spec.alternatives - 1, label=None if kind == "catch" else (odd.label or None),
                       exclude=exclude | {odd.source_id}, what=what, role=role[other])
    images = list(others)
    images.insert(position, odd)
    return _Draft(kind, res, tuple(images), odd_position=position)


def _random_main_trials(bank: _SourceBank, spec: ScheduleSpec, rng: random.Random) -> dict[int, list[_Draft]]:
    per_resolution: dict[int, list[_Draft]] = {}
    resolutions = sorted(spec.resolutions)
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


# ----------------------------------------------------------------------------- shared case set

@dataclass(eq=False)
class _Source:
    """One source image of one class with its rendition at every study resolution."""

    source_id: str
    image_class: str
    label: str
    at: dict[int, ImageRef] = field(repr=False)


class _Deck:
    """The sources of one class in a seeded random order, each dealt once; by label on request."""

    def __init__(self, sources: list[_Source], rng: random.Random):
        self.order = rng.sample(sources, len(sources))
        self.by_label: dict[str, list[_Source]] = defaultdict(list)
        for source in self.order:
            self.by_label[source.label].append(source)
        self.cursor: dict[str | None, int] = defaultdict(int)
        self.dealt: set[str] = set()

    def deal(self, n: int, label: str | None = None) -> list[_Source]:
        """Up to n undealt sources (with `label`, when given); fewer only when the deck runs out."""
        sequence = self.order if label is None else self.by_label.get(label, [])
        dealt: list[_Source] = []
        i = self.cursor[label]
        while len(dealt) < n and i < len(sequence):
            source = sequence[i]
            i += 1
            if source.source_id not in self.dealt:
                dealt.append(source)
                self.dealt.add(source.source_id)
        self.cursor[label] = i
        return dealt

    def left(self) -> list[_Source]:
        return [s for s in self.order if s.source_id not in self.dealt]


def _eligible_sources(images: list[ImageRef], resolutions: list[int]) -> dict[str, list[_Source]]:
    """Per class, the main-role sources with an image of that one class at every study resolution."""
    renditions: dict[str, dict[int, ImageRef]] = defaultdict(dict)
    classes: dict[str, set[str]] = defaultdict(set)
    for ref in sorted(images, key=lambda i: (i.source_id, i.resolution, i.id)):
        if ref.role == "main":
            classes[ref.source_id].add(ref.image_class)
            renditions[ref.source_id].setdefault(ref.resolution, ref)
    eligible: dict[str, list[_Source]] = {cls: [] for cls in CLASSES}
    for source_id, at in sorted(renditions.items()):
        (image_class, *mixed) = classes[source_id]
        if mixed or image_class not in eligible or not all(res in at for res in resolutions):
            continue
        eligible[image_class].append(
            _Source(source_id, image_class, at[resolutions[0]].label, {res: at[res] for res in resolutions}))
    return eligible


def _short_of(spec: ScheduleSpec, groups: int, shortfalls: list[tuple[str, int, str, int]]) -> str:
    """What a shared case set needs of each class the pool is short of, and how many more sources that is.

    Each shortfall is (what one group reads, sources needed, class, sources the pool has).
    """
    needs, more = [], []
    for per_group, need, image_class, available in shortfalls:
        layout = (f"{per_group} read at every resolution" if spec.allow_source_repeat
                  else f"{_plural(groups, 'resolution')} x {per_group}")
        needs.append(f"{layout} need {need} {image_class} sources with images at every resolution; "
                     f"the pool has {available}.")
        more.append(f"{need - available} more {image_class}")
    return (f"Shared case set: {' '.join(needs)} Add {' and '.join(more)} sources to the pool (each with images "
            "at every resolution), or use fewer trials per resolution or fewer resolutions.")


def _shared_case_set(eligible: dict[str, list[_Source]], spec: ScheduleSpec,
                     study_seed: int) -> tuple[list[list[tuple[_Source, ...]]], list[_Source]]:
    """The study's source groups (one per resolution, or one when fully crossed) and the sources left over.

    Each case is the sources of one main trial: one source, or the odd source followed by its foils.
    """
    rng = random.Random(f"mirage-schedule-v{SHARED_CASE_SET_VERSION}:study:{study_seed}")
    decks = {cls: _Deck(eligible[cls], rng) for cls in CLASSES}
    n_groups = 1 if spec.allow_source_repeat else len(spec.resolutions)
    t = spec.trials_per_resolution
    groups: list[list[tuple[_Source, ...]]] = []
    if spec.design == "choice":
        odd_class, other, foils = spec.odd_class, _other(spec.odd_class), spec.alternatives - 1
        shortfalls = []
        for cls, per_group in ((odd_class, f"{_plural(t, 'trial')} with 1 odd {odd_class} image"),
                               (other, f"{_plural(t, 'trial')} x {_plural(foils, f'{other} foil')}")):
            need = n_groups * t * (1 if cls == odd_class else foils)
            if len(eligible[cls]) < need:
                shortfalls.append((per_group, need, cls, len(eligible[cls])))
        if shortfalls:
            raise ScheduleError(_short_of(spec, n_groups, shortfalls))
        for _ in range(n_groups):
            cases = []
            for _ in range(t):
                (odd,) = decks[odd_class].deal(1)
                found = decks[other].deal(foils, label=odd.label or None)
                if len(found) < foils:
                    labelled = len(decks[other].by_label.get(odd.label, []))
                    raise ScheduleError(
                        f"Shared case set: each forced-choice trial shows {_plural(foils, f'{other} foil')} with "
                        f"the odd image's label, and the pool has too few {other} sources labelled "
                        f"{odd.label!r} with images at every resolution ({labelled} in all). Use fewer trials "
                        "per resolution, fewer resolutions, or a larger pool.")
                cases.append((odd, *found))
            groups.append(cases)
    else:
        n_syn = round(t * spec.synthetic_fraction)
        need = {"synthetic": n_syn, "real": t - n_syn}
        shortfalls = [(_plural(need[cls], f"{cls} image"), n_groups * need[cls], cls, len(eligible[cls]))
                      for cls in CLASSES if len(eligible[cls]) < n_groups * need[cls]]
        if shortfalls:
            raise ScheduleError(_short_of(spec, n_groups, shortfalls))
        groups = [[(source,) for cls in CLASSES for source in decks[cls].deal(need[cls])] for _ in range(n_groups)]
    return groups, decks["real"].left() + decks["synthetic"].left()


def _check_practice_supply(left: list[_Source], spec: ScheduleSpec, version: str) -> None:
    """Shared practice images come from the sources no reader reads in the main trials."""
    p = spec.practice_trials
    if spec.design == "choice":
        need = {spec.odd_class: p, _other(spec.odd_class): p * (spec.alternatives - 1)}
    elif version == "2":
        need = {"real": (p + 1) // 2, "synthetic": p // 2}  # practice alternated, real first
    else:
        need = {cls: (p + 1) // 2 for cls in CLASSES}  # either class may get the odd one out
    for cls in CLASSES:
        available = sum(source.image_class == cls for source in left)
        if available < need[cls]:
            raise ScheduleError(
                f"Shared case set: {_plural(p, 'practice trial')} need {need[cls]} {cls} sources outside the "
                f"main case set, with images at every resolution; the pool has {available} left. Add "
                f"{need[cls] - available} more {cls} sources to the pool (each with images at every "
                "resolution), or use fewer practice or main trials.")


def _shared_main_trials(groups: list[list[tuple[_Source, ...]]], spec: ScheduleSpec, rng: random.Random,
                        reader_index: int) -> dict[int, list[_Draft]]:
    """Reader group k reads source group g at resolution (g + k) mod M: at resolution i, group (i - k) mod M."""
    resolutions = sorted(spec.resolutions)
    k = reader_index % len(resolutions)
    per_resolution: dict[int, list[_Draft]] = {}
    for i, res in enumerate(resolutions):
        cases = groups[0] if len(groups) == 1 else groups[(i - k) % len(resolutions)]
        if spec.design == "choice":
            positions = [j % spec.alternatives for j in range(len(cases))]
            rng.shuffle(positions)
            drafts = []
            for (odd, *foils), position in zip(cases, positions):
                images = [source.at[res] for source in foils]
                rng.shuffle(images)
                images.insert(position, odd.at[res])
                drafts.append(_Draft("main", res, tuple(images), odd_position=position))
        else:
            drafts = [_Draft("main", res, (source.at[res],)) for (source,) in cases]
        per_resolution[res] = drafts
    return per_resolution


# ----------------------------------------------------------------------------- practice, catch, order

def _practice_trials(bank: _SourceBank, spec: ScheduleSpec, rng: random.Random, what: str,
                     version: str) -> list[_Draft]:
    """Practice images come from sources the reader will not see in the main trials.

    The trials take the resolutions in turn, largest first. Their classes (forced choice: odd positions)
    come from one random cycle run over them grouped by resolution, so no resolution's practice is all of
    one class. Version "2" alternated them by place instead, which tied them to the resolution.
    """
    main_sources = set(bank.used)
    resolutions = sorted(spec.resolutions, reverse=True)
    slots = [resolutions[i % len(resolutions)] for i in range(spec.practice_trials)]
    choices = tuple(range(spec.alternatives)) if spec.design == "choice" else CLASSES
    if version == "2":
        labels = [choices[i % len(choices)] for i in range(len(slots))]
    else:
        slots.sort(reverse=True)
        cycle = rng.sample(choices, len(choices))
        labels = [cycle[j % len(cycle)] for j in range(len(slots))]
    drafts: list[_Draft] = []
    for res, label in zip(slots, labels):
        if spec.design == "choice":
            drafts.append(_choice_trial(bank, spec, res, label, "practice", main_sources,
                                        what=f"forced-choice {what}"))
        else:
            refs = bank.take(label, res, 1, exclude=main_sources, what=what)
            drafts.append(_Draft("practice", res, tuple(refs)))
    rng.shuffle(drafts)
    return drafts


def _catch_trials(bank: _SourceBank, spec: ScheduleSpec, rng: random.Random) -> list[_Draft]:
    """Attention checks from the pool's catch images, at the study's resolutions in turn."""
    if not spec.catch_trials:
        return []
    drafts: list[_Draft] = []
    resolutions = sorted(spec.resolutions)
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
    """Blocked: one block per resolution. Interleaved: rounds with an equal share (+-1) of every resolution.

    Inside a resolution the trials are in random order, classes included: no block is balanced by class,
    so knowing one trial's class says nothing about its neighbours' beyond the resolution's ratio.
    """
    ordered: list[_Draft] = []
    resolutions = sorted(per_resolution)
    shuffled = {res: rng.sample(per_resolution[res], len(per_resolution[res])) for res in resolutions}
    if spec.order == "blocked":
        rng.shuffle(resolutions)
        for block, res in enumerate(resolutions, start=1):
            for d in shuffled[res]:
                d.block = block
            ordered.extend(shuffled[res])
        return ordered
    rounds = max(1, math.ceil(spec.trials_per_resolution / ROUND_SHARE))
    members: list[list[_Draft]] = [[] for _ in range(rounds)]
    for res in resolutions:
        drafts = shuffled[res]
        sizes = [len(drafts) // rounds + (r < len(drafts) % rounds) for r in range(rounds)]
        rng.shuffle(sizes)  # which rounds hold one more is random too
        start = 0
        for r, size in enumerate(sizes):
            members[r].extend(drafts[start:start + size])
            start += size
    for block, drafts in enumerate(members, start=1):
        rng.shuffle(drafts)
        for d in drafts:
            d.block = block
        ordered.extend(drafts)
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


def _assign_exposures(sequence: list[_Draft], levels: tuple[int, ...], rng: random.Random) -> None:
    """Constant stimuli: each level equally often (+-1) per resolution and per class, in random order.

    Per kind (main, repeat, catch) and resolution, one random cycle through the levels runs over the trials
    of one class and then on over the other's: each class, and the resolution as a whole, gets a contiguous
    stretch of the cycle, so no level is given more than once more than any other.
    """
    if not levels:
        return
    for kind in ("main", "repeat", "catch"):
        for res in sorted({d.resolution for d in sequence}):
            cell = [d for d in sequence if d.kind == kind and d.resolution == res]
            ordered = []
            for cls in CLASSES:
                ordered.extend(rng.sample([d for d in cell if d.truth == cls],
                                          sum(d.truth == cls for d in cell)))
            cycle = rng.sample(levels, len(levels))
            for j, draft in enumerate(ordered):
                draft.exposure_ms = cycle[j % len(cycle)]


# ----------------------------------------------------------------------------- entry points

def validate_spec(spec: ScheduleSpec) -> None:
    if spec.design not in ("single", "choice", "rating"):
        raise ScheduleError(f"Unknown design {spec.design!r}: use single, choice or rating.")
    if spec.case_set not in CASE_SETS:
        raise ScheduleError(f"Unknown case set {spec.case_set!r}: use shared or random.")
    if not spec.resolutions:
        raise ScheduleError("Choose at least one resolution.")
    if len(set(spec.resolutions)) != len(spec.resolutions):
        raise ScheduleError("Give each resolution once.")
    if not 1 <= spec.trials_per_resolution <= MAX_TRIALS_PER_RESOLUTION:
        raise ScheduleError(f"Trials per resolution are 1 to {MAX_TRIALS_PER_RESOLUTION:,}.")
    for name, top in (("practice_trials", MAX_PRACTICE_TRIALS), ("repeat_trials", MAX_REPEAT_TRIALS),
                      ("catch_trials", MAX_CATCH_TRIALS)):
        if not 0 <= getattr(spec, name) <= top:
            raise ScheduleError(f"{name.replace('_', ' ').capitalize()} are 0 to {top:,}.")
    if spec.design == "choice" and not 2 <= spec.alternatives <= 4:
        raise ScheduleError("A forced-choice trial shows 2 to 4 images.")
    if not 0.0 <= spec.synthetic_fraction <= 1.0:
        raise ScheduleError("The synthetic fraction is between 0 and 1.")
    if spec.order not in ("interleaved", "blocked"):
        raise ScheduleError(f"Unknown order {spec.order!r}: use interleaved or blocked.")
    levels = spec.exposure_levels
    if levels and (not 2 <= len(levels) <= 8 or len(set(levels)) != len(levels)
                   or not all(isinstance(v, int) and v > 0 for v in levels)):
        raise ScheduleError("Constant stimuli take 2 to 8 different exposures, in whole milliseconds.")


def schedule_trials(images: list[ImageRef], spec: ScheduleSpec, seed: int, *, study_seed: int = 0,
                    reader_index: int = 0, version: str = SCHEDULE_VERSION) -> list[PlannedTrial]:
    """One reader's trials, in order: practice first, then main trials with repeats and catch trials mixed in.

    `seed` is the reader's own; `study_seed` chooses a shared case set and `reader_index` (the reader's
    place in the study, from 0) their group in it. A random case set uses `seed` alone. `version` re-derives
    a schedule stored by an earlier version (one of `SCHEDULE_VERSIONS`).
    """
    validate_spec(spec)
    if version not in SCHEDULE_VERSIONS:
        raise ScheduleError(f"Unknown schedule version {version!r}: this scheduler makes versions "
                            f"{', '.join(SCHEDULE_VERSIONS)}.")
    rng = random.Random(f"mirage-schedule-v{version}:{seed}")
    if spec.case_set == "shared":
        groups, left = _shared_case_set(_eligible_sources(images, sorted(spec.resolutions)), spec, study_seed)
        per_resolution = _shared_main_trials(groups, spec, rng, reader_index)
        # Practice and catch trials draw on what no reader of the study reads in the main trials.
        rest = [ref for source in left for ref in source.at.values()] + [i for i in images if i.role == "catch"]
        bank = _SourceBank(rest, rng, allow_repeat=False)
        _check_practice_supply(left, spec, version)
        practice = _practice_trials(bank, spec, rng, "practice trials (outside the shared case set)", version)
    else:
        bank = _SourceBank(images, rng, spec.allow_source_repeat)
        per_resolution = _random_main_trials(bank, spec, rng)
        practice = _practice_trials(bank, spec, rng, "practice trials", version)
    catch = _catch_trials(bank, spec, rng)
    main = _insert_repeats(_order(per_resolution, spec, rng), spec.repeat_trials, rng)
    main = _insert_catch(main, catch, rng)
    _assign_exposures(main, spec.exposure_levels, random.Random(f"mirage-schedule-v{version}:{seed}:exposure"))
    drafts = practice + main
    index_of = {id(d): i for i, d in enumerate(drafts)}
    return [
        PlannedTrial(
            kind=d.kind, resolution=d.resolution, image_ids=tuple(i.id for i in d.images),
            odd_position=d.odd_position, block=d.block,
            repeat_of=index_of[id(d.repeat_of)] if d.repeat_of is not None else None,
            exposure_ms=d.exposure_ms,
        )
        for d in drafts
    ]


def check_supply(images: list[ImageRef], spec: ScheduleSpec, *, study_seed: int = 0) -> None:
    """Raise the ScheduleError a reader of this design on this pool would get, if any.

    Dry-runs one reader of each reader group (indices 0 to M-1), so a design the pool cannot supply is
    refused when it is saved rather than at the first invitation. With labelled forced choice, which odd
    images need foils depends on the study seed: pass the study's own.
    """
    validate_spec(spec)
    for index in range(len(spec.resolutions)):
        schedule_trials(images, spec, index, study_seed=study_seed, reader_index=index)
