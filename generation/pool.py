"""Build a blinded image pool from a folder of real and a folder of synthetic images.

Every file, whatever its class, goes through the same decode (generation.decode)
and render (generation.render) code. Workers write PNGs into a staging folder
under a temporary sibling of `out`; the main process then drops duplicates,
shuffles the sources with the seed, draws random ids, moves each PNG to
images/<resolution>/<id>.png, writes manifest.json and rejected.json, and renames
the temporary folder to `out`. An interruption therefore never leaves a partial
pool at `out`, and the same inputs and seed give the same bytes.

An optional third folder holds catch trials (attention checks: obviously fake
images, such as early-training samples). They are decoded and rendered exactly
like the others, are class "synthetic" with ``"role": "catch"`` in the manifest
(every other image has ``"role": "main"``), and are shuffled together with the
rest before ids are drawn, so nothing about an id reveals its role.

A source is anything a job can decode into frames: a file, or a volume (a NIfTI
file or a DICOM series folder, generation.volumes) whose slices are chosen by
the slice rule. All the slices of one volume share its source id, and the
manifest names the volume, the slice and the rule. Labels (generation.labels)
belong to sources too. A generator source (``--synthetic-from CHECKPOINT
--count N``) would add another kind of `Source` and job function, and reuse
everything after decoding.

Two records may sit in the synthetic folder, or beside it in its parent folder
(where `python -m generation sample` writes samples.json next to images/); they
are read, never shown as images:
- flagged.json, written by `python -m generation quality`: the synthetic sources
  flagged as possible copies of training images. They are left out by default
  (`keep_flagged` keeps them; `exclude_flagged` names the file instead), listed
  in rejected.json and recorded under "flagged" in the manifest.
- samples.json, written by `python -m generation sample`: each image's generator,
  checkpoint and seed, carried into the image's "generator" entry once every
  recorded file's sha256 matches (unless `synthetic_meta` is given).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from generation import labels as labels_module
from generation import render as render_module
from generation import volumes
from generation.decode import DecodeError, DecodeOptions, decode_file, make_options, sniff
from generation.manifest import CODE_VERSION, FORMAT, MANIFEST_NAME, REJECTED_NAME
from generation.render import CROP_CHOICES, FILTER_NAME

MAX_RESOLUTION = 4096
CREATED_BY = "python -m generation pool build"
CATCH_GENERATOR = {"name": "catch", "checkpoint": None, "seed": None}
FLAGGED_NAME = "flagged.json"
FLAGGED_FORMAT = "mirage-quality-flagged/1"  # written by generation.quality.report
FLAGGED_REASON = "flagged as a possible copy of a training image"
SAMPLES_NAME = "samples.json"
SAMPLES_FORMAT = "mirage-samples/1"  # written by generation.gan.sample
RECORD_NAMES = (FLAGGED_NAME, SAMPLES_NAME)  # read from the synthetic folder, never listed as images
SHOWN = 5  # names shown in a message
_HEX64 = re.compile(r"[0-9a-f]{64}")


class PoolError(ValueError):
    """The pool cannot be built from these inputs; the message says why."""


@dataclass(frozen=True)
class Source:
    image_class: str  # "real" or "synthetic"
    root: str
    relpath: str  # posix path relative to root
    role: str = "main"  # "main", or "catch" for attention-check images (always synthetic)
    members: tuple[str, ...] = ()  # a DICOM series: its files (relative to root); relpath is its folder
    refusal: str | None = None  # known unusable when listed: the reason

    @property
    def folder(self) -> str:
        """The input folder it came from: "real", "synthetic" or "catch"."""
        return "catch" if self.role == "catch" else self.image_class

    @property
    def name(self) -> str:
        """The input folder and path, as rejected.json and the labels CSV name it: "real/p1/ct.nii.gz"."""
        return f"{self.folder}/{self.relpath}"


@dataclass(frozen=True)
class Job:
    number: int
    source: Source
    staging: str
    options: DecodeOptions
    resolutions: tuple[int, ...]
    crop: str
    rule: volumes.SliceRule = volumes.SliceRule()


@dataclass
class FrameOutcome:
    index: int | None
    pixel_hash: str
    files: dict[int, tuple[str, str]]  # resolution -> (staging name, sha256)


@dataclass
class JobOutcome:
    number: int
    frames: list[FrameOutcome] = field(default_factory=list)
    reason: str | None = None
    slices: int | None = None  # a volume's slice count (its frames are slices); None for a file


@dataclass
class PoolSummary:
    out: Path
    resolutions: list[int]
    # Keys are "real" and "synthetic" (main images only) plus "catch" when the pool has catch images.
    sources: dict[str, int]  # usable source images (frames) per class
    files: dict[str, dict[int, int]]  # class -> resolution -> PNG files written
    rejections: list[dict]  # the entries of rejected.json
    seconds: float
    notes: list[str] = field(default_factory=list)  # what the build read besides the images (flagged.json, ...)

    @property
    def images_per_second(self) -> float:
        return sum(self.sources.values()) / self.seconds if self.seconds > 0 else float("inf")

    def rejections_by_reason(self) -> Counter:
        return Counter(_reason_group(entry["reason"]) for entry in self.rejections)

    def format(self) -> str:
        total_files = sum(sum(per.values()) for per in self.files.values())
        lines = [
            f"Pool written to {self.out} in {self.seconds:.1f} s "
            f"({self.images_per_second:.1f} source images/s, "
            f"{total_files / max(self.seconds, 1e-9):.1f} PNG files/s)",
            "images per class and resolution"
            + (" (catch: attention-check images, class synthetic):" if "catch" in self.files else ":"),
            f"  {'class':<10}" + "".join(f"{size:>7}" for size in self.resolutions),
        ]
        for image_class, per in self.files.items():
            lines.append(f"  {image_class:<10}" + "".join(f"{per[size]:>7}" for size in self.resolutions))
        if self.rejections:
            lines.append(f"rejected {len(self.rejections)} (details in {self.out / REJECTED_NAME}):")
            for reason, count in self.rejections_by_reason().most_common():
                lines.append(f"  {count:>5}  {reason}")
        else:
            lines.append("rejected: none")
        lines += self.notes
        return "\n".join(lines)


def build_pool(
    real_dir,
    synthetic_dir,
    out,
    *,
    resolutions=(32, 64, 128, 256),
    seed=0,
    workers=None,
    crop="center",
    window="auto",
    frames="first",
    color="refuse",
    generator_name=None,
    synthetic_meta=None,
    progress=False,
    created_by=CREATED_BY,
    catch_dir=None,
    slices="middle",
    labels=None,
    labels_from_folders=False,
    exclude_flagged=None,
    keep_flagged=False,
) -> PoolSummary:
    """Decode, render and write a pool; return what was done.

    `synthetic_meta` maps a synthetic file's path relative to `synthetic_dir`
    (posix string) to ``{"generator": {"name": ..., "checkpoint": ..., "seed": ...}}``,
    recorded in the manifest. `catch_dir`, if given, is a folder of catch-trial
    images: rendered like the rest, recorded as class "synthetic" with role
    "catch" and generator ``{"name": "catch", ...}``. `slices` is the rule that picks the
    slices of volumes (generation.volumes). `labels` (a CSV file) or `labels_from_folders`
    give each source its label (generation.labels).

    Flagged copies: `exclude_flagged` names a quality report's flagged.json whose synthetic
    sources are left out; without it, a flagged.json in `synthetic_dir` or beside it (its parent
    folder) is applied; `keep_flagged` keeps them (and records that in the manifest). Recorded
    samples: without `synthetic_meta`, a samples.json there whose folder is `synthetic_dir` gives
    each image its generator and seed. Raises PoolError for unusable input, before writing anything.
    """
    started = time.perf_counter()
    out = Path(out)
    sizes = _check_resolutions(resolutions)
    if crop not in CROP_CHOICES:
        raise PoolError(f"crop must be one of {', '.join(CROP_CHOICES)}, got {crop!r}")
    try:
        options = make_options(window, frames, color)
    except ValueError as exc:
        raise PoolError(str(exc)) from None
    workers = _check_workers(workers)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise PoolError(f"seed must be a whole number, got {seed!r}")
    try:
        rule = volumes.parse_slice_rule(slices)
    except ValueError as exc:
        raise PoolError(str(exc)) from None
    table = _read_labels(labels, labels_from_folders)
    folders = {"real": real_dir, "synthetic": synthetic_dir}
    if catch_dir is not None:
        folders["catch"] = catch_dir
    _check_out(out, [Path(folder) for folder in folders.values()])
    sources = _list_sources("real", Path(real_dir), rule=rule)
    sources += _list_sources("synthetic", Path(synthetic_dir), rule=rule)
    if catch_dir is not None:
        sources += _list_sources("synthetic", Path(catch_dir), role="catch", rule=rule)
    flagged = _flagged_record(Path(synthetic_dir), sources, exclude_flagged, keep_flagged)
    if flagged is not None and flagged.excluded:
        sources = [replace(source, refusal=FLAGGED_REASON) if source.folder == "synthetic"
                   and source.relpath in flagged.sources else source for source in sources]
    samples = None
    if synthetic_meta is None:
        samples = _read_samples(Path(synthetic_dir), sources, generator_name)
        synthetic_meta = samples.meta if samples is not None else None
    generators = _generator_table(sources, generator_name, synthetic_meta or {})
    source_labels = _source_labels(sources, table, labels_from_folders)

    temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        staging = temporary / "staging"
        staging.mkdir()
        jobs = [Job(n, source, str(staging), options, sizes, crop, rule) for n, source in enumerate(sources)]
        outcomes = _run_jobs(jobs, workers, progress)
        kept, rejections = _sort_out(jobs, outcomes)
        _require_usable(kept, rejections, folders)
        if source_labels is not None:
            _require_source_labels(kept, source_labels, table)
        images = _place_files(kept, staging, temporary, sizes, seed, generators, rule, source_labels or {})
        if table is not None and table.key == "source_id":
            _label_by_source_id(images, table)
        shutil.rmtree(staging)
        settings = {"resolutions": list(sizes), "crop": crop, "window": options.window.text,
                    "frames": frames, "seed": seed, "filter": FILTER_NAME, "slices": rule.text,
                    "labels": "folders" if labels_from_folders else ("csv" if table is not None else None)}
        manifest = {"format": FORMAT, "code_version": CODE_VERSION, "created_by": created_by,
                    "settings": settings,
                    "flagged": flagged.manifest_entry() if flagged is not None else None,
                    "samples": samples.manifest_entry() if samples is not None else None,
                    "images": images}
        _write_json(temporary / MANIFEST_NAME, manifest)
        _write_json(temporary / REJECTED_NAME, rejections)
        if out.exists():
            raise PoolError(f"{out} appeared while the pool was being built; nothing was written")
        os.rename(temporary, out)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    summary = _summarise(out, sizes, images, rejections, time.perf_counter() - started)
    summary.notes = [record.note() for record in (flagged, samples) if record is not None]
    return summary


# --- checks on the arguments ----------------------------------------------------


def _check_resolutions(resolutions) -> tuple[int, ...]:
    try:
        sizes = sorted({int(size) for size in resolutions})
    except (TypeError, ValueError):
        raise PoolError(f"resolutions must be whole numbers such as 32,64,128, got {resolutions!r}") from None
    if not sizes or sizes[0] < 1 or sizes[-1] > MAX_RESOLUTION:
        raise PoolError(f"resolutions must be between 1 and {MAX_RESOLUTION} pixels, got {resolutions!r}")
    return tuple(sizes)


def _check_workers(workers) -> int:
    if workers is None:
        return os.cpu_count() or 1
    if not isinstance(workers, int) or workers < 1:
        raise PoolError(f"workers must be a positive whole number, got {workers!r}")
    return workers


def _check_out(out: Path, inputs: list[Path]) -> None:
    if out.exists():
        raise PoolError(f"{out} already exists: choose a new --out folder or delete the old pool")
    if not out.parent.is_dir():
        raise PoolError(f"the folder {out.parent} for --out does not exist; create it first")
    resolved = out.resolve()
    for folder in inputs:
        if folder.is_dir() and resolved.is_relative_to(folder.resolve()):
            raise PoolError(f"--out {out} is inside the input folder {folder}; write the pool elsewhere")


def _list_sources(image_class: str, root: Path, role: str = "main",
                  rule: volumes.SliceRule = volumes.SliceRule()) -> list[Source]:
    """Every non-hidden file below `root`, a DICOM series folder as one source, in a fixed (sorted) order.

    Mask files of the slice rule are read with their volume, not listed.
    """
    kind = "catch" if role == "catch" else image_class
    if not root.is_dir():
        raise PoolError(f"the {kind} folder {root} does not exist or is not a folder")
    masks = Path(rule.mask_folder).resolve() if rule.mask_folder else None
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders
                         if not name.startswith(".") and (Path(folder) / name).resolve() != masks]
        names = sorted(name for name in names if not name.startswith(".") and not volumes.is_mask_of_rule(name, rule))
        if kind == "synthetic" and Path(folder) == root:
            names = [name for name in names if name not in RECORD_NAMES]
        found.extend(_folder_sources(image_class, root, Path(folder), names, role))
    if not found:
        raise PoolError(f"the {kind} folder {root} contains no files")
    return sorted(found, key=lambda source: source.relpath)


def _folder_sources(image_class: str, root: Path, folder: Path, names: list[str], role: str) -> list[Source]:
    """The sources of one folder: a DICOM series (two or more slices of one series) as one, the rest one per file."""
    def relative(name: str) -> str:
        return (folder / name).relative_to(root).as_posix()

    series: dict[str, list[str]] = {}
    if len(names) > 1:
        for name in names:
            header = _slice_header(folder / name)
            if header is not None and header.is_slice:
                series.setdefault(header.series_uid, []).append(name)
    series = {uid: members for uid, members in series.items() if len(members) > 1}
    in_series = {name for members in series.values() for name in members}
    sources = []
    for name in names:
        if name in in_series:
            continue
        refusal = None
        if volumes.looks_like_mask(name):
            refusal = ("named like a segmentation mask: masks are read with their volume by --slices "
                       "mask:SUFFIX (such as mask:_seg), not shown as images")
        sources.append(Source(image_class, str(root), relative(name), role, refusal=refusal))
    if series:
        members = tuple(relative(name) for name in sorted(in_series))
        refusal = None
        if len(series) > 1:
            refusal = (f"folder holds {len(series)} DICOM series ({', '.join(sorted(series))}): "
                       "put each series in a folder of its own")
        sources.append(Source(image_class, str(root), folder.relative_to(root).as_posix(), role, members, refusal))
    return sources


def _slice_header(path: Path) -> volumes.SliceHeader | None:
    try:
        if sniff(path) != "dicom":
            return None
    except OSError:
        return None  # decoded alone, and rejected with the reason
    return volumes.read_slice_header(path)


def _read_labels(labels, labels_from_folders: bool) -> labels_module.LabelTable | None:
    if labels is not None and labels_from_folders:
        raise PoolError("give either --labels FILE or --labels-from-folders, not both")
    if labels is None:
        return None
    try:
        return labels_module.read_label_csv(labels)
    except labels_module.LabelError as exc:
        raise PoolError(str(exc)) from None


def _source_labels(sources: list[Source], table, from_folders: bool) -> dict[str, str] | None:
    """Source name ("real/case1.dcm") -> its label, for labels known from the files; None without them."""
    try:
        if from_folders:
            found = {}
            for source in sources:
                label = labels_module.folder_label(source.relpath) if source.role == "main" else None
                if label is not None:
                    found[source.name] = labels_module.check_label(label, f"the folder {source.folder}/{label}")
            return found
        if table is not None and table.key == "file":
            return labels_module.labels_by_file(table, [(source.name, source.relpath) for source in sources])
    except labels_module.LabelError as exc:
        raise PoolError(str(exc)) from None
    return None


def _require_source_labels(kept, source_labels: dict[str, str], table) -> None:
    unlabelled = sorted({source.name for source, _, _ in kept
                         if source.role == "main" and source.name not in source_labels})
    origin = f"the labels file {table.path}" if table is not None else (
        "--labels-from-folders (a source's label is the first folder below --real or --synthetic)")
    try:
        labels_module.require_labels(unlabelled, origin)
    except labels_module.LabelError as exc:
        raise PoolError(str(exc)) from None


def _label_by_source_id(images: list[dict], table) -> None:
    made = {image["source_id"]: image["source"].split("#")[0] for image in images}
    unknown = sorted(set(table.labels) - set(made))
    unlabelled = sorted({f"{image['class']}/{made[image['source_id']]}" for image in images
                         if image["role"] == "main" and image["source_id"] not in table.labels})
    try:
        if unknown:
            raise labels_module.LabelError(
                f"the labels file {table.path} names {len(unknown)} source_id(s) that this build does not make "
                f"({', '.join(unknown[:labels_module.SHOWN])}): take them from the manifest.json of a pool "
                "built from the same folders with the same seed")
        labels_module.require_labels(unlabelled, f"the labels file {table.path}")
    except labels_module.LabelError as exc:
        raise PoolError(str(exc)) from None
    for image in images:
        image["label"] = table.labels.get(image["source_id"])


def _generator_table(sources: list[Source], name, meta: dict) -> dict[str, dict | None]:
    """Generator entry per main synthetic file (relpath); catch images use CATCH_GENERATOR."""
    synthetic = {source.relpath for source in sources if source.folder == "synthetic"}
    unknown = sorted(set(meta) - synthetic)
    if unknown:
        raise PoolError(f"synthetic_meta names files that are not in the synthetic folder: {', '.join(unknown[:5])}")
    table = {}
    for relpath in synthetic:
        given = (meta.get(relpath) or {}).get("generator")
        if given is None and name is None:
            table[relpath] = None
        else:
            table[relpath] = {"name": name or "unnamed", "checkpoint": None, "seed": None, **(given or {})}
    return table


# --- records beside the synthetic images: flagged.json and samples.json ------------------


@dataclass
class FlaggedRecord:
    """A quality report's flagged.json as this build applies it."""

    path: Path
    how: str  # how the file was chosen, for the build's output
    excluded: bool  # False: kept (--keep-flagged)
    sha256: str
    rule: str | None
    entries: dict[str, dict]  # source path below the synthetic folder -> what the report says of it

    @property
    def sources(self) -> set[str]:
        return set(self.entries)

    def manifest_entry(self) -> dict:
        return {"action": "excluded" if self.excluded else "kept", "reason": FLAGGED_REASON,
                "format": FLAGGED_FORMAT, "sha256": self.sha256, "rule": self.rule,
                "sources": [{"source": name, **self.entries[name]} for name in sorted(self.entries)]}

    def note(self) -> str:
        count = len(self.entries)
        if not self.excluded:
            return (f"flagged: kept {count} synthetic source(s) that {self.path} flags as possible copies of "
                    f"training images (--keep-flagged); the manifest lists them under \"flagged\"")
        if not count:
            return f"flagged: {self.path} ({self.how}) flags no synthetic source; nothing was left out"
        return (f"flagged: left out {count} synthetic source(s) flagged as possible copies of training images by "
                f"{self.path} ({self.how}); --keep-flagged keeps them")


