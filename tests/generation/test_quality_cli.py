"""`python -m generation quality`: inputs it refuses with a clear message, and one whole small report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from generation.cli import main
from generation.quality.inputs import QualityInputError, load_inputs
from generation.quality.report import run_report
from tests.generation.test_quality_support import phantom_set, write_pool

SIZE = 32


def _labelled(first_seed, patients, labels=("none", "spot")):
    images = phantom_set(first_seed, patients, SIZE)
    for n, image in enumerate(images):
        image["label"] = labels[n % len(labels)]
    return images


def test_an_empty_class_is_refused_with_the_pool_named(tmp_path):
    pool = write_pool(tmp_path / "pool", phantom_set(0, 5, SIZE), [])
    with pytest.raises(QualityInputError, match="has no synthetic images"):
        load_inputs(pool, pool)


def test_an_empty_folder_is_refused(tmp_path, write_png):
    (tmp_path / "empty").mkdir()
    write_png(tmp_path / "real" / "a.png", np.zeros((32, 32), np.uint8))
    with pytest.raises(QualityInputError, match="holds no images"):
        load_inputs(tmp_path / "real", tmp_path / "empty")


def test_mixed_sizes_without_a_pool_ask_for_a_pool(tmp_path, write_png):
    write_png(tmp_path / "real" / "a.png", np.zeros((32, 32), np.uint8))
    write_png(tmp_path / "real" / "b.png", np.zeros((40, 40), np.uint8))
    write_png(tmp_path / "synthetic" / "c.png", np.zeros((32, 32), np.uint8))
    with pytest.raises(QualityInputError, match="not all of one square size.*pool build"):
        load_inputs(tmp_path / "real", tmp_path / "synthetic")


def test_folders_of_different_sizes_share_no_resolution(tmp_path, write_png):
    write_png(tmp_path / "real" / "a.png", np.zeros((32, 32), np.uint8))
    write_png(tmp_path / "synthetic" / "c.png", np.zeros((64, 64), np.uint8))
    with pytest.raises(QualityInputError, match="share no resolution"):
        load_inputs(tmp_path / "real", tmp_path / "synthetic")


def test_synthetic_labels_the_real_images_lack_are_refused(tmp_path):
    pool = write_pool(tmp_path / "pool", _labelled(0, 6), _labelled(100, 6, labels=("none", "lesion")))
    with pytest.raises(QualityInputError, match="labels the real images do not have \\(lesion"):
        load_inputs(pool, pool)


def test_a_labels_csv_naming_unknown_images_is_refused(tmp_path):
    pool = write_pool(tmp_path / "pool", phantom_set(0, 4, SIZE), phantom_set(100, 4, SIZE))
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\n" + "".join(f"p{n}_0.png,a\n" for n in (0, 1, 2, 3, 100, 101, 102, 103))
                      + "ghost.png,b\n")
    with pytest.raises(QualityInputError, match="names 1 image\\(s\\) that are not in the inputs \\(ghost.png"):
        load_inputs(pool, pool, labels=labels)


def test_a_labels_csv_that_leaves_images_out_is_refused(tmp_path):
    pool = write_pool(tmp_path / "pool", phantom_set(0, 4, SIZE), phantom_set(100, 4, SIZE))
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\np0_0.png,a\n")
    with pytest.raises(QualityInputError, match="have no label"):
        load_inputs(pool, pool, labels=labels)


def test_a_labels_csv_labels_folder_images(tmp_path, write_png):
    for n in range(3):
        write_png(tmp_path / "real" / f"r{n}.png", np.full((32, 32), n, np.uint8))
        write_png(tmp_path / "synthetic" / "batch" / f"s{n}.png", np.full((32, 32), n, np.uint8))
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\nreal/r0.png,a\nr1.png,b\nr2.png,a\nbatch/s0.png,a\nbatch/s1.png,b\n"
                      "synthetic/batch/s2.png,b\n")
    real, synthetic = load_inputs(tmp_path / "real", tmp_path / "synthetic", labels=labels).sets[32]
    assert real.labels == ["a", "b", "a"] and synthetic.labels == ["a", "b", "b"]


def test_a_training_list_that_matches_nothing_is_refused(tmp_path):
    pool = write_pool(tmp_path / "pool", phantom_set(0, 4, SIZE), phantom_set(100, 4, SIZE))
    listing = tmp_path / "train.txt"
    listing.write_text("# the generator's images\nelsewhere/x.dcm\n")
    with pytest.raises(QualityInputError, match="none of the 1 names in the training list"):
        load_inputs(pool, pool, train_list=listing)


def test_a_training_list_matches_ids_and_path_tails(tmp_path):
    pool = write_pool(tmp_path / "pool", phantom_set(0, 4, SIZE), phantom_set(100, 4, SIZE))
    real = load_inputs(pool, pool).sets[SIZE][0]
    listing = tmp_path / "train.txt"
    listing.write_text(f"{real.ids[0]}\n/data/cxr/{real.names[1]}\n")
    trained = load_inputs(pool, pool, train_list=listing).sets[SIZE][0].trained
    assert trained.tolist() == [True, True, False, False]


def test_too_few_images_are_refused_before_any_work(tmp_path):
    pool = write_pool(tmp_path / "pool", phantom_set(0, 4, SIZE), phantom_set(100, 20, SIZE))
    with pytest.raises(QualityInputError, match="only 4 real image"):
        run_report(load_inputs(pool, pool), tmp_path / "out")


def test_the_command_says_what_is_wrong(tmp_path, capsys):
    assert main(["quality", "--real", str(tmp_path / "missing"), "--synthetic", str(tmp_path),
                 "--out", str(tmp_path / "out")]) == 1
    assert "is not a folder" in capsys.readouterr().err


def test_the_help_is_written_for_a_coordinator(capsys):
    assert main(["quality", "--help"]) == 0
    text = capsys.readouterr().out
    for words in ("Fréchet Radiomics Distance", "--train-list", "flagged.json", "machine_reader.csv", "--stages"):
        assert words in text


def test_the_whole_report_of_a_small_pool_at_two_resolutions(tmp_path):
    import pandas as pd
    from analysis import tidy

    real, synthetic = _labelled(0, 20), _labelled(1000, 14)
    synthetic.append({**real[3], "name": "copied.png"})  # a copy of a training image
    pool = write_pool(tmp_path / "pool", real, synthetic, resolutions=[32, 64])
    listing = tmp_path / "train.txt"
    listing.write_text("\n".join(image["name"] for image in real[:8]) + "\n")
    out = tmp_path / "report"
    code = main(["quality", "--real", str(pool), "--synthetic", str(pool), "--train-list", str(listing),
                 "--out", str(out), "--features", "original", "--bootstrap", "5", "--cnn-steps", "5",
                 "--workers", "1"])
    assert code == 0
    report = json.loads((out / "quality.json").read_text(), parse_constant=lambda name: pytest.fail(name))
    assert [entry["resolution"] for entry in report["resolutions"]] == [32, 64]
    for entry in report["resolutions"]:
        assert {"fidelity", "prdc", "diversity", "memorisation", "usefulness", "machine_reader"} <= set(entry)
        assert set(entry["seconds"]) >= {"features", "fidelity", "machine"}
    flagged = json.loads((out / "flagged.json").read_text())
    assert "copied.png" in [item["source"] for item in flagged["synthetic"]]
    assert any("near-exact copies" in warning and "copied.png" in warning for warning in report["warnings"])
    page = (out / "quality.html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") >= 8
    responses = tidy.validate(pd.read_csv(out / "machine_reader.csv"))
    assert set(responses["reader"]) == {"machine-cnn", "machine-1nn"}
    assert set(responses["resolution"]) == {32, 64} and set(responses["trial_kind"]) == {"main"}


def test_without_labels_usefulness_is_skipped_and_said_so(tmp_path):
    pool = write_pool(tmp_path / "pool", phantom_set(0, 12, SIZE), phantom_set(100, 12, SIZE))
    report = run_report(load_inputs(pool, pool), tmp_path / "out", stages=("usefulness", "memorisation"))
    assert report["resolutions"][0]["usefulness"] is None
    assert any("usefulness is skipped" in note for note in report["notes"])
    assert "usefulness is skipped" in (tmp_path / "out" / "quality.html").read_text()


def test_an_unknown_stage_is_refused(capsys, tmp_path):
    assert main(["quality", "--real", str(tmp_path), "--synthetic", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--stages", "fidelity,speed"]) == 2
    assert "unknown stage(s) speed" in capsys.readouterr().err
