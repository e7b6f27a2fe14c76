"""The quality report's figures, as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REAL, SYNTHETIC, BOTH = "#4c72b0", "#dd8452", "#55a868"
MAX_PAIRS = 12


def draw_all(report: dict, private: dict, folder: Path) -> dict[str, list[tuple[str, Path]]]:
    """Draw every figure; return section name -> [(caption, file)] for the page."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "figure.dpi": 100})
    pictures: dict[str, list] = {}

    def add(section: str, caption: str, figure, name: str) -> None:
        path = folder / f"{name}.png"
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)
        pictures.setdefault(section, []).append((caption, path))

    entries = report["resolutions"]
    with_fidelity = [e for e in entries if e.get("fidelity")]
    if with_fidelity:
        figure, axis = plt.subplots(figsize=(6, 3))
        sizes = np.arange(len(with_fidelity))
        for offset, key, colour, text in ((-0.1, "real_vs_real", REAL, "real half vs real half"),
                                          (0.1, "real_vs_synthetic", SYNTHETIC, "real half vs synthetic")):
            rows = [e["fidelity"][key] for e in with_fidelity]
            median = np.array([r["median"] for r in rows])
            axis.errorbar(sizes + offset, median, yerr=[median - [r["ci_low"] for r in rows],
                                                        [r["ci_high"] for r in rows] - median],
                          fmt="o", color=colour, capsize=3, label=text)
        axis.set_xticks(sizes, [f"{e['resolution']} px" for e in with_fidelity])
        axis.set_ylabel("FRD (log d²)")
        axis.legend(frameon=False)
        add("fidelity", "FRD with 95% intervals over random splits of the real patients", figure, "frd")
    for entry in entries:
        r = entry["resolution"]
        if entry.get("fidelity"):
            top = entry["fidelity"]["top_features"][:10][::-1]
            figure, axis = plt.subplots(figsize=(6, 3.2))
            d = np.array([t["cohens_d"] for t in top])
            axis.barh(range(len(top)), d, xerr=[d - [t["ci_low"] for t in top], [t["ci_high"] for t in top] - d],
                      color=SYNTHETIC, capsize=2)
            axis.set_yticks(range(len(top)), [t["feature"][-48:] for t in top], fontsize=7)
            axis.axvline(0, color="black", lw=0.8)
            axis.set_xlabel("Cohen's d (synthetic minus real)")
            add("fidelity", f"{r} px: radiomic features that differ most", figure, f"features_{r}")
        if entry.get("prdc"):
            figure, axis = plt.subplots(figsize=(6, 2.8))
            measures = ("precision", "recall", "density", "coverage")
            for offset, key, colour, text in ((-0.12, "real_vs_real", REAL, "real vs real"),
                                              (0.12, "real_vs_synthetic", SYNTHETIC, "real vs synthetic")):
                rows = [entry["prdc"][key][m] for m in measures]
                median = np.array([row["median"] for row in rows])
                axis.errorbar(np.arange(4) + offset, median,
                              yerr=[median - [row["ci_low"] for row in rows], [row["ci_high"] for row in rows] - median],
                              fmt="o", color=colour, capsize=3, label=text)
            axis.set_xticks(range(4), measures)
            axis.legend(frameon=False)
            add("prdc", f"{r} px: precision, recall, density and coverage", figure, f"prdc_{r}")
        if entry.get("diversity"):
            rows = entry["diversity"]["rows"]
            figure, axis = plt.subplots(figsize=(6, 2.8))
            for offset, kind, colour in ((-0.12, "real", REAL), (0.12, "synthetic", SYNTHETIC)):
                means = np.array([row[kind]["mean"] if row[kind]["mean"] is not None else np.nan for row in rows])
                low = np.array([row[kind]["ci_low"] for row in rows], dtype=float)
                high = np.array([row[kind]["ci_high"] for row in rows], dtype=float)
                axis.errorbar(np.arange(len(rows)) + offset, means, yerr=[means - low, high - means], fmt="o",
                              color=colour, capsize=3, label=kind)
            axis.set_xticks(range(len(rows)), [row["label"] or "all images" for row in rows])
            axis.set_ylabel("MS-SSIM within the class")
            axis.legend(frameon=False)
            add("diversity", f"{r} px: within-class MS-SSIM (higher = less diverse)", figure, f"diversity_{r}")
        memo = private.get(r, {}).get("memorisation")
        if memo:
            figure, axis = plt.subplots(figsize=(6, 2.8))
            synthetic_values = [row["shift_tolerant"] for row in memo["synthetic"]]
            bins = np.linspace(min(min(memo["null_shift_tolerant"]), min(synthetic_values)), 1.0, 40)
            axis.hist(memo["null_shift_tolerant"], bins=bins, alpha=0.6, color=REAL, density=True,
                      label="held-out real → training (other patients)")
            axis.hist(synthetic_values, bins=bins, alpha=0.6, color=SYNTHETIC, density=True,
                      label="synthetic → training")
            axis.axvline(memo["threshold"], color="black", ls="--", lw=1, label=f"{memo['quantile']:.0%} threshold")
            axis.set_xlabel("shift-tolerant correlation with the nearest training image")
            axis.legend(frameon=False, fontsize=7)
            add("memorisation", f"{r} px: nearest-training similarity", figure, f"memorisation_{r}")
            flagged = sorted((row for row in memo["synthetic"] if row["flagged"]), key=lambda row: -row["shift_tolerant"])
            if flagged:
                keep = private[r]
                shown = flagged[:MAX_PAIRS]
                figure, axes = plt.subplots(len(shown), 2, figsize=(4, 2 * len(shown)), squeeze=False)
                for row, (left, right) in zip(shown, axes):
                    left.imshow(keep["synthetic"].pixels[row["_synthetic_index"]], cmap="gray", vmin=0, vmax=255)
                    right.imshow(keep["real"].pixels[row["_training_index"]], cmap="gray", vmin=0, vmax=255)
                    left.set_title(f"synthetic {row['source'][-28:]}", fontsize=7)
                    right.set_title(f"training {row['nearest_training_source'][-22:]}  r={row['shift_tolerant']:.3f}",
                                    fontsize=7)
                    left.axis("off")
                    right.axis("off")
                add("memorisation", f"{r} px: flagged synthetic images beside their nearest training image"
                    + (f" (the {MAX_PAIRS} most similar of {len(flagged)})" if len(flagged) > MAX_PAIRS else ""),
                    figure, f"flagged_{r}")
        use = entry.get("usefulness")
        if use:
            rows = [row for row in use["per_label"] if "real" in row]
            figure, (axis, curve) = plt.subplots(1, 2, figsize=(8, 2.8))
            for offset, source, colour in ((-0.2, "real", REAL), (0, "synthetic", SYNTHETIC), (0.2, "both", BOTH)):
                auc = np.array([row[source]["auc"] for row in rows])
                axis.errorbar(np.arange(len(rows)) + offset, auc,
                              yerr=[auc - [row[source]["ci_low"] for row in rows],
                                    [row[source]["ci_high"] for row in rows] - auc],
                              fmt="o", color=colour, capsize=3, label=f"trained on {source}")
            axis.axhline(0.5, color="grey", lw=0.8)
            axis.set_xticks(range(len(rows)), [row["label"] for row in rows])
            axis.set_ylabel("AUC on real hold-out")
            axis.legend(frameon=False, fontsize=7)
            for source, colour in (("real", REAL), ("synthetic", SYNTHETIC)):
                points = use["learning_curve"][source]
                curve.plot([p["per_label"] for p in points], [p["auc"] for p in points], "o-", color=colour,
                           label=source)
            curve.set_xscale("log", base=2)
            curve.set_xlabel("training images per label")
            curve.set_ylabel("mean AUC")
            curve.legend(frameon=False, fontsize=7)
            add("usefulness", f"{r} px: classifiers of the labels, tested on real hold-out images", figure,
                f"usefulness_{r}")
    with_machine = [e for e in entries if e.get("machine_reader")]
    if with_machine:
        figure, axis = plt.subplots(figsize=(6, 2.8))
        sizes = np.arange(len(with_machine))
        for offset, reader, colour in ((-0.1, "machine-cnn", SYNTHETIC), (0.1, "machine-1nn", REAL)):
            rows = [e["machine_reader"][reader] for e in with_machine]
            auc = np.array([row["auc"] for row in rows])
            axis.errorbar(sizes + offset, auc, yerr=[auc - [row["auc_ci_low"] for row in rows],
                                                     [row["auc_ci_high"] for row in rows] - auc],
                          fmt="o", color=colour, capsize=3, label=reader)
        axis.axhline(0.5, color="grey", lw=0.8)
        axis.set_xticks(sizes, [f"{e['resolution']} px" for e in with_machine])
        axis.set_ylabel("AUC real vs synthetic")
        axis.set_ylim(0, 1)
        axis.legend(frameon=False)
        add("machine", "Machine readers: AUC with DeLong 95% intervals (0.5 = chance)", figure, "machine_reader")
    return pictures
