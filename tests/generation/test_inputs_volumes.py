"""pool build with volumes: NIfTI files and DICOM series folders in --real and --synthetic."""

import json

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from generation import PoolError, build_pool, load_manifest, verify_files
from generation.cli import main

SIZES = (8, 16)


def write_nifti(path, data, affine=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data), np.eye(4) if affine is None else affine), str(path))
    return path


def volume(seed, shape=(12, 10, 6)):
    rng = np.random.default_rng(seed)
    return (np.arange(shape[2])[None, None, :] * 50 + rng.integers(0, 40, shape)).astype(np.int16)


def write_series(folder, write_dicom, n=4, seed=0, size=(10, 12)):
    folder.mkdir(parents=True, exist_ok=True)
    uid = generate_uid()
    rng = np.random.default_rng(seed)
    for k in range(n):
        write_dicom(folder / f"{k:03d}.dcm", rng.integers(0, 2000, size).astype(np.uint16), Modality="CT",
                    SeriesInstanceUID=uid, InstanceNumber=k + 1, ImagePositionPatient=[0.0, 0.0, 2.0 * k],
                    ImageOrientationPatient=[1, 0, 0, 0, 1, 0])
    return folder


@pytest.fixture
def volume_dirs(tmp_path, write_dicom):
    """Real: two NIfTI volumes and one DICOM series; synthetic: three NIfTI volumes."""
    real, synthetic = tmp_path / "real", tmp_path / "synthetic"
    write_nifti(real / "p1" / "ct.nii.gz", volume(1))
    write_nifti(real / "p2.nii", volume(2))
    write_series(real / "p3" / "series", write_dicom, seed=3)
    for n in range(3):
        write_nifti(synthetic / f"gen{n}.nii.gz", volume(10 + n))
    return real, synthetic


def read_json(path):
    return json.loads(path.read_text())


def by_source(manifest):
    groups = {}
    for image in manifest["images"]:
        groups.setdefault(image["source_id"], []).append(image)
    return groups


def test_each_volume_is_one_source_and_the_manifest_names_its_slices(tmp_path, volume_dirs):
    summary = build_pool(*volume_dirs, tmp_path / "pool", resolutions=SIZES, workers=1, slices="every:2")
    manifest = load_manifest(tmp_path / "pool")
    assert verify_files(tmp_path / "pool", manifest) == []
    assert manifest["settings"]["slices"] == "every:2"
    assert summary.sources == {"real": 3, "synthetic": 3}
    groups = by_source(manifest)
    assert len(groups) == 6
    slices = {}
    for images in groups.values():
        files = {image["volume"]["file"] for image in images}
        assert len(files) == 1  # one source id, one volume
        slices[files.pop()] = sorted({image["volume"]["slice"] for image in images})
        assert all(image["volume"]["rule"] == "every:2" for image in images)
        assert all(image["source"] == f"{image['volume']['file']}#slice={image['volume']['slice']}"
                   for image in images)
    assert slices == {"p1/ct.nii.gz": [0, 2, 4], "p2.nii": [0, 2, 4], "p3/series": [0, 2],
                      "gen0.nii.gz": [0, 2, 4], "gen1.nii.gz": [0, 2, 4], "gen2.nii.gz": [0, 2, 4]}
    series = next(images for images in groups.values() if images[0]["volume"]["file"] == "p3/series")
    assert {image["volume"]["slices"] for image in series} == {4}
    assert read_json(tmp_path / "pool" / "rejected.json") == []


def test_the_middle_slice_by_default_and_2d_files_beside_volumes(tmp_path, volume_dirs, write_png, gradient):
    real, synthetic = volume_dirs
    write_png(real / "xray.png", gradient(20, 20))
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    manifest = load_manifest(tmp_path / "pool")
    sources = sorted({image["source"] for image in manifest["images"]})
    assert sources == ["gen0.nii.gz#slice=3", "gen1.nii.gz#slice=3", "gen2.nii.gz#slice=3",
                       "p1/ct.nii.gz#slice=3", "p2.nii#slice=3", "p3/series#slice=2", "xray.png"]
    assert all("volume" not in image for image in manifest["images"] if image["source"] == "xray.png")
    assert len(by_source(manifest)) == 7


