"""Procedural "phantom" chest radiographs: reproducible demo data with no patient in it.

Each phantom is drawn from a seed. The seed fixes one "patient" (body size and position, lung
shape, rib spacing, heart size, exposure, noise level) and whether a round lesion is present.
Drawing is vectorised numpy on a normalised coordinate grid (x to the right, y downwards, both in
[-1, 1]), so 200 images at 256 px take about a second.

Brightness follows the radiograph convention: air outside the body is dark, lungs are dark,
soft tissue is grey, bone is bright.

A labelled variant (`labelled_phantoms`, `write_labelled_phantoms`) gives every image a label,
"none", "upper" or "lower": no lesion, or a larger lesion in the upper or the lower part of a
lung. It runs the label features (forced-choice matching by label, results per label) on demo data.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

LESION_PROBABILITY = 0.5
LESION_LABELS = ("none", "upper", "lower")


@dataclass(frozen=True)
class Lesion:
    """A round nodule inside one lung, in normalised coordinates."""

    x: float
    y: float
    radius: float
    side: str  # "left" or "right" lung, seen from the viewer


def phantom_seed(seed: int, index: int) -> int:
    """The seed of image `index` in a set started from `seed` (stable, independent per index)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _rng(seed: int, stream: int) -> np.random.Generator:
    # Separate streams, so asking for a lesion never changes the anatomy or the noise.
    return np.random.default_rng([seed, stream])


def has_lesion(seed: int) -> bool:
    """Whether the phantom drawn from `seed` carries a lesion when none is asked for explicitly."""
    return bool(_rng(seed, 1).random() < LESION_PROBABILITY)


def lesion_for(seed: int) -> Lesion:
    """Where the lesion of phantom `seed` sits (used whenever that phantom has one)."""
    rng = _rng(seed, 2)
    side = "left" if rng.random() < 0.5 else "right"
    sign = -1.0 if side == "left" else 1.0
    return Lesion(
        x=float(sign * rng.uniform(0.25, 0.45)),
        y=float(rng.uniform(-0.35, 0.2)),
        radius=float(rng.uniform(0.035, 0.07)),
        side=side,
    )


def labelled_lesion(seed: int) -> tuple[str, Lesion | None]:
    """The label of labelled phantom `seed` ("none", "upper" or "lower") and its lesion (None for "none").

    Upper lesions sit high in a lung (y from -0.45 to -0.3), lower ones just above the diaphragm and
    beside the heart (y from 0 to 0.12); both are larger than the plain phantoms' lesions.
    """
    label = LESION_LABELS[int(_rng(seed, 4).integers(len(LESION_LABELS)))]
    if label == "none":
        return label, None
    rng = _rng(seed, 5)
    side = "left" if rng.random() < 0.5 else "right"
    sign = -1.0 if side == "left" else 1.0
    y = rng.uniform(-0.45, -0.3) if label == "upper" else rng.uniform(0.0, 0.12)
    return label, Lesion(x=float(sign * rng.uniform(0.35, 0.45)), y=float(y),
                         radius=float(rng.uniform(0.07, 0.1)), side=side)


def _soft(signed_distance: np.ndarray, edge: float) -> np.ndarray:
    """1 inside (negative distance), 0 outside, with a smooth edge `edge` wide."""
    return 1.0 / (1.0 + np.exp(np.clip(signed_distance / edge, -30, 30)))


