"""Reader exclusion rules: explicit, named, and reported reader by reader.

A rule is written ``name`` or ``name:threshold`` (``failed_catch:0.75``).
`apply_exclusions` drops every response of a reader who breaks any rule and
returns a report with one row per (reader, broken rule) saying why.  Rules are
fixed before unblinding (pre-registration); practice and catch trials serve
only these checks and never count in main accuracy (`tidy.main_trials`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from analysis.tidy import AnalysisInputError


def _accuracy_of(kind: str) -> Callable[[pd.DataFrame], pd.Series]:
    def measure(df: pd.DataFrame) -> pd.Series:
        rows = df[(df["trial_kind"] == kind) & df["correct"].notna()]
        return rows.groupby("reader", observed=True)["correct"].mean()
    return measure


def _median_response_ms(df: pd.DataFrame) -> pd.Series:
    rows = df[(df["trial_kind"] == "main") & df["response_ms"].notna()]
    return rows.groupby("reader", observed=True)["response_ms"].median()


def _completion(df: pd.DataFrame) -> pd.Series:
    main = df[df["trial_kind"] == "main"]
    answered = main["correct"].notna() & ((main["answer"] != "empty") | (main["design"] != "single"))
    per_reader = answered.groupby(main["reader"], observed=True).sum()
    return per_reader / max(int(per_reader.max()), 1) if len(per_reader) else per_reader


def _same_answer_share(df: pd.DataFrame) -> pd.Series:
    rows = df[(df["trial_kind"] == "main") & (df["design"] == "single") & (df["answer"] != "empty")]
    if len(rows) == 0:
        return pd.Series(dtype=float)
    counts = rows.groupby(["reader", "answer"], observed=True).size()
    return counts.groupby(level=0, observed=True).max() / counts.groupby(level=0, observed=True).sum()


@dataclass(frozen=True)
class RuleSpec:
    """One kind of rule: what it measures per reader and when that excludes."""

    measure: Callable[[pd.DataFrame], pd.Series]
    default: float
    excludes_below: bool
    what: str
    unit: str = ""


RULES: dict[str, RuleSpec] = {
    "failed_practice": RuleSpec(_accuracy_of("practice"), 0.5, True, "practice accuracy"),
    "failed_catch": RuleSpec(_accuracy_of("catch"), 0.8, True, "catch-trial accuracy"),
    "too_fast": RuleSpec(_median_response_ms, 300.0, True, "median response time", " ms"),
    "incomplete": RuleSpec(_completion, 0.9, True, "share of main trials answered (of the most any reader answered)"),
    "same_answer": RuleSpec(_same_answer_share, 0.95, False, "share of main answers that were the same label"),
}


@dataclass(frozen=True)
class Rule:
    """A named rule with its threshold, e.g. ``Rule('failed_catch', 0.8)``."""

    name: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.name}:{self.threshold:g}"

    @classmethod
    def parse(cls, text: str) -> "Rule":
        """``'failed_catch'`` (default threshold) or ``'failed_catch:0.75'``."""
        name, _, value = str(text).strip().replace("=", ":").partition(":")
        if name not in RULES:
            raise AnalysisInputError(f"unknown exclusion rule {name!r}; known rules: {', '.join(RULES)}.")
        if not value:
            return cls(name, RULES[name].default)
        try:
            return cls(name, float(value))
        except ValueError:
            raise AnalysisInputError(f"exclusion rule {text!r}: the threshold after ':' must be a number.") from None


def _as_rules(rules: Iterable) -> list[Rule]:
    if isinstance(rules, (str, Rule)):
        rules = [rules]
    return [rule if isinstance(rule, Rule) else Rule.parse(rule) for rule in rules]


def apply_exclusions(df: pd.DataFrame, rules: Iterable) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop readers who break any rule.

    Parameters
    ----------
    df : DataFrame
        Validated responses (all trial kinds).
    rules : iterable of str or Rule
        ``'failed_practice'``, ``'failed_catch'``, ``'too_fast'``,
        ``'incomplete'``, ``'same_answer'``, each optionally ``':threshold'``.
        A reader without the trials a rule needs (e.g. no catch trials) is not
        judged by it.

    Returns
    -------
    (DataFrame, DataFrame)
        The kept responses, and a report with columns ``reader, rule, value,
        threshold, reason`` (one row per broken rule).

    Example
    -------
    >>> kept, report = apply_exclusions(df, ["failed_catch:0.75"])  # doctest: +SKIP
    """
    rows = []
    for rule in _as_rules(rules):
        spec = RULES[rule.name]
        values = spec.measure(df).dropna()
        broken = values < rule.threshold if spec.excludes_below else values > rule.threshold
        relation = "below" if spec.excludes_below else "above"
        for reader, value in values[broken].items():
            rows.append({"reader": str(reader), "rule": rule.name, "value": float(value),
                         "threshold": rule.threshold,
                         "reason": f"{spec.what} {value:.3g}{spec.unit} is {relation} {rule.threshold:g}{spec.unit}"})
    report = pd.DataFrame(rows, columns=["reader", "rule", "value", "threshold", "reason"])
    excluded = set(report["reader"])
    kept = df[~df["reader"].astype(str).isin(excluded)] if excluded else df
    return kept, report


def excluded_readers(report: pd.DataFrame) -> list[str]:
    """Sorted ids of the readers an exclusion report names."""
    return sorted(set(report["reader"]))


__all__ = ["RULES", "Rule", "apply_exclusions", "excluded_readers"]
