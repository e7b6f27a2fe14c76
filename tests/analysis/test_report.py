"""build_report: layout, values, JSON safety and footnotes; the HTML page."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis.exclusions import Rule
from analysis.report import build_report, render_html, report_plots, write_report
from analysis.tidy import AnalysisInputError, main_trials, validate

ROW_KEYS = {"n", "correct", "accuracy", "chance", "ci_low", "ci_high"}
HEADLINE_KEYS = {"design", "resolution", "measure", "estimate", "chance", "ci_low", "ci_high", "p_value",
                 "p_value_holm", "n_readers", "n_cases", "method"}


@pytest.fixture(scope="module")
def full_report():
    from tests.analysis.conftest import simulate_responses

    df = simulate_responses(designs=("single", "choice", "rating"))
    return df, build_report(df, n_boot=200, seed=1)


def test_the_headline_has_a_row_per_design_measure_and_resolution(full_report):
    _, report = full_report
    rows = report["headline"]
    assert all(set(row) == HEADLINE_KEYS for row in rows)
    measures = {(row["design"], row["measure"]) for row in rows}
    assert measures == {("single", "percent correct"), ("single", "AUC (answer signed by confidence)"),
                        ("choice", "percent correct"), ("rating", "AUC (realism rating)")}
    for design, measure in measures:
        part = [row for row in rows if (row["design"], row["measure"]) == (design, measure)]
        assert [row["resolution"] for row in part] == [32, 64, 128]
        assert all(row["n_readers"] == 6 and row["n_cases"] == 24 for row in part)
        assert all(row["ci_low"] < row["estimate"] < row["ci_high"] for row in part)
        assert all("fully crossed" in row["method"] for row in part)
        holm = sorted(row["p_value_holm"] for row in part)
        assert holm == sorted(holm) and all(a["p_value"] <= a["p_value_holm"] for a in part)
    assert {row["chance"] for row in rows if row["design"] == "choice"} == {0.25}
    # readers improve with resolution in the simulated study: every trend is positive and significant
    assert len(report["headline_trend"]) == 4
    assert all(row["slope_per_doubling"] > 0 and row["p_value"] < 0.05 for row in report["headline_trend"])


def test_headline_percent_correct_is_the_mean_of_the_readers_own(full_report):
    df, report = full_report
    main = main_trials(validate(df))
    single = main[main["design"] == "single"]
    for row in [r for r in report["headline"] if r["design"] == "single" and r["measure"] == "percent correct"]:
        part = single[single["resolution"] == row["resolution"]]
        assert row["estimate"] == pytest.approx(part.groupby("reader", observed=True)["correct"].mean().mean())


def test_every_design_has_per_reading_rows_per_resolution(full_report):
    _, report = full_report
    assert set(report["designs"]) == {"single", "choice", "rating"}
    for design in ("single", "choice"):
        rows = report["designs"][design]["by_resolution"]
        assert [row["resolution"] for row in rows] == [32, 64, 128], design
        assert all(ROW_KEYS <= set(row) and "p_value" not in row for row in rows), design
    assert [row["resolution"] for row in report["designs"]["rating"]["by_resolution"]] == [32, 64, 128]
    assert report["by_resolution"] == report["designs"]["single"]["by_resolution"]
    assert "per reading" in report["sections"]["single"]["by_resolution"]["title"]


def test_the_figures_are_the_counts_of_the_main_trials(full_report):
    df, report = full_report
    main = main_trials(validate(df))
    single = main[main["design"] == "single"]
    for row in report["by_resolution"]:
        part = single[single["resolution"] == row["resolution"]]
        assert row["n"] == len(part) and row["correct"] == int(part["correct"].sum())
        assert row["chance"] == 0.5
    assert all(row["chance"] == 0.25 for row in report["designs"]["choice"]["by_resolution"])
    assert report["meta"]["n_main_responses"] == len(main)
    assert report["meta"]["trial_kinds"] == {"main": 1296, "practice": 36, "catch": 36, "repeat": 18}


def test_single_design_sections(full_report):
    _, report = full_report
    single = report["designs"]["single"]
    for key in ("per_reader", "per_reader_resolution", "class_rates", "d_prime", "fleiss_kappa",
                "mrmc", "fool_rates", "bootstrap", "hype_infinity", "exposure_curve", "repeat_agreement"):
        assert single[key], key
    for gone in ("gee", "mixed_model", "trend", "roc"):
        assert gone not in single, gone
    assert len(single["per_reader"]) == 6 and len(single["per_reader_resolution"]) == 18
    fool = [row["fool_rate"] for row in single["fool_rates"]]
    assert fool == sorted(fool, reverse=True) and all(row["called_real"] > 0 for row in single["fool_rates"])
    assert all("p_value" not in row and "z" not in row for row in single["fleiss_kappa"])
    assert single["repeat_agreement"][0]["n_pairs"] == 18  # repeats never enter the accuracy rows


def test_choice_and_rating_sections(full_report):
    _, report = full_report
    assert {"position_bias", "fleiss_kappa", "bootstrap"} <= set(report["designs"]["choice"])
    rating = report["designs"]["rating"]
    assert rating["summary"] and rating["distribution"] and rating["by_resolution"]
    assert "wilcoxon" not in rating
    assert any("no longer reported" in note and "Wilcoxon" in note for note in report["notes"])


def test_the_report_is_strict_json(full_report):
    _, report = full_report
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text) == report


def test_a_missing_figure_has_a_footnote():
    # one resolution shows only real images: no sensitivity there, and the note says so
    df = pd.DataFrame({"reader": ["a", "b"] * 4, "case": [f"c{i}" for i in range(8)],
                       "truth": ["real", "real", "real", "real", "real", "synthetic", "real", "synthetic"],
                       "answer": ["real"] * 8, "resolution": [32] * 4 + [64] * 4})
    report = build_report(df, n_boot=50)
    rates = report["designs"]["single"]["class_rates"]
    assert rates[0]["sensitivity"] is None
    assert report["headline"] == []  # no reader saw both classes at any resolution, and a note says so
    assert any("could not be computed" in note and "both classes" in note for note in report["notes"])


def test_exclusions_are_applied_and_listed():
    from tests.analysis.conftest import simulate_responses

    df = simulate_responses(n_readers=3)
    df.loc[(df["reader"] == "reader1") & (df["trial_kind"] == "catch"), "answer"] = "synthetic"
    report = build_report(df, exclusions=["failed_catch:0.8"], n_boot=50)
    assert [row["reader"] for row in report["exclusions"]["excluded"]] == ["reader1"]
    assert report["meta"]["n_readers"] == 2
    assert report["exclusions"]["rules"] == ["failed_catch:0.8"]
    assert build_report(df, exclusions=Rule("failed_catch", 0.8), n_boot=50)["exclusions"] == report["exclusions"]


def test_interim_reports_say_so():
    from tests.analysis.conftest import simulate_responses

    report = build_report(simulate_responses(n_readers=3), interim=True, n_boot=50)
    assert report["interim"] is True
    assert any(note.startswith("This is an interim report") for note in report["notes"])


def test_bad_tables_are_refused():
    with pytest.raises(AnalysisInputError, match="empty"):
        build_report(pd.DataFrame())
    only_practice = pd.DataFrame({"reader": ["a"], "case": ["c"], "truth": ["real"], "answer": ["real"],
                                  "resolution": [32], "trial_kind": ["practice"]})
    with pytest.raises(AnalysisInputError, match="no main trials"):
        build_report(only_practice)


def test_html_is_self_contained(full_report, tmp_path):
    df, report = full_report
    pngs = report_plots(report, df)
    assert {"accuracy_by_resolution.png", "per_reader_single.png", "roc.png"} <= set(pngs)
    assert all(png.startswith(b"\x89PNG") for png in pngs.values())
    page = render_html(report, pngs)
    assert page.count("data:image/png;base64,") == len(pngs)
    assert "http://" not in page and "https://" not in page and "<script" not in page
    paths = write_report(report, df, tmp_path / "out")
    assert json.loads(paths["report.json"].read_text()) == report
    assert np.all([paths[name].stat().st_size > 1000 for name in pngs])


def none_leaves(value, path=()):
    if value is None:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from none_leaves(item, path + (key,))
    elif isinstance(value, list):
        for item in value:
            yield from none_leaves(item, path)


@pytest.mark.parametrize("kind", ["one reader", "choice only", "rating only", "no confidence", "failed displays"])
def test_every_missing_figure_is_explained_in_a_note(kind):
    from tests.analysis.conftest import simulate_responses

    df = {
        "one reader": lambda: simulate_responses(n_readers=1, resolutions=(64,), skill=(0.7,)),
        "choice only": lambda: simulate_responses(designs=("choice",), n_readers=3),
        "rating only": lambda: simulate_responses(designs=("rating",), n_readers=3),
        "no confidence": lambda: simulate_responses(n_readers=3).drop(columns=["confidence"]),
        "failed displays": lambda: simulate_responses(n_readers=3).assign(exposure_ok=False),
    }[kind]()
    report = build_report(df, n_boot=50)
    json.dumps(report, allow_nan=False)
    for design, sections in report["designs"].items():
        for section, value in sections.items():
            title = report["sections"][design][section]["title"]
            for path in none_leaves(value):
                assert any(note.startswith(title) for note in report["notes"]), (title, path)
    for row in report["headline"]:
        if row["ci_low"] is None:
            assert any(f"{row['resolution']} px has no interval" in note for note in report["notes"])
    assert not any("_" in note.split(":")[0] for note in report["notes"])  # sentences, not field names


def _two_complete_resolutions_and_one_response_at_128():
    """The reviewer's case: 3 readers x 20 cases at 32 and 64 px, one single response at 128 px."""
    rng = np.random.default_rng(3)
    rows = []
    for resolution in (32, 64):
        for reader in ("r0", "r1", "r2"):
            for c in range(20):
                truth = "synthetic" if c % 2 else "real"
                other = "real" if truth == "synthetic" else "synthetic"
                rows.append({"reader": reader, "case": f"{resolution}-{c}", "truth": truth,
                             "answer": truth if rng.random() < 0.75 else other, "resolution": resolution,
                             "confidence": int(rng.integers(1, 6))})
    rows.append({"reader": "r0", "case": "128-0", "truth": "real", "answer": "real", "resolution": 128,
                 "confidence": 3})
    return pd.DataFrame(rows)


