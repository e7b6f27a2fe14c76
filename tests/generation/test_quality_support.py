"""Test pools for the quality report: phantom patients written as a mirage-pool/1 pool, fast.

The images are the demo phantoms (generation.phantoms). A patient is one phantom seen as a few
neighbouring slices (the same anatomy, each slice with its own noise and a one-pixel shift), so
the slices of one patient correlate far more than two patients do, as in a CT volume (each patient
also has a smooth texture of its own: at 32 px two bare phantoms correlate about 0.98).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from generation.manifest import FORMAT, load_manifest, validate_manifest
from generation.phantoms import draw_phantom, to_uint8


def patient_slices(seed: int, size: int, slices: int = 1) -> list[np.ndarray]:
    """`slices` neighbouring slices (float images in [0, 1]) of the phantom patient `seed`."""
    rng = np.random.default_rng(seed + 10_000)
    # each patient's own texture, so that two patients differ more than two slices of one
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 16)
    base = np.clip(draw_phantom(seed, size) + 0.1 * field / field.std(), 0, 1)
    return [np.clip(np.roll(base, k % 2, axis=1) + rng.normal(0, 0.01, base.shape), 0, 1) for k in range(slices)]


def phantom_set(first_seed: int, patients: int, size: int, *, slices: int = 1, change=None) -> list[dict]:
    """Images of `patients` patients from `first_seed` on; `change` (float image -> float image) alters each."""
    images = []
    for patient in range(patients):
        for number, image in enumerate(patient_slices(first_seed + patient, size, slices)):
            images.append({"pixels": to_uint8(change(image) if change else image),
                           "patient": f"p{first_seed + patient}", "name": f"p{first_seed + patient}_{number}.png"})
    return images


def brighter(image: np.ndarray) -> np.ndarray:
    return np.clip(image + 0.25, 0, 1)


def blurred(image: np.ndarray) -> np.ndarray:
    return ndimage.gaussian_filter(image, 1.5)


def textured(image: np.ndarray, _rng=np.random.default_rng(7)) -> np.ndarray:
    return np.clip(image + _rng.normal(0, 0.12, image.shape), 0, 1)


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def write_pool(folder: Path, real: list[dict], synthetic: list[dict], *, resolutions=None) -> Path:
    """Write a pool; each image dict has pixels (uint8, square), name, and optionally patient and label.

    `resolutions`: sizes to render (Pillow's box filter); default the images' own size. The slices of one
    patient share a source_id, as a volume's slices do in a pool build.
    """
    size = real[0]["pixels"].shape[0]
    resolutions = list(resolutions or [size])
    entries = []
    for kind, images in (("real", real), ("synthetic", synthetic)):
        for image in images:
            source_id = _hex(f"{kind}/{image.get('patient', image['name'])}")
            for resolution in resolutions:
                identifier = _hex(f"{kind}/{image['name']}/{resolution}")
                pixels = image["pixels"]
                if resolution != pixels.shape[0]:
                    pixels = np.asarray(Image.fromarray(pixels).resize((resolution, resolution), Image.BOX))
                file = f"images/{resolution}/{identifier}.png"
                (folder / file).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(folder / file)
                entries.append({"id": identifier, "source_id": source_id, "class": kind, "resolution": resolution,
                                "file": file, "sha256": hashlib.sha256((folder / file).read_bytes()).hexdigest(),
                                "width": resolution, "height": resolution, "source": f"{image['name']}",
                                "generator": None if kind == "real" else {"name": "test"},
                                "label": image.get("label")})
    manifest = {"format": FORMAT, "code_version": "0.1.0", "created_by": "tests", "images": entries,
                "settings": {"resolutions": resolutions, "crop": "center", "window": "auto", "frames": "first",
                             "seed": 0, "filter": "lanczos"}}
    validate_manifest(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_a_written_pool_loads_as_a_pool(tmp_path):
    pool = write_pool(tmp_path, phantom_set(0, 3, 32, slices=2), phantom_set(100, 3, 32), resolutions=[32, 16])
    manifest = load_manifest(pool)
    assert len(manifest["images"]) == (6 + 3) * 2
    real = [i for i in manifest["images"] if i["class"] == "real" and i["resolution"] == 32]
    assert len({i["source_id"] for i in real}) == 3  # two slices per patient share one source


def test_neighbouring_slices_correlate_far_more_than_two_patients():
    first, second = patient_slices(1, 64, 2)
    other = patient_slices(2, 64)[0]
    same = np.corrcoef(first.ravel(), second.ravel())[0, 1]
    different = np.corrcoef(first.ravel(), other.ravel())[0, 1]
    assert same > 0.95 and same - different > 0.05
