"""Read and validate a pool's manifest.json; check the files it lists.

The manifest is the contract between `generation` and `readerstudy`
(docs/architecture.md). The web app's import_pool uses `load_manifest` and
`verify_files`; both use only the standard library and Pillow.

Optional per image: "role" (absent = "main") and, for a slice of a volume,
"volume": {"file": the volume's path, "slice": its index, "slices": how many the
volume has, "rule": the slice rule}; all slices of one volume share its source_id.

"generator" of a synthetic image: null, or {"name", "checkpoint", "seed"}; when
the synthetic folder came with a samples.json (`python -m generation sample`)
also "checkpoint_sha256" (the checkpoint file's sha256, null for a folder of
finished images) and "label" (the label it was drawn with, or null).

Optional at the top (absent or null: not used by the build):
- "flagged": the quality report's flagged.json the build applied,
  {"action": "excluded" | "kept", "reason": "flagged as a possible copy of a
  training image", "format": "mirage-quality-flagged/1", "sha256": the file's,
  "rule": the report's flagging rule (a sentence with its quantile) or null,
  "sources": [{"source": path below the synthetic folder, and as the report gave
  them "resolutions", "nearest_training", "shift_tolerant"}, ...]}. Excluded
  sources have no image in the pool; rejected.json lists them with the reason.
- "samples": the samples.json the synthetic images' generators came from,
  {"format": "mirage-samples/1", "sha256": the file's, "checkpoint": how the
  generator is named, "generator": {"kind", "name", "sha256"}, "seed": the set's
  seed, "images": how many images it described}.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path, PurePosixPath

from PIL import Image, UnidentifiedImageError

FORMAT = "mirage-pool/1"
CODE_VERSION = "0.1.0"
MANIFEST_NAME = "manifest.json"
REJECTED_NAME = "rejected.json"
CLASSES = ("real", "synthetic")
ROLES = ("main", "catch")  # optional per image; absent means "main"; catch images are synthetic
DEFAULT_ROLE = "main"
SETTINGS_KEYS = ("resolutions", "crop", "window", "frames", "seed", "filter")
IMAGE_KEYS = (
    "id", "source_id", "class", "resolution", "file", "sha256",
    "width", "height", "source", "generator", "label",
)
FLAGGED_ACTIONS = ("excluded", "kept")  # what the build did with a quality report's flagged sources
MAX_LABEL_LENGTH = 100  # what PoolImage.label holds in the web app
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class ManifestError(ValueError):
    """The manifest is missing or does not follow the mirage-pool/1 schema."""


def load_manifest(pool_dir: str | Path) -> dict:
    """Read POOL/manifest.json and check it against the schema.

    Raises ManifestError naming the field (and image) that is wrong. Every
    returned image has a "role" ("main" or "catch"): manifests written before
    roles existed load with role "main".
    """
    path = Path(pool_dir) / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(
            f"no {MANIFEST_NAME} in {pool_dir}: is this a pool folder made by "
            "`python -m generation pool build`?"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path} is not valid JSON ({exc}); rebuild the pool") from None
    validate_manifest(manifest)
    for image in manifest["images"]:
        image.setdefault("role", DEFAULT_ROLE)
    return manifest


def validate_manifest(manifest: object) -> None:
    """Raise ManifestError if `manifest` does not follow mirage-pool/1."""
    _require(isinstance(manifest, dict), "the manifest must be a JSON object")
    _require(
        manifest.get("format") == FORMAT,
        f"manifest format is {manifest.get('format')!r}, expected {FORMAT!r}: "
        "rebuild the pool with this version of Mirage",
    )
    for key in ("code_version", "created_by"):
        _require(isinstance(manifest.get(key), str), f"manifest field {key!r} must be a string")
    settings = manifest.get("settings")
    _require(isinstance(settings, dict), "manifest field 'settings' must be an object")
    missing = [key for key in SETTINGS_KEYS if key not in settings]
    _require(not missing, f"manifest settings lack {', '.join(missing)}")
    resolutions = settings["resolutions"]
    _require(
        isinstance(resolutions, list) and resolutions and all(_is_int(r) and r > 0 for r in resolutions),
        "manifest settings.resolutions must be a non-empty list of positive integers",
    )
    images = manifest.get("images")
    _require(isinstance(images, list), "manifest field 'images' must be a list")
    _validate_flagged(manifest.get("flagged"))
    _validate_samples(manifest.get("samples"))
    seen: set[str] = set()
    for position, image in enumerate(images):
        _validate_image(image, position, set(resolutions))
        _require(image["id"] not in seen, f"image id {image['id']} appears twice in the manifest")
        seen.add(image["id"])


def _validate_image(image: object, position: int, resolutions: set[int]) -> None:
    where = f"manifest images[{position}]"
    _require(isinstance(image, dict), f"{where} must be an object")
    missing = [key for key in IMAGE_KEYS if key not in image]
    _require(not missing, f"{where} lacks {', '.join(missing)}")
    where = f"{where} (id {image['id']!r})"
    for key in ("id", "source_id"):
        _require(isinstance(image[key], str) and _HEX32.fullmatch(image[key]),
                 f"{where}: {key} must be 32 lowercase hex digits")
    _require(image["class"] in CLASSES, f"{where}: class must be 'real' or 'synthetic'")
    role = image.get("role", DEFAULT_ROLE)
    _require(isinstance(role, str) and role in ROLES,
             f"{where}: role must be 'main' or 'catch' (or absent, meaning 'main'), got {role!r}")
    _require(role != "catch" or image["class"] == "synthetic",
             f"{where}: a catch image must be of class 'synthetic', not {image['class']!r}")
    _require(_is_int(image["resolution"]) and image["resolution"] in resolutions,
             f"{where}: resolution {image['resolution']!r} is not in settings.resolutions")
    expected_file = f"images/{image['resolution']}/{image['id']}.png"
    _require(image["file"] == expected_file, f"{where}: file must be {expected_file!r}")
    _require(isinstance(image["sha256"], str) and _HEX64.fullmatch(image["sha256"]),
             f"{where}: sha256 must be 64 lowercase hex digits")
    for key in ("width", "height"):
        _require(image[key] == image["resolution"] and _is_int(image[key]),
                 f"{where}: {key} must equal the resolution {image['resolution']}")
    _require(isinstance(image["source"], str) and image["source"],
             f"{where}: source must be a non-empty string")
    generator = image["generator"]
    _require(generator is None or (isinstance(generator, dict) and isinstance(generator.get("name"), str)),
             f"{where}: generator must be null or an object with a 'name' string")
    label = image["label"]
    _require(label is None or (isinstance(label, str) and 0 < len(label) <= MAX_LABEL_LENGTH),
             f"{where}: label must be null or a string of 1 to {MAX_LABEL_LENGTH} characters")
    if "volume" in image:
        _validate_volume(image["volume"], where)


def _validate_volume(volume: object, where: str) -> None:
    _require(isinstance(volume, dict), f"{where}: volume must be an object")
    _require(isinstance(volume.get("file"), str) and volume["file"] and isinstance(volume.get("rule"), str),
             f"{where}: volume must name its file and slice rule as strings")
    _require(_is_int(volume.get("slice")) and _is_int(volume.get("slices"))
             and 0 <= volume["slice"] < volume["slices"],
             f"{where}: volume slice must be a whole number from 0 to slices - 1")


def _validate_flagged(flagged: object) -> None:
    if flagged is None:
        return
    _require(isinstance(flagged, dict), "manifest field 'flagged' must be null or an object")
    _require(flagged.get("action") in FLAGGED_ACTIONS,
             f"manifest flagged.action must be 'excluded' or 'kept', got {flagged.get('action')!r}")
    sources = flagged.get("sources")
    _require(isinstance(sources, list) and all(isinstance(entry, dict) and isinstance(entry.get("source"), str)
                                               for entry in sources),
             "manifest flagged.sources must be a list of objects that each name a 'source'")


def _validate_samples(samples: object) -> None:
    if samples is None:
        return
    _require(isinstance(samples, dict) and isinstance(samples.get("sha256"), str)
             and _HEX64.fullmatch(samples["sha256"]),
             "manifest field 'samples' must be null or an object with the samples.json's sha256")


def verify_files(pool_dir: str | Path, manifest: dict) -> list[str]:
    """Check every listed file exists, matches its sha256 and has its stated size.

    Returns one sentence per problem; an empty list means the files are intact.
    """
    root = Path(pool_dir)
    problems = []
    for image in manifest["images"]:
        relative = PurePosixPath(image["file"])
        if relative.is_absolute() or ".." in relative.parts:
            problems.append(f"{image['file']}: path leaves the pool folder")
            continue
        path = root / relative
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            problems.append(f"{image['file']}: file is missing")
            continue
        except OSError as exc:  # a folder in its place, no permission, an I/O error
            problems.append(f"{image['file']}: cannot be read ({exc.strerror or type(exc).__name__})")
            continue
        if hashlib.sha256(data).hexdigest() != image["sha256"]:
            problems.append(f"{image['file']}: sha256 does not match the manifest (file changed or damaged)")
            continue
        size = png_size(path)
        if size != (image["width"], image["height"]):
            problems.append(
                f"{image['file']}: image is {size[0]}x{size[1]}, manifest says "
                f"{image['width']}x{image['height']}" if size else f"{image['file']}: not a readable PNG"
            )
    return problems


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a PNG file, or None if it is not one."""
    try:
        with Image.open(path) as image:
            return image.size if image.format == "PNG" else None
    except (UnidentifiedImageError, OSError):
        return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(condition: object, message: str) -> None:
    if not condition:
        raise ManifestError(message)
