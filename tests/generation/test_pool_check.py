import json

import numpy as np
import pytest

from generation import ManifestError, build_pool, check_pool, load_manifest, verify_files
from generation.check import TABLE_COLUMNS, format_result, high_frequency_share, mann_whitney


@pytest.fixture
def pool(tmp_path, image_dirs):
    build_pool(*image_dirs, tmp_path / "pool", resolutions=(8, 16), workers=1)
    return tmp_path / "pool"


def rewrite_manifest(pool, change):
    manifest = json.loads((pool / "manifest.json").read_text())
    change(manifest)
    (pool / "manifest.json").write_text(json.dumps(manifest))


def test_a_fresh_pool_passes(pool):
    result = check_pool(pool)
    assert result.errors == [] and result.ok
    assert list(result.table.columns) == TABLE_COLUMNS
    assert set(result.table["resolution"]) == {8, 16}
    assert set(result.table["property"]) == {"png_bytes", "mean", "dynamic_range", "saturated", "high_frequency"}
    assert (result.table["n_real"] == 3).all() and (result.table["n_synthetic"] == 3).all()


def test_changed_and_missing_files_are_errors(pool):
    images = load_manifest(pool)["images"]
    (pool / images[0]["file"]).write_bytes(b"tampered")
    (pool / images[1]["file"]).unlink()
    errors = check_pool(pool).errors
    assert f"{images[0]['file']}: sha256 does not match the manifest (file changed or damaged)" in errors
    assert f"{images[1]['file']}: file is missing" in errors


def test_a_source_missing_a_resolution_is_an_error(pool):
    removed = {}
    rewrite_manifest(pool, lambda m: removed.update(m["images"].pop(0)))
    errors = check_pool(pool).errors
    assert any(removed["source_id"] in e and f"no image at {removed['resolution']} px" in e for e in errors)


def test_wrong_declared_size_is_found(pool):
    def shrink(manifest):
        manifest["settings"]["resolutions"].append(4)
        image = manifest["images"][0]
        image["resolution"] = image["width"] = image["height"] = 4
        image["file"] = f"images/4/{image['id']}.png"

    first = load_manifest(pool)["images"][0]
    (pool / "images" / "4").mkdir()
    (pool / first["file"]).rename(pool / "images" / "4" / f"{first['id']}.png")
    rewrite_manifest(pool, shrink)
    problems = verify_files(pool, load_manifest(pool))
    assert problems == [f"images/4/{first['id']}.png: image is {first['width']}x{first['width']}, manifest says 4x4"]


def test_class_differences_in_file_properties_raise_a_warning(tmp_path, write_png):
    rng = np.random.default_rng(0)
    for number in range(10):
        write_png(tmp_path / "r" / f"{number}.png", rng.integers(150, 250, (24, 24), dtype=np.uint8))
        write_png(tmp_path / "s" / f"{number}.png", rng.integers(10, 90, (24, 24), dtype=np.uint8))
    build_pool(tmp_path / "r", tmp_path / "s", tmp_path / "pool", resolutions=(16,), workers=1)
    result = check_pool(tmp_path / "pool")
    assert result.errors == []
    assert any(w.startswith("at 16 px, mean intensity (0-1) differs") for w in result.warnings)
    mean_row = result.table[result.table["property"] == "mean"].iloc[0]
    assert mean_row["flagged"] and mean_row["cliffs_delta"] == 1.0 and mean_row["p_value"] < 0.01


def test_high_frequency_share_has_its_analytic_values():
    rng = np.random.default_rng(1)
    # White noise spreads its power evenly over the frequency square [-1/2, 1/2)^2, so the share outside
    # the radius 1/4 is the area outside that disc: 1 - pi/16 = 0.8037.
    shares = [high_frequency_share(rng.normal(size=(128, 128))) for _ in range(20)]
    assert np.mean(shares) == pytest.approx(1 - np.pi / 16, abs=0.005)
    y, x = np.mgrid[0:64, 0:64]
    assert high_frequency_share(np.cos(2 * np.pi * x / 16)) == pytest.approx(0.0, abs=1e-12)  # 1/16 cycle/px
    assert high_frequency_share(np.cos(2 * np.pi * 24 * (x + y) / 64)) == pytest.approx(1.0, abs=1e-12)  # 0.53
    assert high_frequency_share(np.full((16, 16), 7.0)) == 0.0


