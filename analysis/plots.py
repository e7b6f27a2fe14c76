"""Report figures as PNG bytes (matplotlib, Agg backend: no display needed).

Each function takes rows of a report table (a DataFrame or a list of dicts)
and returns the PNG file content, so the same figure can be written to disk,
embedded in HTML as base64, or served by the web app.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _frame(rows, numeric=("accuracy", "ci_low", "ci_high", "chance", "resolution", "fpr", "tpr")) -> pd.DataFrame:
    """Rows as a DataFrame with the plotted columns numeric (None becomes NaN)."""
    frame = pd.DataFrame(rows)
    for column in numeric:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def _error_bars(frame: pd.DataFrame, value: str = "accuracy") -> np.ndarray:
    low = (frame[value] - frame["ci_low"]).clip(lower=0).fillna(0)
    high = (frame["ci_high"] - frame[value]).clip(lower=0).fillna(0)
    return np.vstack([low.to_numpy(float), high.to_numpy(float)])


def accuracy_plot(series: dict, *, title: str = "Accuracy by resolution") -> bytes:
    """Accuracy vs resolution (log2 axis) with intervals and the chance line.

    ``series`` maps a label (e.g. a design) to rows with ``resolution,
    accuracy, ci_low, ci_high, chance``.
    """
    figure, axis = plt.subplots(figsize=(6, 4))
    chances = set()
    for label, rows in series.items():
        frame = _frame(rows).dropna(subset=["accuracy"])
        if len(frame) == 0:
            continue
        axis.errorbar(frame["resolution"], frame["accuracy"], yerr=_error_bars(frame),
                      marker="o", capsize=4, label=str(label))
        chances.update(float(c) for c in frame["chance"].dropna().unique())
    for chance in sorted(chances):
        axis.axhline(chance, color="grey", linestyle="--", linewidth=1)
        axis.annotate(f"chance {chance:g}", (0.01, chance), xycoords=("axes fraction", "data"),
                      va="bottom", fontsize=8, color="grey")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("resolution (pixels)")
    axis.set_ylabel("estimate (95% CI)")
    axis.set_ylim(0, 1.02)
    axis.set_title(title)
    if series:
        axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    figure.set_size_inches(8, 4)
    figure.tight_layout()
    return _png(figure)


def reader_plot(rows, *, title: str = "Accuracy per reader") -> bytes:
    """Per-reader accuracy with intervals, readers sorted by accuracy, chance line."""
    frame = _frame(rows).dropna(subset=["accuracy"]).sort_values("accuracy", kind="stable")
    figure, axis = plt.subplots(figsize=(6, max(2.5, min(12, 0.25 * len(frame) + 1))))
    positions = np.arange(len(frame))
    axis.errorbar(frame["accuracy"], positions, xerr=_error_bars(frame), fmt="o", markersize=3,
                  capsize=2 if len(frame) <= 60 else 0, linewidth=0.8)
    if len(frame) <= 60:
        axis.set_yticks(positions, frame["reader"].astype(str), fontsize=7)
    else:
        axis.set_yticks([])
        axis.set_ylabel(f"{len(frame)} readers, sorted")
    if len(frame):
        axis.axvline(float(frame["chance"].iloc[0]), color="grey", linestyle="--", linewidth=1)
    axis.set_xlim(0, 1.02)
    axis.set_xlabel("accuracy (95% CI)")
    axis.set_title(title)
    return _png(figure)


def roc_plot(curves: dict, *, title: str = "ROC curves") -> bytes:
    """Empirical ROC curves: ``curves`` maps a label to rows with ``fpr, tpr``."""
    figure, axis = plt.subplots(figsize=(7.5, 4.5))
    for label, rows in curves.items():
        frame = _frame(rows)
        axis.plot(frame["fpr"], frame["tpr"], marker=".", label=str(label))
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_title(title)
    axis.set_aspect("equal")
    if curves:  # beside the plot, never over the curves
        axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    figure.tight_layout()
    return _png(figure)
