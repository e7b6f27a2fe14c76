import json
import re
from pathlib import Path

import numpy as np
import pytest

import generation.render
from generation import PoolError, build_pool, load_manifest, verify_files
from generation.decode import decode_file, make_options

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
                                    "frames": "first", "seed": 0, "filter": "lanczos",
                                    "slices": "middle", "labels": None}
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


# --- catch trials (attention checks) -------------------------------------------------


def test_catch_images_are_synthetic_with_role_catch_at_every_resolution(tmp_path, image_dirs, catch_dir):
    summary = build_pool(*image_dirs, tmp_path / "pool", resolutions=SIZES, workers=1, catch_dir=catch_dir)
    manifest = load_manifest(tmp_path / "pool")
    assert verify_files(tmp_path / "pool", manifest) == []
    catch = [image for image in manifest["images"] if image["role"] == "catch"]
    assert {image["class"] for image in catch} == {"synthetic"}
    assert {image["source"] for image in catch} == {"early.png", "epoch1/sample.png"}
    assert sorted(image["resolution"] for image in catch) == [8, 8, 16, 16]
    assert all(image["generator"] == {"name": "catch", "checkpoint": None, "seed": None} for image in catch)
    main = [image for image in manifest["images"] if image["role"] != "catch"]
    assert len(main) == 12 and {image["role"] for image in main} == {"main"}
    raw = read_json(tmp_path / "pool" / "manifest.json")["images"]
    assert all(image["role"] in ("main", "catch") for image in raw)  # written explicitly, not defaulted
    assert summary.sources == {"real": 3, "synthetic": 3, "catch": 2}
    assert summary.files["catch"] == {8: 2, 16: 2} and summary.files["synthetic"] == {8: 3, 16: 3}


def test_catch_images_are_rendered_by_the_same_code(tmp_path, image_dirs, catch_dir):
    build_pool(*image_dirs, tmp_path / "pool", resolutions=SIZES, workers=1, catch_dir=catch_dir)
    catch = [i for i in load_manifest(tmp_path / "pool")["images"] if i["role"] == "catch"]
    for image in catch:
        frames = decode_file(catch_dir / image["source"], make_options("auto", "first", "refuse"))
        expected = generation.render.render(frames[0].pixels, list(SIZES), "center")
        assert (tmp_path / "pool" / image["file"]).read_bytes() == expected[image["resolution"]]


def test_without_catch_every_image_has_role_main(tmp_path, image_dirs):
    summary = build_pool(*image_dirs, tmp_path / "pool", resolutions=SIZES, workers=1)
    raw = read_json(tmp_path / "pool" / "manifest.json")["images"]
    assert {image["role"] for image in raw} == {"main"}
    assert set(summary.files) == {"real", "synthetic"}
    assert not [line for line in summary.format().splitlines()[1:] if "catch" in line]


def test_catch_pools_are_deterministic_and_ids_ignore_the_role(tmp_path, image_dirs, catch_dir):
    build_pool(*image_dirs, tmp_path / "a", resolutions=SIZES, seed=7, workers=1, catch_dir=catch_dir)
    build_pool(*image_dirs, tmp_path / "b", resolutions=SIZES, seed=7, workers=2, catch_dir=catch_dir)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    images = load_manifest(tmp_path / "a")["images"]  # sorted by (resolution, id)
    roles = [image["role"] for image in images if image["resolution"] == 8]
    first, last = roles.index("catch"), len(roles) - 1 - roles[::-1].index("catch")
    assert "main" in roles[first:last]  # catch ids are interleaved with the others, not grouped


def test_catch_rejections_are_prefixed_and_duplicates_span_all_folders(tmp_path, image_dirs, catch_dir):
    real, synthetic = image_dirs
    (catch_dir / "copy.png").write_bytes((real / "case0.png").read_bytes())
    (catch_dir / "notes.txt").write_text("not a picture")
    (synthetic / "also_early.png").write_bytes((catch_dir / "early.png").read_bytes())
    summary = build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1, catch_dir=catch_dir)
    assert read_json(tmp_path / "pool" / "rejected.json") == [
        {"file": "catch/copy.png", "reason": "duplicate of real/case0.png (identical pixels)"},
        {"file": "catch/early.png", "reason": "duplicate of synthetic/also_early.png (identical pixels)"},
        {"file": "catch/notes.txt", "reason": "not an image file"},
    ]
    assert summary.sources == {"real": 3, "synthetic": 4, "catch": 1}


def test_catch_files_do_not_take_synthetic_metadata(tmp_path, image_dirs, catch_dir):
    real, synthetic = image_dirs
    (catch_dir / "batch").mkdir()
    (catch_dir / "early.png").rename(catch_dir / "batch" / "fake0.png")  # same relative path as a synthetic file
    meta = {"batch/fake0.png": {"generator": {"name": "dcgan", "checkpoint": "g.pt", "seed": 1}}}
    build_pool(real, synthetic, tmp_path / "pool", resolutions=(8,), workers=1,
               synthetic_meta=meta, catch_dir=catch_dir)
    generators = {(i["role"], i["source"]): i["generator"] for i in load_manifest(tmp_path / "pool")["images"]}
    assert generators[("main", "batch/fake0.png")]["name"] == "dcgan"
    assert generators[("catch", "batch/fake0.png")] == {"name": "catch", "checkpoint": None, "seed": None}
    with pytest.raises(PoolError, match="not in the synthetic folder: epoch1/sample.png"):
        build_pool(real, synthetic, tmp_path / "other", catch_dir=catch_dir,
                   synthetic_meta={"epoch1/sample.png": {"generator": {"name": "x"}}})


def test_unusable_catch_folders_are_refused(tmp_path, image_dirs, catch_dir):
    with pytest.raises(PoolError, match="the catch folder .*nowhere does not exist"):
        build_pool(*image_dirs, tmp_path / "pool", workers=1, catch_dir=tmp_path / "nowhere")
    for path in catch_dir.rglob("*.png"):
        path.write_text("not an image")
    with pytest.raises(PoolError, match=r"no usable catch images in .*catch \(2 files rejected"):
        build_pool(*image_dirs, tmp_path / "pool", resolutions=SIZES, workers=1, catch_dir=catch_dir)
    assert not (tmp_path / "pool").exists()
    with pytest.raises(PoolError, match="inside the input folder"):
        build_pool(*image_dirs, catch_dir / "pool", workers=1, catch_dir=catch_dir)
