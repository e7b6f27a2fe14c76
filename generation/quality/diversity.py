"""Diversity: MS-SSIM between pairs of images within the synthetic set and within the real set, per label.

A generator that has collapsed onto a few modes makes images that resemble each other more than real
images do, so its within-set MS-SSIM is higher. Pairs are disjoint (each image in at most one pair)
and never two images of one source (two slices of one patient resemble each other for a reason
that says nothing about the generator), so they are independent and the interval is a plain
bootstrap over pairs.

MS-SSIM is MONAI's MultiScaleSSIMMetric (data range 1). Below 161 px it uses 3 scales and a 7 px
window (the standard 5 scales with an 11 px window need more than 160 px); from 161 px the standard
settings (Wang et al. 2003).

Rule: the report warns of mode collapse where the synthetic mean exceeds the real one by more
than COLLAPSE_MARGIN and the 95% interval of the difference lies above zero.
"""

from __future__ import annotations

import numpy as np

from generation.quality.stats import percentile_interval

PAIRS = 200
COLLAPSE_MARGIN = 0.05
STANDARD_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
BATCH = 64


def msssim_settings(size: int) -> dict:
    if size > 160:
        return {"scales": 5, "kernel_size": 11}
    if size >= 32:
        return {"scales": 3, "kernel_size": 7}
    raise ValueError(f"MS-SSIM needs images of at least 32 px, got {size} px")


def disjoint_pairs(sources: list[str], limit: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `limit` pairs of image indices, each image used once, the two of a pair from different sources."""
    order = rng.permutation(len(sources))
    pairs, waiting = [], []
    for i in order:
        partner = next((j for j in waiting if sources[j] != sources[i]), None)
        if partner is None:
            waiting.append(i)
        else:
            waiting.remove(partner)
            pairs.append((partner, i))
            if len(pairs) == limit:
                break
    return np.array(pairs, dtype=int).reshape(-1, 2)


def msssim_pairs(pixels: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """MS-SSIM of each pair of 8-bit images (rows of `pairs` index `pixels`)."""
    import torch
    from monai.metrics import MultiScaleSSIMMetric

    settings = msssim_settings(pixels.shape[-1])
    weights = STANDARD_WEIGHTS[: settings["scales"]]
    metric = MultiScaleSSIMMetric(spatial_dims=2, data_range=1.0, kernel_size=settings["kernel_size"],
                                  weights=tuple(w / sum(weights) for w in weights))
    values = []
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start:start + BATCH]
        a = torch.from_numpy(pixels[chunk[:, 0]].astype(np.float32) / 255.0)[:, None]
        b = torch.from_numpy(pixels[chunk[:, 1]].astype(np.float32) / 255.0)[:, None]
        with torch.no_grad():
            values.append(metric(a, b).reshape(-1).numpy())
    return np.concatenate(values) if values else np.zeros(0)


def diversity(real, synthetic, *, pairs: int = PAIRS, bootstrap: int = 1000, seed: int = 0) -> dict:
    """Within-set MS-SSIM of each class, per label (or over all images without labels)."""
    rng = np.random.default_rng(seed)
    labels = sorted({label for label in real.labels if label is not None}) or [None]
    rows, warnings = [], []
    for label in labels:
        row = {"label": label}
        means = {}
        for image_set in (real, synthetic):
            index = np.array([i for i, value in enumerate(image_set.labels) if label is None or value == label])
            sources = [image_set.sources[i] for i in index]
            chosen = disjoint_pairs(sources, pairs, rng)
            values = msssim_pairs(image_set.pixels[index], chosen) if len(chosen) else np.zeros(0)
            means[image_set.kind] = values
            replicates = [rng.choice(values, values.size).mean() for _ in range(bootstrap)] if values.size else []
            low, high = percentile_interval(replicates)
            row[image_set.kind] = {"mean": float(values.mean()) if values.size else None, "ci_low": low,
                                   "ci_high": high, "pairs": int(values.size)}
        if means["real"].size >= 2 and means["synthetic"].size >= 2:
            replicates = [rng.choice(means["synthetic"], means["synthetic"].size).mean()
                          - rng.choice(means["real"], means["real"].size).mean() for _ in range(bootstrap)]
            difference = float(means["synthetic"].mean() - means["real"].mean())
            low, high = percentile_interval(replicates)
            row["difference"] = {"estimate": difference, "ci_low": low, "ci_high": high}
            row["mode_collapse"] = bool(difference > COLLAPSE_MARGIN and low > 0)
            if row["mode_collapse"]:
                where = f"label {label!r}" if label is not None else "all images"
                warnings.append(
                    f"possible mode collapse at {real.resolution} px ({where}): synthetic images resemble each other "
                    f"more than real ones do (MS-SSIM {means['synthetic'].mean():.3f} vs {means['real'].mean():.3f})")
        else:
            row["difference"], row["mode_collapse"] = None, None
            warnings.append(f"too few pairs for MS-SSIM at {real.resolution} px (label {label!r})")
        rows.append(row)
    settings = msssim_settings(real.resolution)
    return {"measure": "MS-SSIM within each class (MONAI MultiScaleSSIMMetric)", **settings,
            "rule": f"mode collapse: synthetic minus real above {COLLAPSE_MARGIN} with its 95% interval above 0",
            "rows": rows, "warnings": warnings}
