"""Check a built pool: file integrity, completeness, class balance, and whether
real and synthetic files differ in simple file-level properties a reader could
use instead of image content (PNG size, mean grey, dynamic range, saturation, and
the share of fine detail: spectral power above half the Nyquist frequency, which
tells a generator's unfiltered output at a study resolution from real images that
were low-pass filtered on the way down).

Catch images (role "catch": attention checks, class synthetic) are covered by
the integrity and completeness checks but left out of the class balance and the
real-vs-synthetic comparison, which use main images only; the result counts them
per resolution.

Each property is compared per resolution with a two-sided Mann-Whitney U test;
the effect size is Cliff's delta, called large from |delta| >= 0.474
(Romano et al., 2006, "Appropriate statistics for ordinal level data").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy.stats import mannwhitneyu

from generation.manifest import ManifestError, load_manifest, verify_files

ALPHA = 0.01
LARGE_EFFECT = 0.474
BALANCE_RATIO = 0.8
PROPERTIES = {
    "png_bytes": "PNG file size (bytes)",
    "mean": "mean intensity (0-1)",
    "dynamic_range": "dynamic range p99-p1 (0-1)",
    "saturated": "fraction of pixels at 0 or 255",
    "high_frequency": "share of spectral power above half the Nyquist frequency",
}
HIGH_FREQUENCY_CUTOFF = 0.25  # cycles per pixel: half the Nyquist frequency
TABLE_COLUMNS = [
    "resolution", "property", "n_real", "n_synthetic", "median_real",
    "median_synthetic", "p_value", "cliffs_delta", "flagged",
]


@dataclass
class CheckResult:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TABLE_COLUMNS))
    catch_counts: dict[int, int] = field(default_factory=dict)  # resolution -> catch images

    @property
    def ok(self) -> bool:
        return not self.errors


def check_pool(path: str | Path) -> CheckResult:
    """Check the pool at `path`; integrity problems are errors, the rest warnings."""
    result = CheckResult()
    try:
        manifest = load_manifest(path)
    except ManifestError as exc:
        result.errors.append(str(exc))
        return result
    result.errors.extend(verify_files(path, manifest))
    result.errors.extend(completeness_problems(manifest))
    result.warnings.extend(balance_warnings(manifest))
    result.catch_counts = catch_counts(manifest)
    main_images = [image for image in manifest["images"] if _role(image) == "main"]
    result.table = compare_classes(file_properties(Path(path), main_images))
    for row in result.table[result.table["flagged"]].itertuples():
        result.warnings.append(
            f"at {row.resolution} px, {PROPERTIES[row.property]} differs between real and "
            f"synthetic images (median {row.median_real:.4g} vs {row.median_synthetic:.4g}, "
            f"Mann-Whitney p={row.p_value:.2g}, Cliff's delta={row.cliffs_delta:+.2f}): "
            "readers could tell the classes apart by this alone"
        )
    return result


def completeness_problems(manifest: dict) -> list[str]:
    """Each source (catch sources too) must have exactly one image per resolution, one class and one role.

    A volume is one source with several slices: each of its slices needs one image per resolution.
    """
    wanted = set(manifest["settings"]["resolutions"])
    found: dict[str, list[tuple]] = defaultdict(list)
    classes: dict[str, set[str]] = defaultdict(set)
    roles: dict[str, set[str]] = defaultdict(set)
    for image in manifest["images"]:
        slice_index = (image.get("volume") or {}).get("slice")
        found[image["source_id"]].append((slice_index, image["resolution"]))
        classes[image["source_id"]].add(image["class"])
        roles[image["source_id"]].add(_role(image))
    problems = []
    for source_id, sizes in sorted(found.items()):
        for slice_index in sorted({s for s, _ in sizes}, key=lambda s: -1 if s is None else s):
            missing = sorted(wanted - {res for s, res in sizes if s == slice_index})
            if missing:
                where = "" if slice_index is None else f" (slice {slice_index})"
                problems.append(f"source {source_id}{where} has no image at {', '.join(map(str, missing))} px")
        if len(sizes) != len(set(sizes)):
            problems.append(f"source {source_id} has more than one image at the same resolution")
        if len(classes[source_id]) > 1:
            problems.append(f"source {source_id} is listed as both real and synthetic")
        if len(roles[source_id]) > 1:
            problems.append(f"source {source_id} is listed as both a main and a catch image")
    return problems


def balance_warnings(manifest: dict) -> list[str]:
    """Warn if main real and main synthetic sources are unbalanced (catch images do not count)."""
    counts = {"real": set(), "synthetic": set()}
    for image in manifest["images"]:
        if _role(image) == "main":
            counts[image["class"]].add(image["source_id"])
    real, synthetic = len(counts["real"]), len(counts["synthetic"])
    if min(real, synthetic) < BALANCE_RATIO * max(real, synthetic, 1):
        return [f"classes are unbalanced: {real} real and {synthetic} synthetic source images"]
    return []


def catch_counts(manifest: dict) -> dict[int, int]:
    """Number of catch images at each resolution of the pool (0 where there are none)."""
    counts = {int(size): 0 for size in manifest["settings"]["resolutions"]}
    for image in manifest["images"]:
        if _role(image) == "catch":
            counts[image["resolution"]] = counts.get(image["resolution"], 0) + 1
    return dict(sorted(counts.items()))


def _role(image: dict) -> str:
    return image.get("role", "main")  # load_manifest fills it in; tolerate hand-made dicts


def file_properties(root: Path, images: list[dict]) -> pd.DataFrame:
    """One row per readable image file: class, resolution and the properties."""
    rows = []
    for image in images:
        path = root / image["file"]
        try:
            with Image.open(path) as handle:
                pixels = np.asarray(handle.convert("L"), dtype=np.float64)
        except OSError:
            continue  # reported by verify_files
        low, high = np.percentile(pixels, [1, 99])
        rows.append({
            "class": image["class"], "resolution": image["resolution"],
            "png_bytes": float(path.stat().st_size), "mean": pixels.mean() / 255.0,
            "dynamic_range": (high - low) / 255.0,
            "saturated": float(np.mean((pixels == 0) | (pixels == 255))),
            "high_frequency": high_frequency_share(pixels),
        })
    return pd.DataFrame(rows, columns=["class", "resolution", *PROPERTIES])


def high_frequency_share(pixels: np.ndarray, cutoff: float = HIGH_FREQUENCY_CUTOFF) -> float:
    """Share of the image's variance (its power spectrum without the mean) at radial frequencies above
    `cutoff` cycles per pixel. White noise gives 1 - pi * cutoff**2 (0.80 at 0.25); a smooth image, ~0."""
    centred = np.asarray(pixels, dtype=np.float64) - np.mean(pixels)
    height, width = centred.shape
    power = np.abs(np.fft.rfft2(centred)) ** 2
    # rfft2 keeps half the spectrum: every column but the zero one (and Nyquist's, for an even width)
    # stands for itself and its mirror image.
    weight = np.full(power.shape[1], 2.0)
    weight[0] = 1.0
    if width % 2 == 0:
        weight[-1] = 1.0
    power *= weight
    total = power.sum()
    if total <= 0:
        return 0.0
    radius = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None, :])
    return float(power[radius > cutoff].sum() / total)


def compare_classes(properties: pd.DataFrame) -> pd.DataFrame:
    """Mann-Whitney U and Cliff's delta for each resolution and property."""
    rows = []
    for resolution, group in properties.groupby("resolution"):
        real = group[group["class"] == "real"]
        synthetic = group[group["class"] == "synthetic"]
        if real.empty or synthetic.empty:
            continue
        for name in PROPERTIES:
            p_value, delta = mann_whitney(real[name].to_numpy(), synthetic[name].to_numpy())
            rows.append({
                "resolution": int(resolution), "property": name,
                "n_real": len(real), "n_synthetic": len(synthetic),
                "median_real": float(real[name].median()),
                "median_synthetic": float(synthetic[name].median()),
                "p_value": p_value, "cliffs_delta": delta,
                "flagged": bool(p_value < ALPHA and abs(delta) >= LARGE_EFFECT),
            })
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def mann_whitney(real: np.ndarray, synthetic: np.ndarray) -> tuple[float, float]:
    """Two-sided p-value and Cliff's delta (positive: real values larger)."""
    if np.ptp(np.concatenate([real, synthetic])) == 0:
        return 1.0, 0.0  # all values equal: no difference to test
    statistic, p_value = mannwhitneyu(real, synthetic, alternative="two-sided")
    delta = 2.0 * statistic / (len(real) * len(synthetic)) - 1.0
    return float(p_value), float(delta)


def format_result(result: CheckResult) -> str:
    """Text for the command line: errors, warnings and the comparison table."""
    lines = [f"ERROR: {message}" for message in result.errors]
    lines += [f"WARNING: {message}" for message in result.warnings]
    if any(result.catch_counts.values()):
        lines.append("catch images per resolution (excluded from balance and comparison): " +
                     ", ".join(f"{size} px: {count}" for size, count in result.catch_counts.items()))
    elif result.catch_counts:
        lines.append("catch images: none")
    if not result.table.empty:
        lines.append("real vs synthetic, per resolution (Mann-Whitney U, Cliff's delta):")
        lines.append(result.table.to_string(index=False, float_format=lambda value: f"{value:.4g}"))
    lines.append("pool check: " + ("FAILED" if result.errors else "OK") +
                 f" ({len(result.errors)} errors, {len(result.warnings)} warnings)")
    return "\n".join(lines)
