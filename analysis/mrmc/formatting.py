"""Plain-text report of an ORResult, laid out like the OR-DBM MRMC printout."""

from __future__ import annotations

import math

import pandas as pd

from analysis.mrmc.inputs import COVARIANCES, FOMS
from analysis.mrmc.result import ORResult


def _fmt(value, digits: int = 8) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def _format_rows(table: pd.DataFrame, label: str) -> list[str]:
    lines = [f"  {label:<14}{'estimate':>12}{'StdErr':>12}{'df':>9}{'stat':>8}{'p':>8}   95% CI"]
    for row in table.to_dict("records"):
        df = "-" if row["df"] is None or pd.isna(row["df"]) else _fmt(row["df"], 2)
        lines.append(
            f"  {str(row[label]):<14}{_fmt(row['estimate']):>12}{_fmt(row['se']):>12}{df:>9}"
            f"{_fmt(row.get('statistic'), 2):>8}{_fmt(row.get('p_value'), 4):>8}"
            f"   ({_fmt(row['ci_low'])}, {_fmt(row['ci_high'])})"
        )
    return lines


def format_table(result: ORResult) -> str:
    """Plain-text report of an :class:`ORResult`, laid out like the OR-DBM MRMC printout."""
    n_cases = result.n_signal + result.n_noise
    lines = [
        f"Obuchowski-Rockette MRMC analysis: FOM {FOMS[result.fom]}, "
        f"{COVARIANCES[result.cov]} covariances",
        f"{len(result.modalities)} modalities, {len(result.readers)} readers, {n_cases} cases "
        f"({result.n_noise} noise, {result.n_signal} signal)",
        "",
        "Reader x modality FOM",
        result.foms.pivot(index="reader", columns="modality", values="fom")
        .to_string(float_format=lambda v: f"{v:.8f}"),
        "",
        "Modality means",
        *(f"  {m:<12} {_fmt(v)}" for m, v in zip(result.modality_means["modality"],
                                                 result.modality_means["fom"])),
        "",
        "OR variance components",
        *(f"  {name:<12} {_fmt(result.components[key])}" for name, key in
          [("Var(R)", "var_r"), ("Var(T*R)", "var_tr"), ("Cov1", "cov1"), ("Cov2", "cov2"),
           ("Cov3", "cov3"), ("Var(Error)", "var_error")]),
    ]
    titles = {
        "RRRC": "Random readers, random cases (Hillis ddf)",
        "FRRC": "Fixed readers, random cases",
        "RRFC": "Random readers, fixed cases",
    }
    level = round(100 * (1 - result.alpha))
    for analysis in (result.rrrc, result.frrc, result.rrfc):
        lines += ["", f"{analysis.name}: {titles[analysis.name]}"]
        if analysis.statistic is not None:
            dfs = f"{analysis.ndf}" if analysis.ddf is None else f"{analysis.ndf}, {analysis.ddf:.2f}"
            lines.append(
                f"  {analysis.statistic_name}({dfs}) = {analysis.statistic:.4f}, "
                f"p = {analysis.p_value:.4f}, error term {_fmt(analysis.error_term)}"
            )
        if analysis.note:
            lines.append(f"  note: {analysis.note}")
        if len(analysis.differences):
            lines += [f"  Differences ({level}% CI)", *_format_rows(analysis.differences, "comparison")]
        lines += [f"  Single modality ({level}% CI)", *_format_rows(analysis.single, "modality")]
    return "\n".join(lines) + "\n"
