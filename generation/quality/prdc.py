"""Precision, recall, density and coverage (Naeem et al. 2020) on PCA-reduced radiomic features.

The features are z-scored by the real set (as for the FRD) and projected on the real set's first
principal components. The four measures follow the reference implementation (the `prdc` package,
clovaai/generative-evaluation-prdc): k-nearest-neighbour balls, strict "<" comparisons, k = 5.

Intervals, and the real-versus-real row, come from random splits of the real patients into halves
A and B: A is the reference for both B and an equal number of synthetic images, so the two rows are
measured at the same sample sizes (these measures depend on them).

Reference: Naeem MF, Oh SJ, Uh Y, Choi Y, Yoo J (2020). Reliable fidelity and diversity metrics for
generative models. ICML.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

from generation.quality.fidelity import normalise, patient_halves
from generation.quality.stats import percentile_interval

NEAREST_K = 5
COMPONENTS = 32
FEW_IMAGES = 300
MEASURES = ("precision", "recall", "density", "coverage")


def embed(real: np.ndarray, *others: np.ndarray, components: int = COMPONENTS) -> list[np.ndarray]:
    """z-score by `real`, then project everything on the real set's first principal components."""
    scaled, _ = normalise(real, *others)
    centre = scaled[0].mean(axis=0)
    _, _, vt = np.linalg.svd(scaled[0] - centre, full_matrices=False)
    basis = vt[: min(components, vt.shape[0])].T
    return [(a - centre) @ basis for a in scaled]


def prdc(real: np.ndarray, fake: np.ndarray, k: int = NEAREST_K) -> dict[str, float]:
    """Precision, recall, density and coverage of `fake` against `real` (rows are points)."""
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"precision and recall with k = {k} need more than {k} images per class")
    real_radii = _kth_neighbour(cdist(real, real), k)
    fake_radii = _kth_neighbour(cdist(fake, fake), k)
    between = cdist(real, fake)
    inside_real = between < real_radii[:, np.newaxis]
    return {
        "precision": float(inside_real.any(axis=0).mean()),
        "recall": float((between < fake_radii[np.newaxis, :]).any(axis=1).mean()),
        "density": float(inside_real.sum(axis=0).mean() / k),
        "coverage": float((between.min(axis=1) < real_radii).mean()),
    }


def _kth_neighbour(distances: np.ndarray, k: int) -> np.ndarray:
    return np.partition(distances, k, axis=1)[:, k]  # column 0 is the point itself


def prdc_report(real: np.ndarray, synthetic: np.ndarray, real_sources: list[str], *, splits: int = 50,
                seed: int = 0) -> dict:
    """PRDC real vs synthetic beside real vs real (half against half), with intervals over splits."""
    rng = np.random.default_rng(seed)
    real_e, synthetic_e = embed(real, synthetic)
    rows = {"real_vs_synthetic": [], "real_vs_real": []}
    for _ in range(splits):
        half_a, half_b = patient_halves(real_sources, rng)
        draw = rng.choice(len(synthetic_e), size=min(len(half_b), len(synthetic_e)), replace=False)
        rows["real_vs_synthetic"].append(prdc(real_e[half_a], synthetic_e[draw]))
        rows["real_vs_real"].append(prdc(real_e[half_a], real_e[half_b]))
    result = {"k": NEAREST_K, "components": int(real_e.shape[1]), "splits": int(splits),
              "all_images": prdc(real_e, synthetic_e), "n_real": int(len(real)), "n_synthetic": int(len(synthetic)),
              "method": "medians and 95% intervals over random splits of the real patients into halves A and B: "
                        "A against B, and A against as many synthetic images as B has"}
    for row, values in rows.items():
        result[row] = {}
        for measure in MEASURES:
            series = np.array([v[measure] for v in values])
            low, high = percentile_interval(series)
            result[row][measure] = {"median": float(np.median(series)), "ci_low": low, "ci_high": high}
    fewest = min(len(real), len(synthetic))
    result["warning"] = (
        f"only {fewest} images in the smaller class: with k = {NEAREST_K} nearest neighbours these measures "
        f"are coarse below a few hundred images per class (at 50 they are nearly all-or-nothing)"
        if fewest < FEW_IMAGES else None)
    return result


def nearest_neighbour_test(real: np.ndarray, synthetic: np.ndarray, real_sources: list[str],
                           synthetic_sources: list[str], *, seed: int = 0, permutations: int = 200) -> dict:
    """Leave-one-source-out 1-nearest-neighbour two-sample test on equal-sized classes.

    Each image is answered with the class of its nearest image of another source; chance is 1/2.
    The score (for the AUC) is the distance to the nearest real image minus that to the nearest
    synthetic one. Returns per-image rows (index into each class, answer, score) and the classes
    as used (the larger class subsampled to the size of the smaller), and a permutation p-value:
    the answers of neighbouring images are not independent, so a binomial interval is too narrow;
    shuffling the class labels (the distances kept) gives the accuracy's null distribution.
    """
    rng = np.random.default_rng(seed)
    n = min(len(real), len(synthetic))
    real_pick = np.sort(rng.choice(len(real), n, replace=False))
    synthetic_pick = np.sort(rng.choice(len(synthetic), n, replace=False))
    points = np.concatenate([real[real_pick], synthetic[synthetic_pick]])
    sources = np.array([real_sources[i] for i in real_pick] + [f"synthetic:{synthetic_sources[i]}"
                                                                for i in synthetic_pick])
    truth = np.r_[np.zeros(n, bool), np.ones(n, bool)]
    distances = cdist(points, points)
    distances[sources[:, None] == sources[None, :]] = np.inf  # never one's own source (patient)
    accuracy = lambda labels: float(((distances[:, labels].min(axis=1) < distances[:, ~labels].min(axis=1))  # noqa: E731
                                     == labels).mean())
    observed = accuracy(truth)
    null = np.array([accuracy(rng.permutation(truth)) for _ in range(permutations)])
    to_real = distances[:, ~truth].min(axis=1)
    to_synthetic = distances[:, truth].min(axis=1)
    return {"real_index": real_pick, "synthetic_index": synthetic_pick, "truth": truth,
            "answer_synthetic": to_synthetic < to_real, "score": to_real - to_synthetic, "accuracy": observed,
            "permutation_p": float((1 + np.sum(null >= observed)) / (1 + permutations)),
            "null_sd": float(null.std())}