@dataclass
class SamplesRecord:
    """A samples.json whose images are the synthetic folder's, checked against the files."""

    path: Path
    sha256: str
    index: dict
    meta: dict[str, dict]  # source path below the synthetic folder -> {"generator": {...}}
    n_synthetic: int

    def manifest_entry(self) -> dict:
        generator = self.index["generator"]
        return {"format": SAMPLES_FORMAT, "sha256": self.sha256, "checkpoint": self.index.get("checkpoint"),
                "generator": {key: generator.get(key) for key in ("kind", "name", "sha256")},
                "seed": self.index.get("seed"), "images": len(self.meta)}

    def note(self) -> str:
        return (f"samples: generator and seed recorded for {len(self.meta)} of {self.n_synthetic} synthetic "
                f"source(s), from {self.path}")


def _record_candidates(synthetic_dir: Path, name: str) -> list[tuple[Path, str]]:
    """`name` in the synthetic folder and in its parent folder, where they exist."""
    places = [(synthetic_dir / name, "found in the synthetic folder"),
              (synthetic_dir.absolute().parent / name, "found beside the synthetic folder")]
    found, seen = [], set()
    for path, how in places:
        if path.is_file() and path.resolve() not in seen:
            seen.add(path.resolve())
            found.append((path, how))
    return found