def test_volume_pools_are_reproducible_whatever_the_worker_count(tmp_path, volume_dirs):
    build_pool(*volume_dirs, tmp_path / "a", resolutions=SIZES, workers=1, slices="every:3", seed=4)
    build_pool(*volume_dirs, tmp_path / "b", resolutions=SIZES, workers=2, slices="every:3", seed=4)
    files = sorted(path.relative_to(tmp_path / "a") for path in (tmp_path / "a").rglob("*") if path.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_bad_volumes_are_rejected_with_their_reasons(tmp_path, volume_dirs, write_dicom):
    real, synthetic = volume_dirs
    data = write_nifti(tmp_path / "big.nii.gz", volume(5, (40, 40, 30))).read_bytes()
    (real / "cut.nii.gz").write_bytes(data[: len(data) // 2])
    (real / "junk.nii").write_bytes(b"\0" * 600)
    series = write_series(real / "mixed", write_dicom, seed=7)
    uid = pydicom.dcmread(series / "000.dcm").SeriesInstanceUID  # a fifth slice of another size joins it
    write_dicom(series / "004.dcm", np.zeros((6, 6), np.uint16), Modality="CT", SeriesInstanceUID=uid,
                InstanceNumber=5, ImagePositionPatient=[0.0, 0.0, 8.0], ImageOrientationPatient=[1, 0, 0, 0, 1, 0])
    gap = write_series(real / "gap", write_dicom, n=5, seed=8)
    (gap / "002.dcm").unlink()
    write_nifti(real / "ct_seg.nii.gz", np.ones((3, 3, 3), np.uint8))
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    reasons = {entry["file"]: entry["reason"] for entry in read_json(tmp_path / "pool" / "rejected.json")}
    assert reasons["real/cut.nii.gz"] == "truncated file"
    assert reasons["real/junk.nii"] == "damaged NIfTI file (no NIfTI header)"
    assert reasons["real/mixed"].startswith("series has slices of different sizes: 4 of 10x12")
    assert reasons["real/gap"].startswith("series has missing slices: 4 mm between 001.dcm and 003.dcm")
    assert reasons["real/ct_seg.nii.gz"].startswith("named like a segmentation mask")
    assert len(reasons) == 5


def test_mask_rule_reads_masks_beside_volumes_and_rejects_the_mismatched(tmp_path, volume_dirs):
    real, synthetic = volume_dirs
    for folder in (real, synthetic):
        for path in sorted(folder.rglob("*.nii*")):
            stem = path.name.split(".nii")[0]
            mask = np.zeros(nib.load(str(path)).shape, np.uint8)
            mask[2:5, 2:5, 1] = mask[2:5, 2:5, 4] = 1
            write_nifti(path.with_name(f"{stem}_seg.nii.gz"), mask)
    write_nifti(real / "p2_seg.nii.gz", np.ones((12, 10, 5), np.uint8))  # the wrong shape for p2.nii
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1, slices="mask:_seg")
    manifest = load_manifest(tmp_path / "pool")
    slices = {(image["volume"]["file"], image["volume"]["slice"]) for image in manifest["images"]}
    assert slices == {(name, k) for name in ("p1/ct.nii.gz", "gen0.nii.gz", "gen1.nii.gz", "gen2.nii.gz")
                      for k in (1, 4)}
    reasons = {entry["file"]: entry["reason"] for entry in read_json(tmp_path / "pool" / "rejected.json")}
    assert reasons["real/p2.nii"] == ("its mask p2_seg.nii.gz is 12x10x5 voxels, the volume 12x10x6: "
                                      "a mask must have the volume's shape")
    assert reasons["real/p3/series"].startswith("no mask for --slices mask:_seg: looked for")
    assert not any("_seg" in name for name in reasons)  # masks are read with their volume, never as images


def test_a_folder_with_two_series_is_refused(tmp_path, volume_dirs, write_dicom):
    real, synthetic = volume_dirs
    write_series(real / "two", write_dicom, seed=1)
    other = write_series(tmp_path / "other", write_dicom, seed=2)
    for path in other.iterdir():
        path.rename(real / "two" / f"b{path.name}")
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    reasons = {entry["file"]: entry["reason"] for entry in read_json(tmp_path / "pool" / "rejected.json")}
    assert reasons["real/two"].startswith("folder holds 2 DICOM series (")
    assert reasons["real/two"].endswith("put each series in a folder of its own")


def test_radiographs_in_one_folder_stay_one_image_each(tmp_path, image_dirs, write_dicom, gradient):
    real, synthetic = image_dirs
    uid = generate_uid()
    (real / "cr").mkdir()
    for n in range(3):
        write_dicom(real / "cr" / f"{n}.dcm", gradient(20, 20, 40 + n).astype(np.uint16), Modality="CR",
                    SeriesInstanceUID=uid)
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    sources = {image["source"] for image in load_manifest(tmp_path / "pool")["images"]}
    assert {"cr/0.dcm", "cr/1.dcm", "cr/2.dcm"} <= sources


@pytest.mark.parametrize("rule", ["random", "every:0", "list:a"])
def test_an_unknown_slice_rule_is_refused_and_nothing_is_written(tmp_path, volume_dirs, rule):
    with pytest.raises(PoolError, match="slices"):
        build_pool(*volume_dirs, tmp_path / "pool", resolutions=SIZES, workers=1, slices=rule)
    assert not (tmp_path / "pool").exists() and not list(tmp_path.glob(".pool.partial-*"))


def test_cli_takes_the_slice_rule(tmp_path, volume_dirs, capsys):
    real, synthetic = volume_dirs
    args = ["pool", "build", "--real", str(real), "--synthetic", str(synthetic), "--resolutions", "8",
            "--workers", "1", "--out"]
    assert main([*args, str(tmp_path / "bad"), "--slices", "top"]) == 1
    assert "is not a slice rule: use middle, every:K" in capsys.readouterr().err
    assert main([*args, str(tmp_path / "pool"), "--slices", "list:0,5"]) == 0
    manifest = load_manifest(tmp_path / "pool")
    assert {image["volume"]["slice"] for image in manifest["images"] if image["class"] == "synthetic"} == {0, 5}


def test_a_mask_folder_inside_the_input_folder_is_read_as_masks_only(tmp_path, volume_dirs):
    real, synthetic = volume_dirs
    masks = real / "masks"
    for folder in (real, synthetic):
        for path in sorted(folder.rglob("*.nii*")):
            mask = np.zeros(nib.load(str(path)).shape, np.uint8)
            mask[..., 3] = 1
            write_nifti(masks / folder.name / path.relative_to(folder), mask)  # masks/real/p1/ct.nii.gz
    write_nifti(masks / "real" / "p3" / "series.nii.gz", np.ones((12, 10, 4), np.uint8),
                np.diag([-1.0, -1.0, 2.0, 1.0]))
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1, slices=f"mask:{masks}")
    manifest = load_manifest(tmp_path / "pool")
    assert not any(image["source"].startswith("masks/") for image in manifest["images"])  # never as images
    slices = {(image["volume"]["file"], image["volume"]["slice"]) for image in manifest["images"]}
    assert slices == {("p1/ct.nii.gz", 3), ("p2.nii", 3), ("gen0.nii.gz", 3), ("gen1.nii.gz", 3),
                      ("gen2.nii.gz", 3), *(("p3/series", k) for k in range(4))}
    assert read_json(tmp_path / "pool" / "rejected.json") == []
