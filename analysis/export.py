"""Exports of the responses table: csv, parquet and the iMRMC input format.

iMRMC (FDA, Gallas et al.) reads a text file with a free header, the counts
``N0`` (non-signal cases), ``N1`` (signal cases), ``NR`` (readers), ``NM``
(modalities), a ``BEGIN DATA:`` line, one truth row per case
(``-1,case,truth,0|1``) and then one row per reading (``reader,case,modality,score``),
as in the reference file ``shared/refdata/vandyke.imrmc``.  Mirage writes
synthetic as the signal (truth 1) and the resolution as the modality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.tidy import AnalysisInputError, main_trials


def to_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the responses table as csv (no index); returns the path."""
    path = Path(path)
    df.to_csv(path, index=False)
    return path


def to_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the responses table as parquet (pyarrow); returns the path."""
    path = Path(path)
    table = df.copy()
    if "exposure_ok" in table:
        table["exposure_ok"] = table["exposure_ok"].astype("boolean")
    table.to_parquet(path, index=False)
    return path


def mrmc_scores(df: pd.DataFrame) -> pd.DataFrame:
    """Main single-image and rating trials as ``reader, case, modality, truth, score``.

    ``truth`` is 1 for synthetic images; ``modality`` is the resolution.  The
    score is higher for "more likely synthetic":

    * single design with confidence ``c`` (0..C or 1..C, C the highest confidence
      seen): ``C + 1 + c`` when the answer was synthetic, ``C - c`` when it was
      real.  Every "synthetic" answer thus scores above every "real" answer
      (``C + 1 + c >= C + 1 > C >= C - c`` for any ``0 <= c <= C``), and within an
      answer the confidence orders the scores: sure synthetic > unsure synthetic >
      unsure real > sure real, on the web app's 1-5 and 0-100 scales alike;
    * single design without confidence: the binary answer (synthetic = 1);
    * rating design (realism ``r``): ``max(r) + 1 - r``.

    Empty answers and forced-choice trials are left out.
    """
    data = main_trials(df)
    single = data[(data["design"] == "single") & (data["answer"] != "empty")]
    rating = data[(data["design"] == "rating") & data["rating"].notna()]
    parts = []
    if len(single):
        said_synthetic = (single["answer"] == "synthetic").to_numpy()
        confidence = single["confidence"].to_numpy(float)
        if np.isnan(confidence).any():
            score = said_synthetic.astype(float)
        else:
            top = confidence.max()
            score = np.where(said_synthetic, top + 1 + confidence, top - confidence)
        parts.append(pd.DataFrame({"reader": single["reader"].astype(str).to_numpy(),
                                   "case": single["case"].astype(str).to_numpy(),
                                   "modality": single["resolution"].to_numpy(),
                                   "truth": (single["truth"] == "synthetic").to_numpy().astype(int),
                                   "score": score}))
    if len(rating):
        realism = rating["rating"].to_numpy(float)
        parts.append(pd.DataFrame({"reader": rating["reader"].astype(str).to_numpy(),
                                   "case": rating["case"].astype(str).to_numpy(),
                                   "modality": rating["resolution"].to_numpy(),
                                   "truth": (rating["truth"] == "synthetic").to_numpy().astype(int),
                                   "score": realism.max() + 1 - realism}))
    if not parts:
        raise AnalysisInputError("no answered single-image or rating trials: nothing to export for MRMC.")
    return pd.concat(parts, ignore_index=True)


def to_imrmc(df: pd.DataFrame, *, title: str = "Mirage reader study") -> str:
    """The responses as iMRMC input text (see the module docstring).

    Example
    -------
    >>> print(to_imrmc(df)[:40])  # doctest: +SKIP
    Mirage reader study
    N0:12
    ...
    """
    scores = mrmc_scores(df)
    for name in ("reader", "case"):
        if scores[name].str.contains(",").any():
            raise AnalysisInputError(f"a {name} id contains a comma, which the iMRMC format cannot hold.")
    cases = scores.drop_duplicates("case")[["case", "truth"]].sort_values(["truth", "case"], kind="stable")
    lines = [title.replace("\n", " "), f"N0:{int((cases['truth'] == 0).sum())}",
             f"N1:{int((cases['truth'] == 1).sum())}", f"NR:{scores['reader'].nunique()}",
             f"NM:{scores['modality'].nunique()}", "BEGIN DATA:"]
    lines += [f"-1,{case},truth,{truth}" for case, truth in zip(cases["case"], cases["truth"])]
    lines += [f"{r},{c},{m},{s:.6f}" for r, c, m, s in
              zip(scores["reader"], scores["case"], scores["modality"], scores["score"])]
    return "\n".join(lines) + "\n"