def _read_record(path: Path, expected: str, what: str, remedy: str) -> tuple[dict, str]:
    """The parsed JSON object of a record file and the file's sha256; PoolError if it is not `expected`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PoolError(f"{path} cannot be read ({exc.strerror or type(exc).__name__}); {remedy}") from None
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoolError(f"{path} is not JSON ({exc}): expected {what}; {remedy}") from None
    found = record.get("format") if isinstance(record, dict) else None
    if found != expected:
        raise PoolError(f"{path} is not {what}: its format is {found!r}, expected {expected!r}; {remedy}")
    return record, hashlib.sha256(data).hexdigest()


def _flagged_record(synthetic_dir: Path, sources: list[Source], given, keep: bool) -> FlaggedRecord | None:
    """The flagged.json to apply: the one given, else one in or beside the synthetic folder, else None."""
    if given is not None and keep:
        raise PoolError("give either --exclude-flagged FILE or --keep-flagged, not both")
    what = "a flagged.json written by `python -m generation quality`"
    if given is not None:
        path, how = Path(given), "given with --exclude-flagged"
        if path.is_dir():
            path = path / FLAGGED_NAME
        if not path.is_file():
            raise PoolError(f"--exclude-flagged {given}: no such file; give the flagged.json in the folder that "
                            "`python -m generation quality --out` wrote")
        remedy = "give the flagged.json of a quality report"
    else:
        found = _record_candidates(synthetic_dir, FLAGGED_NAME)
        if not found:
            return None
        if len(found) > 1:
            raise PoolError(f"both {found[0][0]} and {found[1][0]} exist: name the one to apply with "
                            "--exclude-flagged FILE, or move the other away")
        path, how = found[0]
        remedy = "replace it with a quality report's flagged.json, or move it out of the way"
    record, digest = _read_record(path, FLAGGED_FORMAT, what, remedy)
    rows, rule = record.get("synthetic"), record.get("rule")
    if not isinstance(rows, list) or not all(isinstance(row, dict) and isinstance(row.get("source"), str)
                                             and row["source"] for row in rows):
        raise PoolError(f"{path}: 'synthetic' must be a list of objects that each name a 'source'; {remedy}")
    if rule is not None and not isinstance(rule, str):
        raise PoolError(f"{path}: 'rule' must be a sentence (a string) or null; {remedy}")
    entries: dict[str, dict] = {}
    for row in rows:
        entry = entries.setdefault(row["source"], {})
        for key in ("resolutions", "nearest_training", "shift_tolerant"):
            if isinstance(row.get(key), list):
                entry.setdefault(key, []).extend(row[key])
    synthetic = {source.relpath for source in sources if source.folder == "synthetic"}
    unknown = sorted(set(entries) - synthetic)
    if unknown:
        raise PoolError(
            f"{path} flags {len(unknown)} source(s) that are not in the synthetic folder {synthetic_dir} "
            f"({', '.join(unknown[:SHOWN])}): it was written for other images. Give the flagged.json of a quality "
            f"report on these images (run with --synthetic {synthetic_dir}, or a pool built from it)"
            + ("" if given is not None else ", or move this one out of the way"))
    return FlaggedRecord(path, how, not keep, digest, rule, entries)


def _read_samples(synthetic_dir: Path, sources: list[Source], generator_name) -> SamplesRecord | None:
    """The samples.json of the synthetic folder's images (in the folder or beside it), hashes checked; or None."""
    what = "a samples.json written by `python -m generation sample`"
    remedy = "replace it with the samples.json that `sample` wrote, or move it out of the way"
    for path, _ in _record_candidates(synthetic_dir, SAMPLES_NAME):
        index, digest = _read_record(path, SAMPLES_FORMAT, what, remedy)
        folder = index.get("folder", ".")
        if not isinstance(folder, str):
            raise PoolError(f"{path}: 'folder' must be a path; {remedy}")
        below = os.path.relpath((path.parent / folder).resolve(), synthetic_dir.resolve())
        if path.parent.resolve() != synthetic_dir.resolve() and below != ".":
            continue  # beside the folder, but the record of another folder of images
        if below == ".." or below.startswith(".." + os.sep):
            raise PoolError(f"{path} records the images of {path.parent / folder}, not of the synthetic folder "
                            f"{synthetic_dir}; {remedy}")
        break
    else:
        return None
    images, generator = index.get("images"), index.get("generator")
    if not isinstance(images, list) or not isinstance(generator, dict):
        raise PoolError(f"{path} lacks its 'images' list or 'generator' object; {remedy}")
    synthetic = {source.relpath for source in sources if source.folder == "synthetic"}
    meta, missing, changed = {}, [], []
    for entry in images:
        if not (isinstance(entry, dict) and isinstance(entry.get("file"), str) and isinstance(entry.get("sha256"), str)
                and _HEX64.fullmatch(entry["sha256"]) and (entry.get("seed") is None or _is_int(entry["seed"]))):
            raise PoolError(f"{path}: every image needs a 'file', a 'sha256' and a whole-number 'seed' (or null); "
                            f"{remedy}")
        relpath = PurePosixPath(os.path.normpath(PurePosixPath(below.replace(os.sep, "/")) / entry["file"])).as_posix()
        if relpath not in synthetic:
            missing.append(entry["file"])
            continue
        if _file_sha256(synthetic_dir / relpath) != entry["sha256"]:
            changed.append(relpath)
            continue
        label = entry.get("label")
        meta[relpath] = {"generator": {
            "name": generator_name or generator.get("name") or index.get("checkpoint") or "unnamed",
            "checkpoint": index.get("checkpoint"), "checkpoint_sha256": generator.get("sha256"),
            "seed": entry.get("seed"), "label": label if isinstance(label, str) else None}}
    if missing:
        raise PoolError(
            f"{path} records {len(missing)} image(s) that are not in the synthetic folder {synthetic_dir} "
            f"({', '.join(missing[:SHOWN])}): the record and the folder do not match. Draw the set again with "
            f"`python -m generation sample`, or move {path} away to build without the records")
    if changed:
        raise PoolError(
            f"{len(changed)} image(s) in {synthetic_dir} differ from their sha256 in {path} "
            f"({', '.join(changed[:SHOWN])}): they changed after they were drawn, so their recorded seeds no longer "
            f"describe them. Draw the set again with `python -m generation sample`, or move {path} away to build "
            "without the records")
    return SamplesRecord(path, digest, index, meta, len(synthetic))


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- decoding and rendering (runs in the workers) -------------------------------------