def test_sharper_synthetic_images_than_real_ones_raise_a_warning(tmp_path, write_png):
    # Real images low-pass filtered (as a downsampled radiograph is), synthetic ones with the same grey
    # levels but pixel-level detail (as a generator's output at the study's own resolution can be).
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(2)
    for number in range(12):
        noise = rng.normal(size=(32, 32))
        smooth = gaussian_filter(noise, 2.0)
        write_png(tmp_path / "r" / f"{number}.png", np.clip(128 + 40 * smooth / smooth.std(), 0, 255).astype(np.uint8))
        write_png(tmp_path / "s" / f"{number}.png", np.clip(128 + 40 * noise / noise.std(), 0, 255).astype(np.uint8))
    build_pool(tmp_path / "r", tmp_path / "s", tmp_path / "pool", resolutions=(32,), workers=1)
    result = check_pool(tmp_path / "pool")
    row = result.table[result.table["property"] == "high_frequency"].iloc[0]
    assert row["flagged"] and row["cliffs_delta"] == -1.0
    assert row["median_real"] < 0.05 < 0.6 < row["median_synthetic"]
    assert any(w.startswith("at 32 px, share of spectral power above half the Nyquist frequency differs")
               for w in result.warnings)
    mean_row = result.table[result.table["property"] == "mean"].iloc[0]
    assert not mean_row["flagged"]  # same grey levels: only the detail gives them away


def test_unbalanced_classes_are_a_warning(tmp_path, write_png, gradient):
    for number in range(4):
        write_png(tmp_path / "r" / f"{number}.png", gradient(20, 20, seed=number))
    write_png(tmp_path / "s" / "only.png", gradient(20, 20, seed=99))
    build_pool(tmp_path / "r", tmp_path / "s", tmp_path / "pool", resolutions=(8,), workers=1)
    assert "classes are unbalanced: 4 real and 1 synthetic source images" in check_pool(tmp_path / "pool").warnings


def test_mann_whitney_matches_the_exact_table_value():
    # n = 3 + 3, complete separation: exact two-sided p = 2 / C(6, 3) = 0.1
    p_value, delta = mann_whitney(np.array([1.0, 2, 3]), np.array([4.0, 5, 6]))
    assert p_value == pytest.approx(0.1) and delta == -1.0
    assert mann_whitney(np.array([2.0, 2]), np.array([2.0, 2])) == (1.0, 0.0)


def test_load_manifest_explains_what_is_wrong(tmp_path, pool):
    with pytest.raises(ManifestError, match="no manifest.json in .*pool build"):
        load_manifest(tmp_path)
    rewrite_manifest(pool, lambda m: m.update(format="mirage-pool/0"))
    with pytest.raises(ManifestError, match="format is 'mirage-pool/0'"):
        load_manifest(pool)
    rewrite_manifest(pool, lambda m: m.update(format="mirage-pool/1") or m["images"][2].update(id="X1"))
    with pytest.raises(ManifestError, match=r"images\[2\] \(id 'X1'\): id must be 32 lowercase hex"):
        load_manifest(pool)
    rewrite_manifest(pool, lambda m: m["images"][2].pop("id"))
    with pytest.raises(ManifestError, match=r"images\[2\] lacks id"):
        load_manifest(pool)
    (pool / "manifest.json").write_text("{broken")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(pool)
    assert check_pool(pool).errors[0].startswith(f"{pool / 'manifest.json'} is not valid JSON")


def test_duplicate_ids_and_escaping_paths_are_refused(pool):
    rewrite_manifest(pool, lambda m: m["images"][1].update(id=m["images"][0]["id"],
                                                           file=m["images"][0]["file"]))
    with pytest.raises(ManifestError, match="appears twice"):
        load_manifest(pool)
    manifest = json.loads((pool / "manifest.json").read_text())
    manifest["images"][0]["file"] = "../../etc/passwd"
    assert verify_files(pool, manifest)[0] == "../../etc/passwd: path leaves the pool folder"


