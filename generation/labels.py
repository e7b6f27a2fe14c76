"""Labels of pool images (such as "lesion" / "no lesion"), from a CSV file or from folder names.

A label belongs to a source (a file, or a whole volume), so every rendition and every
slice of it carries the same one in the manifest's ``label`` field; the reader study
matches forced-choice images by it, and the analysis reports per label.

- ``--labels FILE``: a CSV with a header row naming a ``label`` column and one key
  column: ``file`` (the path below the --real, --synthetic or --catch folder, as
  rejected.json writes it, ``real/case1.dcm``, or without the class folder,
  ``case1.dcm``, where that is unambiguous; a DICOM series is named by its folder)
  or ``source_id`` (the ids of a pool built before from the same inputs and seed).
- ``--labels-from-folders``: the first folder below --real or --synthetic that holds
  the source is its label (``real/lesion/case1.dcm`` is "lesion").

Every real and synthetic image that is used needs a label (catch images need none).
A CSV that names files that are not there, names one twice with two labels, or leaves
images without a label is refused, with a few of them listed.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from generation.manifest import MAX_LABEL_LENGTH as MAX_LENGTH
KEY_COLUMNS = ("file", "source_id")
SHOWN = 5
_HEX32 = re.compile(r"[0-9a-f]{32}")


class LabelError(ValueError):
    """The labels cannot be used; the message says why and lists a few examples."""


@dataclass(frozen=True)
class LabelTable:
    """The rows of a labels CSV: `key` is "file" or "source_id"."""

    path: str
    key: str
    labels: dict[str, str]


def read_label_csv(path: str | Path) -> LabelTable:
    """Read and check a labels CSV; raises LabelError naming the file, row and problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabelError(f"the labels file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"the labels file {path} cannot be read as UTF-8 text ({exc})") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise LabelError(f"the labels file {path} is empty: it needs a header row such as file,label")
    header = [name.strip().lower() for name in rows[0]]
    keys = [name for name in KEY_COLUMNS if name in header]
    if "label" not in header or len(keys) != 1:
        raise LabelError(f"the labels file {path} needs a 'label' column and one of 'file' or 'source_id' "
                         f"(its header is {','.join(rows[0])})")
    key, key_at, label_at = keys[0], header.index(keys[0]), header.index("label")
    labels: dict[str, str] = {}
    conflicts = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(key_at, label_at):
            raise LabelError(f"the labels file {path}, line {number}: too few columns")
        name = normalise_key(row[key_at]) if key == "file" else row[key_at].strip().lower()
        if key == "source_id" and not _HEX32.fullmatch(name):
            raise LabelError(f"the labels file {path}, line {number}: {row[key_at]!r} is not a source_id "
                             "(32 hex digits from a pool's manifest.json)")
        if not name:
            raise LabelError(f"the labels file {path}, line {number}: the {key} is empty")
        label = check_label(row[label_at], f"the labels file {path}, line {number}")
        if labels.get(name, label) != label:
            conflicts.append(f"{name} ({labels[name]} and {label})")
        labels[name] = label
    if conflicts:
        raise LabelError(f"the labels file {path} gives {_few(conflicts, 'file')} two different labels")
    if not labels:
        raise LabelError(f"the labels file {path} has a header but no rows")
    return LabelTable(str(path), key, labels)


def check_label(text: str, where: str) -> str:
    label = str(text).strip()
    if not label:
        raise LabelError(f"{where}: the label is empty")
    if len(label) > MAX_LENGTH:
        raise LabelError(f"{where}: the label is {len(label)} characters long, {MAX_LENGTH} at most")
    return label


def normalise_key(text: str) -> str:
    """A path as a CSV may write it, as the pool writes it: / separators, no ./ or trailing /."""
    path = str(text).strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.rstrip("/")


def folder_label(relpath: str) -> str | None:
    """The first folder of `relpath` (below --real or --synthetic), or None for a source at the top."""
    parts = PurePosixPath(relpath).parts
    return parts[0] if len(parts) > 1 else None


def labels_by_file(table: LabelTable, sources: list[tuple[str, str]]) -> dict[str, str]:
    """Match the CSV's file names to `sources`, given as (name with class folder, name below it).

    Returns name with class folder -> label. Raises LabelError for names that match no source or
    more than one.
    """
    full = {name for name, _ in sources}
    below: dict[str, list[str]] = {}
    for name, relpath in sources:
        below.setdefault(relpath, []).append(name)
    found, unknown, ambiguous = {}, [], []
    for key, label in table.labels.items():
        if key in full:
            found[key] = label
        elif len(below.get(key, [])) == 1:
            found[below[key][0]] = label
        elif key in below:
            ambiguous.append(f"{key} ({' or '.join(sorted(below[key]))})")
        else:
            unknown.append(key)
    if unknown:
        raise LabelError(f"the labels file {table.path} names {_few(unknown)}, which are not images in the "
                         "input folders (write paths below the --real or --synthetic folder, such as "
                         "real/case1.dcm or case1.dcm; a DICOM series by its folder)")
    if ambiguous:
        raise LabelError(f"the labels file {table.path} names {_few(ambiguous)}, which are in more than one "
                         "input folder: write real/... or synthetic/...")
    return found


def require_labels(unlabelled: list[str], origin: str) -> None:
    """Refuse when images that are used have no label; `origin` says where labels come from."""
    if unlabelled:
        raise LabelError(f"{origin} gives no label to {_few(sorted(unlabelled), 'image')}: every real and synthetic "
                         "image needs one")


def _few(names: list[str], noun: str = "file") -> str:
    shown = ", ".join(names[:SHOWN])
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return f"{len(names)} {noun}{'' if len(names) == 1 else 's'} ({shown}{more})"
