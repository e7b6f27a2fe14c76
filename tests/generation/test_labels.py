"""generation.labels and pool build --labels / --labels-from-folders."""

import json

import pytest

from generation import PoolError, build_pool, load_manifest
from generation.cli import main
from generation.labels import LabelError, folder_label, labels_by_file, read_label_csv

SIZES = (8, 16)


def write_csv(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def labels_of(pool):
    """source path -> the labels of all its renditions."""
    found = {}
    for image in load_manifest(pool)["images"]:
        found.setdefault(f"{image['class']}/{image['source']}", set()).add(image["label"])
    return found


# --- reading the CSV ------------------------------------------------------------------------


def test_a_csv_is_read_with_normalised_paths(tmp_path):
    table = read_label_csv(write_csv(tmp_path / "l.csv", "\ufefffile,label\n./real/a.png, lesion \n"
                                     "real\\sub\\b.png,none\n\nseries/ct/,lesion\n"))
    assert table.key == "file"
    assert table.labels == {"real/a.png": "lesion", "real/sub/b.png": "none", "series/ct": "lesion"}


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("name,label\na.png,x\n", "needs a 'label' column and one of 'file' or 'source_id'"),
    ("file,source_id,label\na,b,c\n", "one of 'file' or 'source_id'"),
    ("file,label\n", "no rows"),
    ("file,label\na.png\n", "line 2: too few columns"),
    ("file,label\na.png,\n", "line 2: the label is empty"),
    ("file,label\na.png," + "x" * 101 + "\n", "101 characters long, 100 at most"),
    ("file,label\na.png,x\na.png,y\n", r"gives 1 file \(a.png \(x and y\)\) two different labels"),
    ("source_id,label\nabc,x\n", "'abc' is not a source_id"),
])
def test_bad_csvs_are_refused_with_the_line(tmp_path, text, message):
    with pytest.raises(LabelError, match=message):
        read_label_csv(write_csv(tmp_path / "l.csv", text))


def test_a_missing_csv_is_named(tmp_path):
    with pytest.raises(LabelError, match="does not exist"):
        read_label_csv(tmp_path / "nope.csv")


def test_file_names_match_with_or_without_the_class_folder(tmp_path):
    table = read_label_csv(write_csv(tmp_path / "l.csv", "file,label\nreal/a.png,x\nb.png,y\n"))
    sources = [("real/a.png", "a.png"), ("synthetic/b.png", "b.png"), ("synthetic/a.png", "a.png")]
    assert labels_by_file(table, sources) == {"real/a.png": "x", "synthetic/b.png": "y"}
    ambiguous = read_label_csv(write_csv(tmp_path / "m.csv", "file,label\na.png,x\n"))
    with pytest.raises(LabelError, match=r"a.png \(real/a.png or synthetic/a.png\).*write real/"):
        labels_by_file(ambiguous, sources)


def test_folder_labels_are_the_first_folder():
    assert folder_label("lesion/case1.dcm") == "lesion"
    assert folder_label("lesion/p1/series") == "lesion"
    assert folder_label("case1.dcm") is None


# --- through pool build ---------------------------------------------------------------------


def test_csv_labels_reach_every_rendition(tmp_path, image_dirs):
    csv = write_csv(tmp_path / "labels.csv", "file,label\nreal/case0.png,lesion\ncase1.png,none\ncase2.png,lesion\n"
                    "synthetic/batch/fake0.png,lesion\nbatch/fake1.png,none\nbatch/fake2.png,none\n")
    build_pool(*image_dirs, tmp_path / "pool", resolutions=SIZES, workers=1, labels=csv)
    assert labels_of(tmp_path / "pool") == {
        "real/case0.png": {"lesion"}, "real/case1.png": {"none"}, "real/case2.png": {"lesion"},
        "synthetic/batch/fake0.png": {"lesion"}, "synthetic/batch/fake1.png": {"none"},
        "synthetic/batch/fake2.png": {"none"}}
    assert load_manifest(tmp_path / "pool")["settings"]["labels"] == "csv"