def process_job(job: Job) -> JobOutcome:
    """Decode one source and write its renditions into the staging folder."""
    source = job.source
    if source.refusal is not None:
        return JobOutcome(job.number, reason=source.refusal)
    root = Path(source.root)
    path = root / source.relpath
    slices = None
    try:
        if source.members or _is_nifti(path):
            mask = None
            if job.rule.kind == "mask":
                mask = volumes.find_mask(root, source.relpath, job.rule, source.folder)
            if source.members:
                paths = [root / member for member in source.members]
                frames, slices = volumes.decode_series(paths, job.options, job.rule, mask)
            else:
                frames, slices = volumes.decode_nifti(path, job.options, job.rule, mask)
        else:
            frames = decode_file(path, job.options)
    except DecodeError as exc:
        return JobOutcome(job.number, reason=str(exc))
    except Exception as exc:  # an unexpected decoder failure rejects this file only
        return JobOutcome(job.number, reason=f"could not be decoded ({type(exc).__name__}: {str(exc)[:120]})")
    outcome = JobOutcome(job.number, slices=slices)
    for frame in frames:
        files = {}
        for size, data in render_module.render(frame.pixels, list(job.resolutions), job.crop).items():
            name = f"{job.number:07d}-{frame.index or 0}-{size}.png"
            (Path(job.staging) / name).write_bytes(data)
            files[size] = (name, hashlib.sha256(data).hexdigest())
        outcome.frames.append(FrameOutcome(frame.index, frame.pixel_hash(), files))
    return outcome


