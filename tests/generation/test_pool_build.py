import json
import re
from pathlib import Path

import numpy as np
import pytest

import generation.render
from generation import PoolError, build_pool, load_manifest, verify_files

SIZES = (8, 16)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def read_json(path: Path):
    return json.loads(path.read_text())


def test_it_builds_a_valid_pool(tmp_path, image_dirs):
    real, synthetic = image_dirs
    summary = build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    manifest = load_manifest(tmp_path / "pool")
    assert verify_files(tmp_path / "pool", manifest) == []
    assert summary.sources == {"real": 3, "synthetic": 3}
    assert summary.files == {"real": {8: 3, 16: 3}, "synthetic": {8: 3, 16: 3}}
    assert summary.rejections == [] and summary.seconds > 0
    assert manifest["settings"] == {"resolutions": [8, 16], "crop": "center", "window": "auto",
                                    "frames": "first", "seed": 0, "filter": "lanczos"}
    assert len(manifest["images"]) == 12
    by_source = {}
    for image in manifest["images"]:
        by_source.setdefault(image["source_id"], []).append(image)
    assert sorted(len(group) for group in by_source.values()) == [2] * 6
    sources = {group[0]["source"] for group in by_source.values()}
    assert sources == {"case0.png", "case1.png", "case2.png",
                       "batch/fake0.png", "batch/fake1.png", "batch/fake2.png"}
    assert read_json(tmp_path / "pool" / "rejected.json") == []
    assert not list(tmp_path.glob(".pool.partial-*"))


def test_ids_are_opaque_and_paths_relative(tmp_path, image_dirs):
    build_pool(*image_dirs, tmp_path / "pool", resolutions=SIZES, workers=1)
    text = (tmp_path / "pool" / "manifest.json").read_text()
    assert str(tmp_path) not in text
    for image in json.loads(text)["images"]:
        assert re.fullmatch(r"[0-9a-f]{32}", image["id"])
        assert image["file"] == f"images/{image['resolution']}/{image['id']}.png"
    names = sorted(path.name for path in (tmp_path / "pool" / "images" / "8").iterdir())
    assert not any("case" in name or "fake" in name for name in names)


def test_same_seed_gives_identical_bytes_whatever_the_worker_count(tmp_path, image_dirs):
    build_pool(*image_dirs, tmp_path / "a", resolutions=SIZES, seed=7, workers=1)
    build_pool(*image_dirs, tmp_path / "b", resolutions=SIZES, seed=7, workers=2)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    build_pool(*image_dirs, tmp_path / "c", resolutions=SIZES, seed=8, workers=1)
    ids_a = {image["id"] for image in load_manifest(tmp_path / "a")["images"]}
    ids_c = {image["id"] for image in load_manifest(tmp_path / "c")["images"]}
    assert ids_a.isdisjoint(ids_c)


def test_real_and_synthetic_images_with_equal_pixels_get_equal_bytes(tmp_path, write_png, gradient):
    first, second = gradient(40, 30, seed=1), gradient(40, 30, seed=2)
    write_png(tmp_path / "one" / "a.png", first)
    write_png(tmp_path / "two" / "b.png", second)
    build_pool(tmp_path / "one", tmp_path / "two", tmp_path / "p", resolutions=SIZES, workers=1)
    build_pool(tmp_path / "two", tmp_path / "one", tmp_path / "q", resolutions=SIZES, workers=1)

    def hashes(pool, source):
        images = load_manifest(tmp_path / pool)["images"]
        return {(i["resolution"], i["class"]): i["sha256"] for i in images if i["source"] == source}

    as_real, as_synthetic = hashes("p", "a.png"), hashes("q", "a.png")
    for size in SIZES:
        assert as_real[(size, "real")] == as_synthetic[(size, "synthetic")]