# --- catch images -----------------------------------------------------------------


@pytest.fixture
def catch_pool(tmp_path, image_dirs, catch_dir):
    build_pool(*image_dirs, tmp_path / "catch_pool", resolutions=(8, 16), workers=1, catch_dir=catch_dir)
    return tmp_path / "catch_pool"


def test_catch_images_are_counted_but_left_out_of_balance_and_comparison(catch_pool):
    result = check_pool(catch_pool)
    # 3 real vs 3 main synthetic: balanced; counting the 2 catch images (3 vs 5) would warn
    assert result.errors == [] and result.warnings == []
    assert (result.table["n_real"] == 3).all() and (result.table["n_synthetic"] == 3).all()
    assert result.catch_counts == {8: 2, 16: 2}
    assert "catch images per resolution (excluded from balance and comparison): 8 px: 2, 16 px: 2" in (
        format_result(result))


def test_a_pool_without_catch_images_reports_none(pool):
    result = check_pool(pool)
    assert result.catch_counts == {8: 0, 16: 0}
    assert "catch images: none" in format_result(result)


def test_integrity_checks_cover_catch_images(catch_pool):
    images = load_manifest(catch_pool)["images"]
    catch = [image for image in images if image["role"] == "catch"]
    (catch_pool / catch[0]["file"]).write_bytes(b"tampered")
    rewrite_manifest(catch_pool, lambda m: m.update(images=[i for i in m["images"] if i["id"] != catch[1]["id"]]))
    errors = check_pool(catch_pool).errors
    assert f"{catch[0]['file']}: sha256 does not match the manifest (file changed or damaged)" in errors
    assert any(catch[1]["source_id"] in e and f"no image at {catch[1]['resolution']} px" in e for e in errors)


def test_a_manifest_without_roles_loads_with_role_main(pool):
    rewrite_manifest(pool, lambda m: [image.pop("role") for image in m["images"]])
    manifest = load_manifest(pool)
    assert {image["role"] for image in manifest["images"]} == {"main"}
    assert check_pool(pool).errors == []


def test_invalid_roles_are_refused(pool):
    rewrite_manifest(pool, lambda m: m["images"][1].update(role="practice"))
    with pytest.raises(ManifestError, match=r"images\[1\] .*role must be 'main' or 'catch'.*'practice'"):
        load_manifest(pool)
    rewrite_manifest(pool, lambda m: m["images"][1].update(role=None))
    with pytest.raises(ManifestError, match="role must be 'main' or 'catch'"):
        load_manifest(pool)

    def real_catch(manifest):
        image = next(i for i in manifest["images"] if i["class"] == "real")
        image["role"] = "catch"
    rewrite_manifest(pool, lambda m: m["images"][1].update(role="main"))
    rewrite_manifest(pool, real_catch)
    with pytest.raises(ManifestError, match="a catch image must be of class 'synthetic', not 'real'"):
        load_manifest(pool)


def test_a_listed_file_that_cannot_be_read_is_a_problem_not_a_crash(pool):
    images = load_manifest(pool)["images"]
    (pool / images[0]["file"]).unlink()
    (pool / images[0]["file"]).mkdir()  # a folder where the PNG should be
    problems = verify_files(pool, load_manifest(pool))
    assert problems == [f"{images[0]['file']}: cannot be read (Is a directory)"]
    assert f"{images[0]['file']}: cannot be read (Is a directory)" in check_pool(pool).errors


def test_a_volume_with_several_slices_is_one_complete_source():
    from generation.check import completeness_problems

    images = [{"source_id": "v1", "class": "real", "resolution": res, "volume": {"slice": k}}
              for k in (3, 7) for res in (32, 64)]
    manifest = {"settings": {"resolutions": [32, 64]}, "images": images}
    assert completeness_problems(manifest) == []
    manifest["images"] = images[:-1]  # slice 7 lacks 64 px
    assert completeness_problems(manifest) == ["source v1 (slice 7) has no image at 64 px"]
    manifest["images"] = images + [images[0]]
    assert "more than one image at the same resolution" in completeness_problems(manifest)[0]
