"""The machine reader: can a small CNN, or a nearest-neighbour rule, tell real from synthetic?

- "machine-cnn": the small CNN (generation.quality.cnn) trained to tell the classes apart, scored
  out of fold with FOLDS-fold cross-validation in which one source (patient) is never split across
  folds. Up to 64 px it sees whole images; above, 64 px patches (the score of an image is the mean
  logit over a grid of patches covering it). Batches are class-balanced, so 0.5 is the threshold.
- "machine-1nn": the 1-nearest-neighbour two-sample test (generation.quality.prdc) on the PCA-reduced
  radiomic features, with equal class sizes; it needs no training and is the baseline. Its answers
  depend on each other (neighbours), so its test is a label permutation, not the binomial interval.

Both give accuracy (Wilson interval) and AUC (DeLong interval), and one row per image in the tidy
responses table of docs/architecture.md (reader, case, source, label, truth, answer, confidence,
resolution, trial_kind = main, design = single, correct), so the analysis can show the machine
beside the human readers. Confidence is in [0, 1]: |2p - 1| for the CNN, the relative margin for 1-NN.
"""

from __future__ import annotations

import numpy as np

from generation.quality import cnn
from generation.quality.prdc import nearest_neighbour_test
from generation.quality.stats import delong_auc, wilson_interval
from generation.quality.usefulness import patient_folds

FOLDS = 5
PATCH = 64
TIDY_COLUMNS = ("reader", "case", "source", "label", "truth", "answer", "confidence", "resolution",
                "trial_kind", "design", "correct")


def _summary(truth: np.ndarray, answer: np.ndarray, score: np.ndarray) -> dict:
    correct = int((truth == answer).sum())
    low, high = wilson_interval(correct, len(truth))
    auc = delong_auc(truth, score)
    return {"n": int(len(truth)), "accuracy": correct / len(truth), "accuracy_ci_low": low,
            "accuracy_ci_high": high, "auc": auc["auc"], "auc_se": auc["se"], "auc_ci_low": auc["ci_low"],
            "auc_ci_high": auc["ci_high"]}


def _rows(reader, image_set, index, truth, said_synthetic, confidence) -> list[dict]:
    return [{"reader": reader, "case": image_set.ids[i], "source": image_set.sources[i],
             "label": image_set.labels[i] or "", "truth": "synthetic" if t else "real",
             "answer": "synthetic" if a else "real", "confidence": round(float(c), 4),
             "resolution": image_set.resolution, "trial_kind": "main", "design": "single", "correct": int(t == a)}
            for i, t, a, c in zip(index, truth, said_synthetic, confidence)]


def cnn_reader(real, synthetic, *, seed: int = 0, steps: int = cnn.STEPS, folds: int = FOLDS, progress=None):
    """Out-of-fold CNN answers for every image: (summary, tidy rows)."""
    rng = np.random.default_rng(seed)
    images = np.concatenate([real.pixels, synthetic.pixels])
    truth = np.r_[np.zeros(len(real), bool), np.ones(len(synthetic), bool)]
    groups = list(real.sources) + [f"synthetic:{s}" for s in synthetic.sources]
    folds = min(folds, len(set(groups)))
    fold_of = patient_folds(groups, folds, rng)
    crop = PATCH if real.resolution > PATCH else None
    probability = np.zeros(len(images))
    for fold in range(folds):
        test, train = fold_of == fold, fold_of != fold
        if len(set(truth[train])) < 2:
            raise ValueError("a fold's training part holds only one class; give more images of each class")
        network = cnn.train(images[train], truth[train].astype(int), outputs=2, seed=seed + fold, steps=steps,
                            crop=crop)
        probability[test] = cnn.predict(network, images[test], crop=crop)[:, 1]
        if progress is not None:
            progress.update(1)
    said = probability >= 0.5
    confidence = np.abs(2 * probability - 1)
    n = len(real)
    rows = (_rows("machine-cnn", real, range(n), truth[:n], said[:n], confidence[:n])
            + _rows("machine-cnn", synthetic, range(len(synthetic)), truth[n:], said[n:], confidence[n:]))
    summary = _summary(truth, said, probability)
    summary.update({"folds": folds, "input": f"{crop} px patches" if crop else "whole images", "steps": steps})
    return summary, rows


def nearest_neighbour_reader(real, synthetic, real_embedded, synthetic_embedded, *, seed: int = 0):
    """1-NN two-sample test answers: (summary, tidy rows)."""
    result = nearest_neighbour_test(real_embedded, synthetic_embedded, real.sources, synthetic.sources, seed=seed)
    truth, said, score = result["truth"], result["answer_synthetic"], result["score"]
    finite = np.isfinite(score)
    score = np.where(finite, score, 0.0)
    scale = np.abs(score).max() or 1.0
    confidence = np.abs(score) / scale
    n = len(result["real_index"])
    rows = (_rows("machine-1nn", real, result["real_index"], truth[:n], said[:n], confidence[:n])
            + _rows("machine-1nn", synthetic, result["synthetic_index"], truth[n:], said[n:], confidence[n:]))
    summary = _summary(truth, said, score)
    summary.update({"per_class": n, "features": "PCA-reduced radiomic features, nearest image of another source",
                    "permutation_p": result["permutation_p"], "permutation_null_sd": result["null_sd"],
                    "note": "neighbouring answers are dependent: read the permutation p-value, not the binomial interval"})
    return summary, rows
