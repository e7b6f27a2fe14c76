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
    # sure synthetic > unsure synthetic > unsure real > sure real: top + 1 + c and top - c (top = 3)
    assert scores.to_dict() == {"s1": 7.0, "r2": 5.0, "s2": 2.0, "r1": 0.0}


def _all_answers(scale):
    """Every (answer, confidence) pair of a scale, one case each (truth is irrelevant to the score)."""
    pairs = [(answer, c) for answer in ("real", "synthetic") for c in scale]
    return validate(pd.DataFrame({
        "reader": "a", "case": [f"{answer}-{c}" for answer, c in pairs], "truth": "synthetic",
        "answer": [answer for answer, _ in pairs], "confidence": [c for _, c in pairs], "resolution": 64}))


@pytest.mark.parametrize("scale", [range(0, 101), range(1, 6)], ids=["0-100", "1-5"])
def test_every_synthetic_answer_scores_above_every_real_answer(scale):
    # The web app records confidence 0..100 (or 1..5).  An ROC rating scale must be ordinal in
    # "how sure is the reader that the image is synthetic" (Metz 1986, Invest Radiol 21:720;
    # Obuchowski & Rockette 1995): sure real < ... < unsure real < unsure synthetic < ... < sure synthetic.
    scores = mrmc_scores(_all_answers(scale)).set_index("case")["score"]
    real = [scores[f"real-{c}"] for c in scale]
    synthetic = [scores[f"synthetic-{c}"] for c in scale]
    assert min(synthetic) > max(real)  # e.g. "real, 0" below "synthetic, 0"
    assert all(np.diff(synthetic) > 0)  # more confident synthetic: higher
    assert all(np.diff(real) < 0)  # more confident real: lower
    assert scores["real-0" if 0 in scale else "real-1"] < scores["synthetic-0" if 0 in scale else "synthetic-1"]


def test_the_imrmc_export_uses_the_ordered_scores():
    df = _all_answers(range(0, 101))
    header, rows = header_and_rows(to_imrmc(df))
    written = {case: float(score) for reader, case, modality, score in rows if reader != "-1"}
    expected = mrmc_scores(df).set_index("case")["score"].to_dict()
    assert written == pytest.approx(expected)
    assert written["real-0"] < written["synthetic-0"] and max(
        v for k, v in written.items() if k.startswith("real")) < min(
        v for k, v in written.items() if k.startswith("synthetic"))


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
