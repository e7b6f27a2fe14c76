"""Usefulness: does a classifier of the labels learn as much from synthetic images as from real ones?

One small CNN (generation.quality.cnn) on images reduced to at most WORKING_SIZE px is trained on
real images, on synthetic images and on both, and always tested on real images the generator never
saw (not in --train-list), grouped by patient: the hold-out patients are split into FOLDS folds;
for each fold, "real" trains on the generator's training images plus the other folds' hold-out
images, "synthetic" on the synthetic images, "both" on the two together. Real and synthetic are cut
to the same number of images per label first, so the comparison is not one of set sizes.

Per label: the one-versus-rest AUC of the pooled out-of-fold scores with DeLong's interval, and
DeLong's paired test of synthetic against real and of both against real on the same test images.
A learning curve (first fold) gives the mean AUC over labels for 4, 16, 64, ... training images per
label, from real and from synthetic images.
"""

from __future__ import annotations

import numpy as np

from generation.quality import cnn
from generation.quality.memorisation import reduce
from generation.quality.stats import delong_auc, delong_paired

WORKING_SIZE = 64
FOLDS = 3
SOURCES = ("real", "synthetic", "both")


def patient_folds(sources: list[str], folds: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number of each image; all images of one source (patient) in one fold."""
    unique = np.array(sorted(set(sources)))
    rng.shuffle(unique)
    fold_of = {source: n % folds for n, source in enumerate(unique)}
    return np.array([fold_of[s] for s in sources])


def _balanced(targets: np.ndarray, per_label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([rng.choice(np.flatnonzero(targets == c), per_label[c], replace=False)
                           for c in range(len(per_label)) if per_label[c] > 0])


def _macro_auc(truth: np.ndarray, scores: np.ndarray, labels: list[str]) -> float:
    aucs = []
    for c in range(len(labels)):
        positive = truth == c
        if 2 <= positive.sum() <= len(truth) - 2:
            aucs.append(delong_auc(positive, scores[:, c])["auc"])
    return float(np.mean(aucs)) if aucs else float("nan")


def usefulness(real, synthetic, *, seed: int = 0, steps: int = cnn.STEPS, folds: int = FOLDS,
               progress=None) -> dict:
    """AUC per label of classifiers trained on real, synthetic and both, tested on real hold-out images."""
    rng = np.random.default_rng(seed)
    labels = sorted(set(real.labels))
    code = {label: n for n, label in enumerate(labels)}
    real_x, synthetic_x = reduce(real.pixels, WORKING_SIZE), reduce(synthetic.pixels, WORKING_SIZE)
    real_y = np.array([code[label] for label in real.labels])
    synthetic_y = np.array([code[label] for label in synthetic.labels])
    held_out = np.flatnonzero(~real.trained)
    folds = min(folds, len({real.sources[i] for i in held_out}))
    if folds < 2:
        raise ValueError("usefulness needs real hold-out images from at least 2 patients")
    fold_of = patient_folds([real.sources[i] for i in held_out], folds, rng)
    test_index, test_scores = [], {source: [] for source in SOURCES}
    curve = {"real": [], "synthetic": []}
    for fold in range(folds):
        test = held_out[fold_of == fold]
        train_real = np.setdiff1d(np.arange(len(real)), test)
        real_counts = np.bincount(real_y[train_real], minlength=len(labels))
        synthetic_counts = np.bincount(synthetic_y, minlength=len(labels))
        per_label = np.minimum(real_counts, synthetic_counts)
        pick_real = train_real[_balanced(real_y[train_real], per_label, rng)]
        pick_synthetic = _balanced(synthetic_y, per_label, rng)
        training = {
            "real": (real_x[pick_real], real_y[pick_real]),
            "synthetic": (synthetic_x[pick_synthetic], synthetic_y[pick_synthetic]),
            "both": (np.concatenate([real_x[pick_real], synthetic_x[pick_synthetic]]),
                     np.concatenate([real_y[pick_real], synthetic_y[pick_synthetic]])),
        }
        for n, source in enumerate(SOURCES):
            x, y = training[source]
            network = cnn.train(x, y, outputs=len(labels), seed=seed + 10 * fold + n, steps=steps)
            test_scores[source].append(cnn.predict(network, real_x[test]))
            if progress is not None:
                progress.update(1)
        test_index.append(test)
        if fold == 0:
            for size in _curve_sizes(int(per_label[per_label > 0].min())):
                for n, source in enumerate(("real", "synthetic")):
                    x, y = training[source]
                    pick = _balanced(y, np.where(per_label > 0, size, 0), rng)
                    network = cnn.train(x[pick], y[pick], outputs=len(labels), seed=seed + 1000 + size + n, steps=steps)
                    curve[source].append({"per_label": size,
                                          "auc": _macro_auc(real_y[test], cnn.predict(network, real_x[test]), labels)})
    test = np.concatenate(test_index)
    truth = real_y[test]
    scores = {source: np.concatenate(parts) for source, parts in test_scores.items()}
    per_label_rows, notes = [], []
    for c, label in enumerate(labels):
        positive = truth == c
        row = {"label": label, "n_test_positive": int(positive.sum()), "n_test": int(len(truth))}
        if positive.sum() < 2 or (~positive).sum() < 2:
            notes.append(f"label {label!r}: fewer than 2 hold-out images with (or without) it; no AUC")
            per_label_rows.append(row)
            continue
        for source in SOURCES:
            row[source] = delong_auc(positive, scores[source][:, c])
        row["synthetic_minus_real"] = delong_paired(positive, scores["synthetic"][:, c], scores["real"][:, c])
        row["both_minus_real"] = delong_paired(positive, scores["both"][:, c], scores["real"][:, c])
        per_label_rows.append(row)
    macro = {source: _macro_auc(truth, scores[source], labels) for source in SOURCES}
    return {
        "classifier": f"small CNN on images reduced to {min(real.resolution, WORKING_SIZE)} px, {steps} steps",
        "labels": labels, "folds": folds, "n_test": int(len(test)),
        "n_train_per_label": {"real_and_synthetic": [int(v) for v in per_label]},
        "per_label": per_label_rows, "mean_auc": macro,
        "gap": macro["synthetic"] - macro["real"],
        "learning_curve": curve, "notes": notes,
        "method": "tested only on real hold-out images, patients never split across folds; real and synthetic "
                  "training sets cut to the same size per label; DeLong intervals and paired tests",
    }


def _curve_sizes(largest: int) -> list[int]:
    sizes, size = [], 4
    while size < largest:
        sizes.append(size)
        size *= 4
    return sizes + [largest]