def test_duplicates_and_bad_files_are_reported_and_skipped(tmp_path, image_dirs, write_png_header_only, gradient):
    real, synthetic = image_dirs
    (real / "copy_of_case0.png").write_bytes((real / "case0.png").read_bytes())
    (synthetic / "leaked.png").write_bytes((real / "case1.png").read_bytes())
    (real / "notes.txt").write_text("not a picture")
    write_png_header_only(real / "bomb.png", 20_000, 20_000)
    whole = (real / "case2.png").read_bytes()
    (real / "cut.png").write_bytes(whole[: len(whole) // 2])
    (real / ".DS_Store").write_bytes(b"\0\1")  # hidden files are skipped, not rejected
    summary = build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    rejected = read_json(tmp_path / "pool" / "rejected.json")
    assert rejected == [
        {"file": "real/bomb.png", "reason": "image larger than the 100-megapixel limit"},
        {"file": "real/copy_of_case0.png", "reason": "duplicate of real/case0.png (identical pixels)"},
        {"file": "real/cut.png", "reason": "truncated file"},
        {"file": "real/notes.txt", "reason": "not an image file"},
        {"file": "synthetic/leaked.png", "reason": "duplicate of real/case1.png (identical pixels)"},
    ]
    assert summary.sources == {"real": 3, "synthetic": 3}
    assert summary.rejections_by_reason()["duplicate (identical pixels)"] == 2
    assert len(list((tmp_path / "pool" / "images" / "8").iterdir())) == 6


def test_mixed_sizes_with_padding_all_come_out_square(tmp_path, write_png, gradient):
    for number, shape in enumerate([(10, 70), (70, 10), (33, 33), (128, 20)]):
        write_png(tmp_path / "r" / f"{number}.png", gradient(*shape, seed=number))
        write_png(tmp_path / "s" / f"{number}.png", gradient(*shape, seed=50 + number))
    build_pool(tmp_path / "r", tmp_path / "s", tmp_path / "pool", resolutions=(32,), crop="pad", workers=1)
    manifest = load_manifest(tmp_path / "pool")
    assert len(manifest["images"]) == 8 and manifest["settings"]["crop"] == "pad"
    assert verify_files(tmp_path / "pool", manifest) == []


def test_multi_frame_dicom_sources_name_their_frame(tmp_path, write_dicom, write_png, gradient):
    stack = np.stack([gradient(12, 12, seed=k).astype(np.uint16) for k in range(3)])
    (tmp_path / "r").mkdir()
    write_dicom(tmp_path / "r" / "series.dcm", stack)
    write_png(tmp_path / "s" / "fake.png", gradient(12, 12, seed=9))
    build_pool(tmp_path / "r", tmp_path / "s", tmp_path / "pool", resolutions=(8,), frames="all", workers=1)
    sources = sorted(i["source"] for i in load_manifest(tmp_path / "pool")["images"] if i["class"] == "real")
    assert sources == ["series.dcm#frame=0", "series.dcm#frame=1", "series.dcm#frame=2"]


def test_generator_metadata_is_recorded(tmp_path, image_dirs):
    meta = {"batch/fake0.png": {"generator": {"name": "dcgan", "checkpoint": "dcgan.pt", "seed": 11}}}
    build_pool(*image_dirs, tmp_path / "pool", resolutions=(8,), workers=1,
               generator_name="folder-gan", synthetic_meta=meta)
    generators = {i["source"]: i["generator"] for i in load_manifest(tmp_path / "pool")["images"]}
    assert generators["batch/fake0.png"] == {"name": "dcgan", "checkpoint": "dcgan.pt", "seed": 11}
    assert generators["batch/fake1.png"] == {"name": "folder-gan", "checkpoint": None, "seed": None}
    assert generators["case0.png"] is None


def test_unknown_synthetic_meta_paths_are_refused(tmp_path, image_dirs):
    with pytest.raises(PoolError, match="not in the synthetic folder: nope.png"):
        build_pool(*image_dirs, tmp_path / "pool", synthetic_meta={"nope.png": {"generator": {"name": "x"}}})


def test_a_failure_mid_build_leaves_nothing_at_out(tmp_path, image_dirs, monkeypatch):
    real_encoder, calls = generation.render.encode_png, []

    def failing_encoder(gray):
        calls.append(1)
        if len(calls) == 5:
            raise OSError("disk full")
        return real_encoder(gray)

    monkeypatch.setattr(generation.render, "encode_png", failing_encoder)
    with pytest.raises(OSError, match="disk full"):
        build_pool(*image_dirs, tmp_path / "pool", resolutions=SIZES, workers=1)
    assert len(calls) == 5
    assert sorted(path.name for path in tmp_path.iterdir()) == ["real", "synthetic"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda real, synthetic, out: out.mkdir(), "already exists"),
        (lambda real, synthetic, out: [p.unlink() for p in real.iterdir()], "real folder .* contains no files"),
        (lambda real, synthetic, out: real.rename(real.with_name("gone")), "real folder .* does not exist"),
    ],
)
def test_unusable_input_raises_pool_error(tmp_path, image_dirs, change, message):
    real, synthetic = image_dirs
    change(real, synthetic, tmp_path / "pool")
    with pytest.raises(PoolError, match=message):
        build_pool(real, synthetic, tmp_path / "pool", workers=1)


def test_no_usable_synthetic_image_is_an_error_and_writes_nothing(tmp_path, image_dirs):
    real, synthetic = image_dirs
    for path in synthetic.rglob("*.png"):
        path.write_text("not an image")
    with pytest.raises(PoolError, match=r"no usable synthetic images .*3 not an image file"):
        build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    assert not (tmp_path / "pool").exists()
    assert not list(tmp_path.glob(".pool.partial-*"))


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"resolutions": (0, 32)}, "between 1 and 4096"),
        ({"resolutions": ("big",)}, "whole numbers"),
        ({"window": "liver"}, "WIDTH,LEVEL"),
        ({"frames": "last"}, "first, middle, all"),
        ({"color": "keep"}, "refuse, convert"),
        ({"crop": "stretch"}, "center, pad"),
        ({"workers": 0}, "positive whole number"),
    ],
)
def test_bad_settings_are_refused_with_the_choices(tmp_path, image_dirs, keywords, message):
    with pytest.raises(PoolError, match=message):
        build_pool(*image_dirs, tmp_path / "pool", **keywords)


def test_out_inside_an_input_folder_is_refused(tmp_path, image_dirs):
    real, synthetic = image_dirs
    with pytest.raises(PoolError, match="inside the input folder"):
        build_pool(real, synthetic, real / "pool", workers=1)