def _is_nifti(path: Path) -> bool:
    """A NIfTI volume by its name or, for a file that is not DICOM, by its header."""
    if volumes.is_nifti_name(path.name):
        return True
    try:
        return sniff(path) != "dicom" and volumes.nifti_kind(path) is not None
    except OSError:
        return False  # decode_file says why it cannot be read


def _run_jobs(jobs: list[Job], workers: int, progress: bool) -> list[JobOutcome]:
    outcomes: list[JobOutcome | None] = [None] * len(jobs)
    with tqdm(total=len(jobs), disable=not progress, unit="file", file=sys.stderr) as bar:
        if workers == 1:
            for job in jobs:
                outcomes[job.number] = process_job(job)
                bar.update()
            return outcomes
        executor = ProcessPoolExecutor(max_workers=min(workers, len(jobs)))
        try:
            futures = [executor.submit(process_job, job) for job in jobs]
            for future in as_completed(futures):
                outcome = future.result()
                outcomes[outcome.number] = outcome
                bar.update()
        except BrokenProcessPool:
            raise PoolError(
                "a worker process died (out of memory?); nothing was written. "
                "Try again with fewer --workers"
            ) from None
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
    return outcomes


# --- assembling the pool (main process) -------------------------------------------


def _sort_out(jobs: list[Job], outcomes: list[JobOutcome]):
    """Keep first copies in input order; reject the rest with their reason."""
    kept: list[tuple[Source, FrameOutcome, int | None]] = []
    rejections = []
    first_seen: dict[str, str] = {}
    for job, outcome in zip(jobs, outcomes):
        if outcome.reason is not None:
            rejections.append({"file": job.source.name, "reason": outcome.reason})
            continue
        for frame in outcome.frames:
            where = job.source.name + _where_in(frame, outcome.slices)
            if frame.pixel_hash in first_seen:
                reason = f"duplicate of {first_seen[frame.pixel_hash]} (identical pixels)"
                rejections.append({"file": where, "reason": reason})
                for name, _ in frame.files.values():
                    (Path(job.staging) / name).unlink()
                continue
            first_seen[frame.pixel_hash] = where
            kept.append((job.source, frame, outcome.slices))
    return kept, sorted(rejections, key=lambda entry: entry["file"])


