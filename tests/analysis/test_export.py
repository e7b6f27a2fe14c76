"""csv/parquet round trips and the iMRMC input format (layout of shared/refdata/vandyke.imrmc)."""

import re

import numpy as np
import pandas as pd
import pytest

from analysis.export import mrmc_scores, to_csv, to_imrmc, to_parquet
from analysis.mrmc import or_analysis
from analysis.tidy import AnalysisInputError, read_responses, validate


def test_csv_and_parquet_round_trip(responses, tmp_path):
    df = validate(responses)
    again_csv = read_responses(to_csv(df, tmp_path / "r.csv"))
    again_parquet = read_responses(to_parquet(df, tmp_path / "r.parquet"))
    pd.testing.assert_frame_equal(again_csv, df)
    pd.testing.assert_frame_equal(again_parquet, df)


def header_and_rows(text):
    lines = text.splitlines()
    begin = lines.index("BEGIN DATA:")
    header = dict(line.split(":", 1) for line in lines[1:begin])
    return header, [line.split(",") for line in lines[begin + 1:]]


def test_imrmc_has_the_layout_of_the_reference_file(refdata, responses):
    # the reference: RJafroc inst/extdata/RocData.imrmc (title, N0, N1, NR, NM, BEGIN DATA:, truth rows, scores)
    ref_header, ref_rows = header_and_rows((refdata / "vandyke.imrmc").read_text())
    header, rows = header_and_rows(to_imrmc(validate(responses)))
    assert list(header) == list(ref_header) == ["N0", "N1", "NR", "NM"]
    truth_rows = [r for r in rows if r[0] == "-1"]
    assert all(r[2] == "truth" and r[3] in ("0", "1") for r in truth_rows)
    assert rows[: len(truth_rows)] == truth_rows  # truth rows come first, as in the reference
    assert all(len(r) == 4 for r in rows) and all(len(r) == 4 for r in ref_rows)
    scores = rows[len(truth_rows):]
    assert all(re.fullmatch(r"-?\d+\.\d+", r[3]) for r in scores)
    n0 = sum(r[3] == "0" for r in truth_rows)
    assert (int(header["N0"]), int(header["N1"])) == (n0, len(truth_rows) - n0)
    assert int(header["NR"]) == 6 and int(header["NM"]) == 3


def test_confidence_becomes_an_ordinal_score_for_synthetic():
    df = validate(pd.DataFrame({
        "reader": "a", "case": ["s1", "s2", "r1", "r2"], "truth": ["synthetic", "synthetic", "real", "real"],
        "answer": ["synthetic", "real", "real", "synthetic"], "confidence": [3, 1, 3, 1],
        "resolution": 64}))
    scores = mrmc_scores(df).set_index("case")["score"]
    # sure synthetic > unsure synthetic > unsure real > sure real
    assert scores.to_dict() == {"s1": 6.0, "s2": 3.0, "r1": 1.0, "r2": 4.0}


def test_without_confidence_the_score_is_the_binary_answer():
    df = validate(pd.DataFrame({"reader": "a", "case": ["s1", "r1"], "truth": ["synthetic", "real"],
                                "answer": ["synthetic", "synthetic"], "resolution": 64}))
    assert mrmc_scores(df)["score"].tolist() == [1.0, 1.0]


def test_scores_feed_the_mrmc_analysis(responses):
    # a single-design study with confidence gives a complete reader x case table per resolution
    single = validate(responses).query("design == 'single' and trial_kind == 'main'")
    scores = mrmc_scores(single)
    one = scores[scores["modality"] == 128]
    result = or_analysis(one, fom="auc")
    assert 0.5 < result.single["estimate"].iloc[0] <= 1.0


def test_forced_choice_alone_cannot_be_exported_for_mrmc(responses):
    choice = validate(responses).query("design == 'choice'")
    with pytest.raises(AnalysisInputError, match="nothing to export"):
        to_imrmc(choice)


def test_commas_in_ids_are_refused():
    df = validate(pd.DataFrame({"reader": "a,b", "case": ["s1"], "truth": ["synthetic"],
                                "answer": ["synthetic"], "resolution": 64}))
    with pytest.raises(AnalysisInputError, match="comma"):
        to_imrmc(df)
    assert np.isfinite(mrmc_scores(df)["score"]).all()
