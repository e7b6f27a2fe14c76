"""Named reader exclusion rules and their report."""

import pandas as pd
import pytest

from analysis.exclusions import RULES, Rule, apply_exclusions, excluded_readers
from analysis.tidy import AnalysisInputError, main_trials, validate


def study():
    """alice is careful; bob fails catch trials; carol rushes; dave always says 'real'."""
    rows = []
    for reader, catch_correct, ms, always_real in (("alice", 4, 900, False), ("bob", 1, 900, False),
                                                   ("carol", 4, 150, False), ("dave", 4, 900, True)):
        for i in range(4):
            rows.append({"reader": reader, "case": f"catch{i}", "truth": "real",
                         "answer": "real" if i < catch_correct else "synthetic", "trial_kind": "catch",
                         "resolution": 64})
            rows.append({"reader": reader, "case": f"practice{i}", "truth": "synthetic",
                         "answer": "real", "trial_kind": "practice", "resolution": 64})
        for i in range(20):
            truth = "real" if i % 2 else "synthetic"
            answer = "real" if always_real else truth
            rows.append({"reader": reader, "case": f"m{i}", "truth": truth, "answer": answer,
                         "trial_kind": "main", "resolution": 64, "response_ms": ms})
    return validate(pd.DataFrame(rows))


def test_it_excludes_readers_who_fail_catch_trials_and_says_why():
    kept, report = apply_exclusions(study(), ["failed_catch:0.75"])
    assert excluded_readers(report) == ["bob"]
    row = report.iloc[0]
    assert row["rule"] == "failed_catch" and row["value"] == 0.25 and row["threshold"] == 0.75
    assert "catch-trial accuracy 0.25 is below 0.75" in row["reason"]
    assert "bob" not in set(kept["reader"].astype(str))


def test_each_rule_names_its_own_readers():
    _, report = apply_exclusions(study(), ["failed_catch", "too_fast", "same_answer"])
    assert sorted(zip(report["reader"], report["rule"])) == [
        ("bob", "failed_catch"), ("carol", "too_fast"), ("dave", "same_answer")]


def test_the_default_threshold_is_used_without_a_number():
    assert Rule.parse("failed_practice") == Rule("failed_practice", RULES["failed_practice"].default)
    assert Rule.parse("too_fast=250") == Rule("too_fast", 250.0)
    # every reader got every practice trial wrong
    _, report = apply_exclusions(study(), ["failed_practice"])
    assert len(report) == 4


def test_incomplete_readers_are_excluded():
    df = study()
    df = df[~((df["reader"] == "alice") & (df["case"].astype(str).str.startswith("m1")))]
    _, report = apply_exclusions(df, ["incomplete:0.9"])
    assert excluded_readers(report) == ["alice"]


def test_no_rules_keep_everyone():
    df = study()
    kept, report = apply_exclusions(df, [])
    assert len(kept) == len(df) and report.empty
    assert list(report.columns) == ["reader", "rule", "value", "threshold", "reason"]


def test_practice_and_catch_never_count_in_main_accuracy():
    main = main_trials(study())
    assert set(main["trial_kind"]) == {"main"}
    assert len(main) == 4 * 20


def test_unknown_rules_and_thresholds_are_refused():
    with pytest.raises(AnalysisInputError, match="unknown exclusion rule 'lazy'"):
        apply_exclusions(study(), ["lazy"])
    with pytest.raises(AnalysisInputError, match="must be a number"):
        Rule.parse("failed_catch:high")