def test_labels_do_not_change_the_ids(tmp_path, image_dirs):
    csv = write_csv(tmp_path / "labels.csv", "file,label\n" + "".join(
        f"{name},x\n" for name in ["case0.png", "case1.png", "case2.png", "batch/fake0.png", "batch/fake1.png",
                                   "batch/fake2.png"]))
    build_pool(*image_dirs, tmp_path / "a", resolutions=SIZES, workers=1, seed=3)
    build_pool(*image_dirs, tmp_path / "b", resolutions=SIZES, workers=1, seed=3, labels=csv)
    ids = [[(i["id"], i["source_id"], i["source"]) for i in load_manifest(tmp_path / p)["images"]] for p in "ab"]
    assert ids[0] == ids[1]


def test_a_csv_naming_files_that_are_not_there_is_refused_and_nothing_is_written(tmp_path, image_dirs):
    csv = write_csv(tmp_path / "labels.csv", "file,label\ncase0.png,x\nreal/gone.png,x\nmissing.png,y\n")
    with pytest.raises(PoolError, match=r"names 2 files \(real/gone.png, missing.png\), which are not images"):
        build_pool(*image_dirs, tmp_path / "pool", resolutions=SIZES, workers=1, labels=csv)
    assert not (tmp_path / "pool").exists() and not list(tmp_path.glob(".pool.partial-*"))


def test_a_csv_that_leaves_images_without_a_label_is_refused(tmp_path, image_dirs):
    csv = write_csv(tmp_path / "labels.csv", "file,label\ncase0.png,x\nbatch/fake0.png,y\n")
    with pytest.raises(PoolError, match=r"gives no label to 4 images \(real/case1.png, real/case2.png, "
                                        r"synthetic/batch/fake1.png, synthetic/batch/fake2.png\)"):
        build_pool(*image_dirs, tmp_path / "pool", resolutions=SIZES, workers=1, labels=csv)
    assert not (tmp_path / "pool").exists()


def test_rejected_files_and_catch_images_need_no_label(tmp_path, image_dirs, catch_dir):
    real, synthetic = image_dirs
    (real / "notes.txt").write_text("not an image")
    csv = write_csv(tmp_path / "labels.csv", "file,label\n" + "".join(
        f"{name},x\n" for name in ["case0.png", "case1.png", "case2.png", "batch/fake0.png", "batch/fake1.png",
                                   "batch/fake2.png", "catch/early.png"]))
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1, labels=csv, catch_dir=catch_dir)
    labels = labels_of(tmp_path / "pool")
    catch = {image["source"]: image["label"] for image in load_manifest(tmp_path / "pool")["images"]
             if image["role"] == "catch"}
    assert catch == {"early.png": "x", "epoch1/sample.png": None}
    assert labels["real/case0.png"] == {"x"}


def test_labels_from_folders(tmp_path, write_png, gradient):
    real, synthetic = tmp_path / "real", tmp_path / "synthetic"
    for n, label in enumerate(["lesion", "none", "lesion"]):
        write_png(real / label / "deeper" / f"r{n}.png", gradient(20, 20, n))
        write_png(synthetic / label / f"s{n}.png", gradient(20, 20, 10 + n))
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1, labels_from_folders=True)
    assert labels_of(tmp_path / "pool") == {
        "real/lesion/deeper/r0.png": {"lesion"}, "real/none/deeper/r1.png": {"none"},
        "real/lesion/deeper/r2.png": {"lesion"}, "synthetic/lesion/s0.png": {"lesion"},
        "synthetic/none/s1.png": {"none"}, "synthetic/lesion/s2.png": {"lesion"}}
    assert load_manifest(tmp_path / "pool")["settings"]["labels"] == "folders"
    write_png(real / "top.png", gradient(20, 20, 99))
    with pytest.raises(PoolError, match=r"--labels-from-folders .* gives no label to 1 image \(real/top.png\)"):
        build_pool(real, synthetic, tmp_path / "pool2", resolutions=SIZES, workers=1, labels_from_folders=True)


