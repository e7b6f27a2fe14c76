"""Memorisation: is a synthetic image a copy of a training image?

For every synthetic image, its nearest training image by two similarities:
- pixel correlation: Pearson's r over all pixels, at the report's resolution;
- shift-tolerant correlation: the largest r over shifts of up to SHIFT_FRACTION of the width (at
  least 1 px), computed on images reduced to at most WORKING_SIZE px by area averaging, on the
  central part that every shift keeps.

Neighbouring slices of one patient correlate about 0.98, so no fixed threshold separates copies
from honest likeness. The yardstick is the same similarity for real images the generator never
saw: each held-out real image's nearest training image *of another patient* (its own patient's
other slices are left out). Rule: a synthetic image is flagged when its shift-tolerant similarity
to its nearest training image exceeds the `quantile` (default 0.99) of that null distribution.
About (1 - quantile) of synthetic images pass it by chance (more when the null has few images:
(1 + null images above the threshold) / (null images + 1)); the report states that number.

Without a training list every real image counts as both training image and held-out image, so
each real image is compared with the real images of the other patients.
"""

from __future__ import annotations

import numpy as np

WORKING_SIZE = 64
SHIFT_FRACTION = 1 / 32
QUANTILE = 0.99
CHUNK = 256


def _standardise(rows: np.ndarray) -> np.ndarray:
    rows = rows.reshape(len(rows), -1).astype(np.float32)
    rows = rows - rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1)


def reduce(pixels: np.ndarray, size: int = WORKING_SIZE) -> np.ndarray:
    """Images reduced to at most `size` px by averaging blocks (float32)."""
    width = pixels.shape[-1]
    if width <= size:
        return pixels.astype(np.float32)
    factor = int(np.ceil(width / size))
    usable = (width // factor) * factor
    blocks = pixels[:, :usable, :usable].astype(np.float32)
    return blocks.reshape(len(pixels), usable // factor, factor, usable // factor, factor).mean(axis=(2, 4))


def nearest(query: np.ndarray, reference: np.ndarray, query_sources, reference_sources,
            *, shifts: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """For each query image, the index of its most similar reference image of another source, and
    that similarity (max Pearson r over shifts of up to `shifts` px). Sources may be None (no exclusion)."""
    size = query.shape[-1]
    inner = size - 2 * shifts
    reference_rows = _standardise(reference[:, shifts:shifts + inner, shifts:shifts + inner])
    best = np.full(len(query), -np.inf, dtype=np.float32)
    where = np.zeros(len(query), dtype=int)
    reference_sources = None if reference_sources is None else np.asarray(reference_sources)
    for start in range(0, len(query), CHUNK):
        block = query[start:start + CHUNK]
        top = np.full((len(block), len(reference)), -np.inf, dtype=np.float32)
        for dy in range(2 * shifts + 1):
            for dx in range(2 * shifts + 1):
                rows = _standardise(block[:, dy:dy + inner, dx:dx + inner])
                np.maximum(top, rows @ reference_rows.T, out=top)
        if query_sources is not None and reference_sources is not None:
            same = np.asarray(query_sources[start:start + CHUNK])[:, None] == reference_sources[None, :]
            top[same] = -np.inf
        where[start:start + CHUNK] = top.argmax(axis=1)
        best[start:start + CHUNK] = top.max(axis=1)
    return where, best


def memorisation(real, synthetic, *, quantile: float = QUANTILE) -> dict:
    """Nearest training image of every synthetic image, the null from held-out real images, and the flags."""
    trained = real.trained if real.trained is not None and real.trained.any() else None
    reference_index = np.flatnonzero(trained) if trained is not None else np.arange(len(real))
    held_out_index = np.flatnonzero(~trained) if trained is not None else np.arange(len(real))
    reference = real.subset(reference_index)
    held_out = real.subset(held_out_index)
    shifts = max(1, int(round(min(real.resolution, WORKING_SIZE) * SHIFT_FRACTION)))
    reduced_reference = reduce(reference.pixels)
    null_where, null_shift = nearest(reduce(held_out.pixels), reduced_reference, held_out.sources, reference.sources,
                                     shifts=shifts)
    _, null_pixel = nearest(held_out.pixels, reference.pixels, held_out.sources, reference.sources)
    finite = np.isfinite(null_shift)
    if finite.sum() < 10:
        raise ValueError(f"the memorisation check needs at least 10 held-out real images with a training image of "
                         f"another patient; found {int(finite.sum())} at {real.resolution} px")
    threshold = float(np.quantile(null_shift[finite], quantile))
    pixel_threshold = float(np.quantile(null_pixel[np.isfinite(null_pixel)], quantile))
    syn_where, syn_shift = nearest(reduce(synthetic.pixels), reduced_reference, None, None, shifts=shifts)
    syn_pixel_where, syn_pixel = nearest(synthetic.pixels, reference.pixels, None, None)
    flagged = syn_shift > threshold
    rows = [{"id": synthetic.ids[i], "source_id": synthetic.sources[i], "source": synthetic.names[i],
             "nearest_training_id": reference.ids[syn_where[i]], "nearest_training_source": reference.names[syn_where[i]],
             "shift_tolerant": float(syn_shift[i]), "pixel_correlation": float(syn_pixel[i]),
             "pixel_nearest_training_id": reference.ids[syn_pixel_where[i]], "flagged": bool(flagged[i]),
             "_synthetic_index": int(i), "_training_index": int(reference_index[syn_where[i]])}
            for i in range(len(synthetic))]
    return {
        "rule": (f"flag a synthetic image when its shift-tolerant correlation with its nearest training image exceeds "
                 f"the {quantile:.0%} quantile of the same measure for held-out real images against the training "
                 f"images of other patients"),
        "reference": "training list" if trained is not None else "all real images (no training list)",
        "n_training": int(len(reference)), "n_held_out": int(len(held_out)), "n_synthetic": int(len(synthetic)),
        "shift_px": shifts, "working_px": int(min(real.resolution, WORKING_SIZE)), "quantile": quantile,
        "threshold": threshold, "pixel_threshold": pixel_threshold,
        "null_shift_tolerant": [float(v) for v in null_shift[finite]],
        "null_nearest": [{"id": held_out.ids[i], "source_id": held_out.sources[i],
                          "nearest_training_id": reference.ids[null_where[i]],
                          "nearest_training_source_id": reference.sources[null_where[i]],
                          "shift_tolerant": float(null_shift[i])} for i in np.flatnonzero(finite)],
        "synthetic": rows,
        "n_flagged": int(flagged.sum()),
        # a new image from the null passes the empirical threshold with chance (1 + null above it) / (m + 1)
        "expected_by_chance": float((1 + np.sum(null_shift[finite] > threshold)) / (finite.sum() + 1)
                                    * len(synthetic)),
        "warning": (f"the threshold rests on only {int(finite.sum())} held-out real images: give a few hundred "
                    "for a sharper rule" if finite.sum() < 100 else None),
    }
