"""The tidy responses table: validation, defaults, derived correctness, file reading."""

import numpy as np
import pandas as pd
import pytest

from analysis.tidy import COLUMNS, AnalysisInputError, main_trials, read_responses, validate


def minimal():
    return pd.DataFrame({
        "reader": ["a", "a", "b", "b"],
        "case": ["c1", "c2", "c1", "c2"],
        "truth": ["real", "synthetic", "real", "synthetic"],
        "answer": ["Real", "real", "synthetic", None],
        "resolution": [64, 64, 64, 64],
    })


def test_it_fills_optional_columns_with_defaults():
    df = validate(minimal())
    assert list(df.columns) == list(COLUMNS)
    assert set(df["design"]) == {"single"}
    assert set(df["trial_kind"]) == {"main"}
    assert df["alternatives"].tolist() == [2.0] * 4
    assert df["trial"].tolist() == [1.0, 2.0, 1.0, 2.0]
    assert df["confidence"].isna().all()


def test_it_derives_correct_for_the_single_design_and_counts_empty_as_wrong():
    df = validate(minimal())
    assert df["answer"].tolist() == ["real", "real", "synthetic", "empty"]
    assert df["correct"].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_a_given_correct_column_wins():
    table = minimal().assign(correct=[0, 0, 1, 1])
    assert validate(table)["correct"].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_it_rejects_an_empty_table():
    with pytest.raises(AnalysisInputError, match="empty"):
        validate(minimal().iloc[:0])


def test_it_names_missing_columns():
    with pytest.raises(AnalysisInputError, match="truth"):
        validate(minimal().drop(columns="truth"))


def test_it_needs_answer_or_correct():
    with pytest.raises(AnalysisInputError, match="answer"):
        validate(minimal().drop(columns="answer"))


def test_it_rejects_unknown_labels():
    table = minimal()
    table.loc[0, "truth"] = "fake"
    with pytest.raises(AnalysisInputError, match="'fake'"):
        validate(table)


def test_it_rejects_a_non_numeric_resolution():
    table = minimal().astype({"resolution": object})
    table.loc[1, "resolution"] = "large"
    with pytest.raises(AnalysisInputError, match="resolution"):
        validate(table)


def test_forced_choice_rows_need_correct():
    table = minimal().assign(design="choice", alternatives=4)
    with pytest.raises(AnalysisInputError, match="forced-choice"):
        validate(table)


@pytest.mark.parametrize("alternatives", [None, np.nan, 1, 0, 2.5])
def test_forced_choice_rows_need_two_or_more_alternatives(alternatives):
    # chance accuracy is 1/alternatives (Green & Swets 1966, m-alternative forced choice; m >= 2)
    table = minimal().assign(design="choice", correct=[1, 0, 1, 1])
    if alternatives is not None:
        table["alternatives"] = alternatives
    with pytest.raises(AnalysisInputError, match="forced-choice.*'alternatives'.*>= 2"):
        validate(table)


def test_forced_choice_rows_with_alternatives_pass():
    table = minimal().assign(design="choice", correct=[1, 0, 1, 1], alternatives=[2, 4, 4, 3])
    assert validate(table)["alternatives"].tolist() == [2.0, 4.0, 4.0, 3.0]


def test_correct_must_be_binary():
    with pytest.raises(AnalysisInputError, match="0 or 1"):
        validate(minimal().assign(correct=[0, 1, 2, 1]))


def test_rating_rows_without_answer_have_no_correctness():
    table = minimal().assign(design="rating", rating=[5, 2, 4, 1], answer=None)
    assert validate(table)["correct"].isna().all()


def test_exposure_ok_is_read_as_booleans():
    table = minimal().assign(exposure_ok=["True", "false", None, 1])
    assert validate(table)["exposure_ok"].tolist() == [True, False, None, True]


def test_main_trials_leaves_out_practice_and_catch():
    table = minimal().assign(trial_kind=["main", "practice", "catch", "repeat"])
    assert main_trials(validate(table))["case"].tolist() == ["c1"]


def test_it_reads_csv_and_parquet_alike(tmp_path):
    table = minimal().assign(confidence=[1, 2, 3, 4])
    table.to_csv(tmp_path / "r.csv", index=False)
    table.to_parquet(tmp_path / "r.parquet", index=False)
    from_csv = read_responses(tmp_path / "r.csv")
    from_parquet = read_responses(tmp_path / "r.parquet")
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    assert np.array_equal(from_csv["confidence"], [1.0, 2.0, 3.0, 4.0])


def test_it_says_which_file_is_missing_or_unreadable(tmp_path):
    with pytest.raises(AnalysisInputError, match="does not exist"):
        read_responses(tmp_path / "nope.csv")
    (tmp_path / "r.xlsx").write_text("x")
    with pytest.raises(AnalysisInputError, match=".csv or .parquet"):
        read_responses(tmp_path / "r.xlsx")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(AnalysisInputError, match="cannot read"):
        read_responses(tmp_path / "bad.parquet")