def test_labels_by_source_id_from_an_earlier_build(tmp_path, image_dirs):
    build_pool(*image_dirs, tmp_path / "first", resolutions=SIZES, workers=1, seed=9)
    first = load_manifest(tmp_path / "first")["images"]
    ids = sorted({image["source_id"] for image in first})
    csv = write_csv(tmp_path / "ids.csv", "source_id,label\n" + "".join(
        f"{sid},{'a' if n % 2 else 'b'}\n" for n, sid in enumerate(ids)))
    build_pool(*image_dirs, tmp_path / "second", resolutions=SIZES, workers=1, seed=9, labels=csv)
    second = load_manifest(tmp_path / "second")["images"]
    assert {i["source_id"]: i["label"] for i in second} == {sid: "a" if n % 2 else "b" for n, sid in enumerate(ids)}
    (tmp_path / "few.csv").write_text(f"source_id,label\n{ids[0]},a\n{'f' * 32},b\n")
    with pytest.raises(PoolError, match=r"1 source_id\(s\) that this build does not make \(f{32}\)"):
        build_pool(*image_dirs, tmp_path / "third", resolutions=SIZES, workers=1, seed=9, labels=tmp_path / "few.csv")
    (tmp_path / "one.csv").write_text(f"source_id,label\n{ids[0]},a\n")
    with pytest.raises(PoolError, match="gives no label to 5 images"):
        build_pool(*image_dirs, tmp_path / "third", resolutions=SIZES, workers=1, seed=9, labels=tmp_path / "one.csv")
    assert not (tmp_path / "third").exists()


def test_a_volume_takes_one_label_for_all_its_slices(tmp_path, image_dirs, write_dicom):
    import numpy as np
    from pydicom.uid import generate_uid

    real, synthetic = image_dirs
    uid = generate_uid()
    (real / "p9").mkdir()
    for k in range(4):
        write_dicom(real / "p9" / f"{k}.dcm",
                    np.random.default_rng(k).integers(0, 999, (12, 12)).astype(np.uint16), Modality="CT",
                    SeriesInstanceUID=uid, ImagePositionPatient=[0.0, 0.0, float(k)],
                    ImageOrientationPatient=[1, 0, 0, 0, 1, 0])
    csv = write_csv(tmp_path / "labels.csv", "file,label\n" + "".join(
        f"{name},x\n" for name in ["case0.png", "case1.png", "case2.png", "batch/fake0.png", "batch/fake1.png",
                                   "batch/fake2.png"]) + "real/p9/,lesion\n")
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1, labels=csv, slices="every:2")
    labels = labels_of(tmp_path / "pool")
    assert labels["real/p9#slice=0"] == labels["real/p9#slice=2"] == {"lesion"}


def test_both_label_options_at_once_are_refused(tmp_path, image_dirs):
    csv = write_csv(tmp_path / "labels.csv", "file,label\ncase0.png,x\n")
    with pytest.raises(PoolError, match="either --labels FILE or --labels-from-folders"):
        build_pool(*image_dirs, tmp_path / "pool", resolutions=SIZES, labels=csv, labels_from_folders=True)


def test_cli_labels(tmp_path, image_dirs, capsys):
    real, synthetic = image_dirs
    args = ["pool", "build", "--real", str(real), "--synthetic", str(synthetic), "--resolutions", "8",
            "--workers", "1"]
    bad = write_csv(tmp_path / "bad.csv", "file,label\nnowhere.png,x\n")
    assert main([*args, "--out", str(tmp_path / "p1"), "--labels", str(bad)]) == 1
    assert "nowhere.png" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "p2"), "--labels", str(bad), "--labels-from-folders"]) == 2
    good = write_csv(tmp_path / "good.csv", "file,label\n" + "".join(
        f"{name},{name[-5]}\n" for name in ["case0.png", "case1.png", "case2.png", "batch/fake0.png",
                                            "batch/fake1.png", "batch/fake2.png"]))
    assert main([*args, "--out", str(tmp_path / "p3"), "--labels", str(good)]) == 0
    manifest = json.loads((tmp_path / "p3" / "manifest.json").read_text())
    assert sorted({image["label"] for image in manifest["images"]}) == ["0", "1", "2"]