def test_one_incomplete_resolution_keeps_the_other_resolutions(tmp_path):
    df = _two_complete_resolutions_and_one_response_at_128()
    report = build_report(df, n_boot=50, interim=True)
    write_report(report, df, tmp_path)
    json.loads((tmp_path / "report.json").read_text())  # strict JSON, no NaN
    single = report["designs"]["single"]
    figures = {"d_prime": "d_prime", "fleiss_kappa": "kappa", "mrmc": "auc"}
    for section, figure in figures.items():
        rows = single[section]
        assert rows is not None, section
        assert [row["resolution"] for row in rows] == [32, 64, 128], section
        assert all(row[figure] is not None for row in rows[:2]), section
        assert rows[2][figure] is None, section
        title = report["sections"]["single"][section]["title"]
        assert any(note.startswith(title) and "missing" in note for note in report["notes"]), section
    headline = [row for row in report["headline"] if row["measure"] == "percent correct"]
    assert [row["resolution"] for row in headline] == [32, 64]  # one answer at 128 px: no pair of classes
    assert all(row["ci_low"] is not None for row in headline)


def test_the_complete_resolutions_match_a_report_without_the_incomplete_one():
    # the per-group figures are those of the complete groups alone (DeLong et al. 1988 AUC,
    # Fleiss 1971 kappa, Obuchowski-Rockette/Hillis MRMC): the incomplete group changes nothing
    df = _two_complete_resolutions_and_one_response_at_128()
    with_128 = build_report(df, n_boot=50, interim=True)["designs"]["single"]
    without = build_report(df[df["resolution"] != 128], n_boot=50, interim=True)["designs"]["single"]
    for section in ("d_prime", "fleiss_kappa", "mrmc"):
        assert with_128[section][:2] == without[section], section