def _where_in(frame: FrameOutcome, slices: int | None) -> str:
    """"#slice=k" for a volume's slice, "#frame=k" for a multi-frame file's frame, else nothing."""
    if slices is not None:
        return f"#slice={frame.index}"
    return f"#frame={frame.index}" if frame.index is not None else ""


def _require_usable(kept, rejections: list[dict], folders: dict) -> None:
    """Each input folder ("real", "synthetic", "catch" if given) must yield an image."""
    for kind, folder in folders.items():
        if not any(source.folder == kind for source, _, _ in kept):
            raise PoolError(
                f"no usable {kind} images in {folder} "
                f"({len(rejections)} files rejected: {_top_reasons(rejections)})"
            )


def _place_files(kept, staging: Path, temporary: Path, sizes, seed, generators, rule: volumes.SliceRule,
                 source_labels: dict[str, str]) -> list[dict]:
    """Shuffle the sources with the seed, draw ids, move PNGs to their final names.

    The slices of one volume share one source id, drawn where its first slice comes in the shuffle.
    """
    rng = random.Random(seed)
    order = list(range(len(kept)))
    rng.shuffle(order)
    used: set[str] = set()
    volume_ids: dict[str, str] = {}
    for size in sizes:
        (temporary / "images" / str(size)).mkdir(parents=True)
    images = []
    for position in order:
        source, frame, slices = kept[position]
        if slices is not None and source.name in volume_ids:
            source_id = volume_ids[source.name]
        else:
            source_id = _new_id(rng, used)
            if slices is not None:
                volume_ids[source.name] = source_id
        where = source.relpath + _where_in(frame, slices)
        if source.role == "catch":
            generator = dict(CATCH_GENERATOR)
        elif source.image_class == "synthetic":
            generator = generators.get(source.relpath)
        else:
            generator = None
        for size in sizes:
            image_id = _new_id(rng, used)
            name, digest = frame.files[size]
            relative = f"images/{size}/{image_id}.png"
            os.rename(staging / name, temporary / relative)
            image = {
                "id": image_id, "source_id": source_id, "class": source.image_class,
                "role": source.role, "resolution": size, "file": relative, "sha256": digest,
                "width": size, "height": size, "source": where,
                "generator": generator, "label": source_labels.get(source.name),
            }
            if slices is not None:
                image["volume"] = {"file": source.relpath, "slice": frame.index, "slices": slices, "rule": rule.text}
            images.append(image)
    return sorted(images, key=lambda image: (image["resolution"], image["id"]))


def _new_id(rng: random.Random, used: set[str]) -> str:
    while True:
        candidate = f"{rng.getrandbits(128):032x}"
        if candidate not in used:
            used.add(candidate)
            return candidate


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _summarise(out: Path, sizes, images: list[dict], rejections: list[dict], seconds: float) -> PoolSummary:
    kinds = ["real", "synthetic"] + (["catch"] if any(i["role"] == "catch" for i in images) else [])
    files = {kind: {size: 0 for size in sizes} for kind in kinds}
    sources = {kind: set() for kind in kinds}
    for image in images:
        kind = "catch" if image["role"] == "catch" else image["class"]
        files[kind][image["resolution"]] += 1
        sources[kind].add(image["source_id"])
    counts = {image_class: len(ids) for image_class, ids in sources.items()}
    return PoolSummary(out, list(sizes), counts, files, rejections, seconds)


def _reason_group(reason: str) -> str:
    if reason.startswith("duplicate of"):
        return "duplicate (identical pixels)"
    return reason.split(" (")[0]


def _top_reasons(rejections: list[dict]) -> str:
    counts = Counter(_reason_group(entry["reason"]) for entry in rejections)
    return "; ".join(f"{count} {reason}" for reason, count in counts.most_common(3)) or "none"
