"""`python -m analysis ...` end to end."""

import json
import subprocess
import sys

import pytest

from analysis.cli import main
from tests.analysis.conftest import simulate_responses


@pytest.fixture
def responses_csv(tmp_path):
    path = tmp_path / "responses.csv"
    simulate_responses(designs=("single", "choice", "rating"), n_readers=4, n_cases=12).to_csv(path, index=False)
    return path


def test_report_writes_json_html_and_plots(responses_csv, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", "--responses", str(responses_csv), "--out", str(out), "--n-boot", "100",
                 "--seed", "3", "--exclude", "failed_catch:0.5", "too_fast:100"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["designs"]) == {"single", "choice", "rating"}
    assert report["meta"]["n_boot"] == 100 and report["meta"]["seed"] == 3
    assert report["exclusions"]["rules"] == ["failed_catch:0.5", "too_fast:100"]
    first = report["by_resolution"][0]
    assert first["resolution"] == 32 and first["n"] == 4 * 12
    assert 0 <= first["ci_low"] <= first["accuracy"] <= first["ci_high"] <= 1
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html
    for name in ("accuracy_by_resolution.png", "per_reader_single.png", "roc.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")
    assert "wrote" in capsys.readouterr().out


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("reader,case\na,b\n")
    assert main(["report", "--responses", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lacks column(s) truth, resolution" in err
    assert "Traceback" not in err


def test_usage_errors_exit_2_on_one_line():
    result = subprocess.run([sys.executable, "-m", "analysis", "export", "--format", "xls"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "invalid choice" in result.stderr


def test_mrmc_on_the_van_dyke_data(refdata, capsys):
    # OR-DBM MRMC 2.51 (refdata/iowa/VanDyke.txt): F 4.46, ddf 15.26, p 0.0517
    assert main(["mrmc", "--ratings", str(refdata / "vandyke_rjafroc_RocData.csv"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rrrc = result["analyses"]["RRRC"]
    assert round(rrrc["statistic"], 2) == 4.46 and round(rrrc["p_value"], 4) == 0.0517


def test_mrmc_prints_a_table(refdata, capsys):
    assert main(["mrmc", "--ratings", str(refdata / "vandyke_rjafroc_RocData.csv")]) == 0
    assert "0.89703704" in capsys.readouterr().out


def test_export_formats(responses_csv, tmp_path):
    for fmt, name in (("imrmc", "out.imrmc"), ("csv", "out.csv"), ("parquet", "out.parquet")):
        assert main(["export", "--responses", str(responses_csv), "--format", fmt,
                     "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "out.imrmc").read_text().splitlines()[5] == "BEGIN DATA:"
    assert (tmp_path / "out.parquet").read_bytes()[:4] == b"PAR1"


def test_power_table(capsys, responses_csv):
    assert main(["power", "--accuracy", "0.6", "--groups", "3", "--images", "120", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rows"][0]["readers"] == 9 and result["rows"][0]["power"] >= 0.8
    assert result["components"]["source"] == "model"
    assert main(["power", "--pilot", str(responses_csv), "--images", "40", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["components"]["source"] == "pilot"
    assert main(["power", "--accuracy", "0.5"]) == 2  # at chance: no study can be powered


def test_mrmc_on_a_responses_table_one_resolution_at_a_time(responses_csv, capsys):
    # each resolution shows its own images, so resolutions are not crossed: the error says what to do
    assert main(["mrmc", "--ratings", str(responses_csv)]) == 2
    assert "--modality" in capsys.readouterr().err
    assert main(["mrmc", "--ratings", str(responses_csv), "--modality", "128", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["modalities"] == [128] and result["n_readers"] == 4