def _lung(x, y, rng, cx, cy, ax, ay, edge):
    """A lung field: an ellipse whose outline wobbles by a few low Fourier terms per patient."""
    dx, dy = (x - cx) / ax, (y - cy) / ay
    r = np.hypot(dx, dy)
    theta = np.arctan2(dy, dx)
    boundary = np.ones_like(r)
    for k in (2, 3, 4):
        boundary += rng.uniform(0.0, 0.06 / k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return _soft(r - boundary, edge)


def draw_phantom(seed: int, size: int = 256, lesion: bool | None = None, spot: Lesion | None = None) -> np.ndarray:
    """Draw one phantom chest radiograph.

    Parameters
    ----------
    seed: fixes the patient, the texture and the noise.
    size: width and height in pixels.
    lesion: True or False to force a lesion in or out; None lets the seed decide (`has_lesion`).
    spot: a lesion to draw instead (then `lesion` is not consulted), as the labelled variant does.

    Returns
    -------
    float32 array of shape (size, size) with values in [0, 1].
    """
    if size < 16:
        raise ValueError(f"phantom size must be at least 16 px, got {size}")
    rng = _rng(seed, 0)
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    y, x = np.meshgrid(coords, coords, indexing="ij")
    edge = 2.0 / size  # about one pixel, so edges look the same at every size

    # The patient: where the chest sits and how big it is.
    shift_x, shift_y = rng.normal(0, 0.03), rng.normal(0, 0.03)
    scale = rng.uniform(0.88, 1.05)
    x = (x - shift_x) / scale
    y = (y - shift_y) / scale

    # Body outline: a wide rounded torso with shoulders at the top.
    body_w = rng.uniform(0.78, 0.9)
    body = _soft(np.abs(x / body_w) ** 3 + np.clip(-(y + 0.55) / 0.5, 0, None) ** 2 - 1.0, 0.02)
    neck = _soft(np.abs(x) - rng.uniform(0.16, 0.22), edge) * (y < -0.6)
    body = np.maximum(body, neck)

    # Lungs: two fields, either side of the midline, with the heart sitting between them.
    lung_w, lung_h = rng.uniform(0.24, 0.3), rng.uniform(0.52, 0.62)
    lung_y = rng.uniform(-0.12, -0.04)
    gap = rng.uniform(0.3, 0.36)
    lungs = np.maximum(
        _lung(x, y, rng, -gap, lung_y, lung_w, lung_h, edge * 3),
        _lung(x, y, rng, gap, lung_y + rng.normal(0, 0.02), lung_w, lung_h, edge * 3),
    )

    # Diaphragm: two domes that close the lungs from below.
    dome_y = lung_y + lung_h * rng.uniform(0.7, 0.85)
    dome = dome_y + 0.5 * (np.abs(x) - gap) ** 2 - 0.04 * (x > 0)
    lungs = lungs * _soft(y - dome, edge * 2)

    # Heart: an ellipse low in the chest, shifted to the patient's left (the viewer's right).
    hx, hy = rng.uniform(0.07, 0.13), dome_y - rng.uniform(0.14, 0.2)
    hw, hh = rng.uniform(0.26, 0.33), rng.uniform(0.2, 0.25)
    heart = _soft(np.hypot((x - hx) / hw, (y - hy) / hh) - 1.0, edge * 4)
    mediastinum = _soft(np.abs(x) - rng.uniform(0.09, 0.12), edge * 3) * _soft(y - hy, 0.05)
    lungs = lungs * (1 - np.maximum(heart, mediastinum))

    # Spine: a vertical band with vertebrae, seen faintly through the mediastinum.
    vertebra = rng.uniform(0.085, 0.11)
    spine = _soft(np.abs(x) - 0.065, edge * 2) * (0.7 + 0.3 * np.cos(np.pi * y / vertebra) ** 2)

    # Ribs: arcs that leave the spine, rise a little, and bend down towards the chest wall.
    ribs = np.zeros_like(x)
    rib_gap = rng.uniform(0.1, 0.125)
    rib_curve = rng.uniform(1.0, 1.6)
    thickness = rng.uniform(0.013, 0.02)
    dist_from_spine = np.abs(x)
    chest_wall = gap + lung_w + 0.06
    for k in range(10):
        arc = -0.62 + k * rib_gap + rib_curve * ((dist_from_spine - 0.18) ** 2 - 0.18**2)
        rib = _soft(np.abs(y - arc) - thickness, edge)
        rib = rib * (1 - 0.4 * _soft(np.abs(y - arc) - thickness * 0.5, edge))  # brighter cortex
        ribs = np.maximum(ribs, rib * _soft(0.06 - dist_from_spine, edge) * _soft(dist_from_spine - chest_wall, 0.02))
    ribs = ribs * _soft(y - dome - 0.12, 0.04)  # the lowest ribs fade below the diaphragm

    # Clavicles: short bars across the top of the lungs, rising outwards.
    clavicle_y = rng.uniform(-0.74, -0.66)
    clavicle = _soft(np.abs(y - clavicle_y + 0.25 * (dist_from_spine - 0.35)) - 0.02, edge)
    clavicle = clavicle * (dist_from_spine > 0.08) * (dist_from_spine < 0.6)

    # Lung texture: smoothed noise, like vessels, stronger near the hila.
    texture = ndimage.gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), size / 90)
    texture = texture / (texture.std() + 1e-6)
    hilum = np.exp(-(((np.abs(x) - 0.2) / 0.25) ** 2 + ((y - hy + 0.2) / 0.35) ** 2))

    # Compose in "density" (how much a region attenuates), then expose.
    thickness_profile = np.sqrt(np.clip(1 - (x / body_w) ** 2, 0, 1))  # thinner at the sides
    density = 0.05 + body * (0.3 + 0.3 * thickness_profile)
    density = density - 0.33 * lungs * (1 + 0.12 * texture * (0.5 + hilum))
    density = density + 0.04 * heart * body + 0.03 * mediastinum * body
    density = density + 0.12 * spine * body + 0.16 * ribs * body + 0.2 * clavicle * body
    abdomen = _soft(dome - y, edge * 4) * body
    density = density + 0.08 * abdomen * (1 - lungs)

    if spot is None and (has_lesion(seed) if lesion is None else lesion):
        spot = lesion_for(seed)
    if spot is not None:
        # x and y are already in the patient's frame, so the lesion moves with the patient.
        r2 = ((x - spot.x) ** 2 + (y - spot.y) ** 2) / spot.radius**2
        density = density + 0.2 * np.exp(-r2 * 1.5) * body

    # Exposure, blur and noise vary per acquisition.
    noise_rng = _rng(seed, 3)
    gamma = noise_rng.uniform(0.8, 1.25)
    gain, offset = noise_rng.uniform(0.9, 1.1), noise_rng.uniform(-0.04, 0.04)
    image = np.clip(density * gain + offset, 0, 1) ** gamma
    image = ndimage.gaussian_filter(image, noise_rng.uniform(0.4, 0.9) * size / 256)
    noise_level = noise_rng.uniform(0.008, 0.03)
    image = image + noise_level * noise_rng.standard_normal(image.shape)
    return np.clip(image, 0, 1).astype(np.float32)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] to 8-bit grey levels (rounded, clipped)."""
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


def write_phantoms(
    out_dir: Path | str,
    n: int,
    *,
    seed: int = 0,
    size: int = 256,
    labels_path: Path | str | None = None,
) -> list[Path]:
    """Write `n` phantoms as 8-bit grayscale PNGs `phantom_0000.png`, ... into `out_dir`.

    Image i is drawn from `phantom_seed(seed, i)`. If `labels_path` is given, a JSON file there
    records for each file name its seed and lesion (present or not, and where). Keep it outside
    `out_dir` when that folder is read as a folder of images.
    """
    if n < 0:
        raise ValueError(f"the number of phantoms must be 0 or more, got {n}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, labels = [], {}
    for i in range(n):
        image_seed = phantom_seed(seed, i)
        path = out_dir / f"phantom_{i:04d}.png"
        Image.fromarray(to_uint8(draw_phantom(image_seed, size))).save(path)
        paths.append(path)
        lesion = asdict(lesion_for(image_seed)) if has_lesion(image_seed) else None
        labels[path.name] = {"seed": image_seed, "lesion": lesion}
    if labels_path is not None:
        Path(labels_path).write_text(json.dumps(labels, indent=1) + "\n")
    return paths


def labelled_phantoms(n: int, *, seed: int = 0, size: int = 128) -> tuple[np.ndarray, list[str]]:
    """`n` labelled phantoms as a float32 array (n, size, size) in [0, 1], and their labels.

    Image i is drawn from `phantom_seed(seed, i)`, its label and lesion from `labelled_lesion`, so
    the same seed always gives the same images and labels.
    """
    if n < 0:
        raise ValueError(f"the number of phantoms must be 0 or more, got {n}")
    images = np.zeros((n, size, size), dtype=np.float32)
    labels = []
    for i in range(n):
        image_seed = phantom_seed(seed, i)
        label, spot = labelled_lesion(image_seed)
        images[i] = draw_phantom(image_seed, size, lesion=False, spot=spot)
        labels.append(label)
    return images, labels


def write_labelled_phantoms(
    out_dir: Path | str, n: int, *, seed: int = 0, size: int = 256, labels_csv: Path | str | None = None,
) -> dict[str, str]:
    """Write `n` labelled phantoms as PNGs in one folder per label (`out_dir/upper/phantom_0003.png`),
    ready for ``pool build --labels-from-folders``; return file path (below `out_dir`) -> label.

    If `labels_csv` is given, the same is written there as a CSV with columns file and label (keep it
    outside `out_dir`), ready for ``pool build --labels``.
    """
    images, labels = labelled_phantoms(n, seed=seed, size=size)
    out_dir = Path(out_dir)
    written = {}
    for i, (image, label) in enumerate(zip(images, labels)):
        path = out_dir / label / f"phantom_{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(to_uint8(image)).save(path)
        written[path.relative_to(out_dir).as_posix()] = label
    if labels_csv is not None:
        with open(labels_csv, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "label"])
            writer.writerows(written.items())
    return written
