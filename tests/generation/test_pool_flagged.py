"""Images a quality report flags as possible copies of training images stay out of the pool by default."""

import json
from pathlib import Path

import numpy as np
import pytest

from generation import PoolError, build_pool, check_pool, load_manifest
from generation.cli import main
from generation.manifest import ManifestError, validate_manifest
from generation.pool import FLAGGED_REASON

SIZES = (8, 16)
RULE = "flag a synthetic image when its shift-tolerant correlation exceeds the 99% quantile"


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def write_flagged(path: Path, sources: list[str], **fields) -> Path:
    """A flagged.json as `python -m generation quality` writes it."""
    rows = [{"source_id": f"synthetic/{name}", "source": name, "ids": [f"synthetic/{name}"], "resolutions": [16],
             "nearest_training": ["case1.png"], "shift_tolerant": [0.998]} for name in sources]
    record = {"format": "mirage-quality-flagged/1", "rule": RULE, "synthetic": rows, **fields}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def synthetic_sources(pool: Path) -> set[str]:
    return {image["source"] for image in load_manifest(pool)["images"] if image["class"] == "synthetic"}


def nothing_written(tmp_path: Path, out: Path) -> bool:
    return not out.exists() and not list(out.parent.glob(f".{out.name}.partial-*"))


def test_a_flagged_json_in_the_synthetic_folder_is_applied_by_default(tmp_path, image_dirs, capsys):
    real, synthetic = image_dirs
    write_flagged(synthetic / "flagged.json", ["batch/fake1.png"])
    code = main(["pool", "build", "--real", str(real), "--synthetic", str(synthetic), "--out", str(tmp_path / "pool"),
                 "--resolutions", "8,16", "--workers", "1"])
    assert code == 0
    assert synthetic_sources(tmp_path / "pool") == {"batch/fake0.png", "batch/fake2.png"}
    rejected = json.loads((tmp_path / "pool" / "rejected.json").read_text())
    assert rejected == [{"file": "synthetic/batch/fake1.png", "reason": FLAGGED_REASON}]
    output = capsys.readouterr().out
    assert "left out 1 synthetic source(s) flagged as possible copies of training images" in output
    assert "found in the synthetic folder" in output and "--keep-flagged" in output


def test_a_flagged_json_beside_the_synthetic_folder_is_applied_by_default(tmp_path, image_dirs):
    real, synthetic = image_dirs
    write_flagged(synthetic.parent / "flagged.json", ["batch/fake0.png", "batch/fake2.png"])
    summary = build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    assert synthetic_sources(tmp_path / "pool") == {"batch/fake1.png"}
    assert summary.sources == {"real": 3, "synthetic": 1}
    assert "found beside the synthetic folder" in summary.format()


def test_an_explicit_flagged_json_excludes_exactly_its_sources(tmp_path, image_dirs):
    real, synthetic = image_dirs
    flagged = write_flagged(tmp_path / "report" / "flagged.json", ["batch/fake2.png"])
    summary = build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1, exclude_flagged=flagged)
    assert synthetic_sources(tmp_path / "pool") == {"batch/fake0.png", "batch/fake1.png"}
    assert [entry["file"] for entry in summary.rejections] == ["synthetic/batch/fake2.png"]
    assert "given with --exclude-flagged" in summary.format()


def test_the_report_folder_may_be_given_for_its_flagged_json(tmp_path, image_dirs):
    real, synthetic = image_dirs
    write_flagged(tmp_path / "report" / "flagged.json", ["batch/fake0.png"])
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1, exclude_flagged=tmp_path / "report")
    assert synthetic_sources(tmp_path / "pool") == {"batch/fake1.png", "batch/fake2.png"}


def test_the_manifest_records_what_was_left_out_why_and_by_which_rule(tmp_path, image_dirs):
    import hashlib

    real, synthetic = image_dirs
    flagged = write_flagged(synthetic / "flagged.json", ["batch/fake1.png"])
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    manifest = load_manifest(tmp_path / "pool")
    assert manifest["flagged"] == {
        "action": "excluded", "reason": FLAGGED_REASON, "format": "mirage-quality-flagged/1",
        "sha256": hashlib.sha256(flagged.read_bytes()).hexdigest(), "rule": RULE,
        "sources": [{"source": "batch/fake1.png", "resolutions": [16], "nearest_training": ["case1.png"],
                     "shift_tolerant": [0.998]}],
    }
    assert str(tmp_path) not in (tmp_path / "pool" / "manifest.json").read_text()


def test_keep_flagged_keeps_them_and_the_manifest_says_so(tmp_path, image_dirs, capsys):
    real, synthetic = image_dirs
    write_flagged(synthetic / "flagged.json", ["batch/fake1.png"])
    code = main(["pool", "build", "--real", str(real), "--synthetic", str(synthetic), "--out", str(tmp_path / "pool"),
                 "--resolutions", "8,16", "--workers", "1", "--keep-flagged"])
    assert code == 0
    assert synthetic_sources(tmp_path / "pool") == {"batch/fake0.png", "batch/fake1.png", "batch/fake2.png"}
    assert json.loads((tmp_path / "pool" / "rejected.json").read_text()) == []
    manifest = load_manifest(tmp_path / "pool")
    assert manifest["flagged"]["action"] == "kept"
    assert [entry["source"] for entry in manifest["flagged"]["sources"]] == ["batch/fake1.png"]
    assert "kept 1 synthetic source(s)" in capsys.readouterr().out


def test_without_a_flagged_json_nothing_is_left_out_and_the_manifest_says_none(tmp_path, image_dirs):
    summary = build_pool(*image_dirs, tmp_path / "pool", resolutions=SIZES, workers=1)
    assert load_manifest(tmp_path / "pool")["flagged"] is None
    assert summary.rejections == [] and summary.notes == []
    assert "flagged:" not in summary.format()


def test_default_and_explicit_modes_write_the_same_bytes_every_time(tmp_path, image_dirs):
    real, synthetic = image_dirs
    report = write_flagged(tmp_path / "report" / "flagged.json", ["batch/fake0.png"])
    build_pool(real, synthetic, tmp_path / "explicit", resolutions=SIZES, seed=3, workers=1, exclude_flagged=report)
    (synthetic / "flagged.json").write_bytes(report.read_bytes())
    build_pool(real, synthetic, tmp_path / "default", resolutions=SIZES, seed=3, workers=1)
    build_pool(real, synthetic, tmp_path / "again", resolutions=SIZES, seed=3, workers=2)
    assert tree_bytes(tmp_path / "explicit") == tree_bytes(tmp_path / "default") == tree_bytes(tmp_path / "again")
    assert synthetic_sources(tmp_path / "again") == {"batch/fake1.png", "batch/fake2.png"}


BAD_FILES = {
    "wrong format": (lambda path: write_flagged(path, ["batch/fake0.png"], format="mirage-quality/1"),
                     "is not a flagged.json written by `python -m generation quality`: its format is "
                     "'mirage-quality/1'"),
    "unknown source": (lambda path: write_flagged(path, ["batch/fake0.png", "elsewhere/other.png"]),
                       "flags 1 source(s) that are not in the synthetic folder"),
    "not JSON": (lambda path: path.write_text("source,flagged\nbatch/fake0.png,1\n"), "is not JSON"),
    "no list of sources": (lambda path: write_flagged(path, [], synthetic={"batch/fake0.png": True}),
                           "'synthetic' must be a list of objects that each name a 'source'"),
}


@pytest.mark.parametrize("kind", BAD_FILES)
@pytest.mark.parametrize("mode", ["default", "explicit"])
def test_a_bad_flagged_json_is_refused_and_nothing_is_written(tmp_path, image_dirs, capsys, kind, mode):
    real, synthetic = image_dirs
    write, message = BAD_FILES[kind]
    path = synthetic / "flagged.json" if mode == "default" else tmp_path / "report" / "flagged.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path)
    out = tmp_path / "pool"
    argv = ["pool", "build", "--real", str(real), "--synthetic", str(synthetic), "--out", str(out),
            "--resolutions", "8,16", "--workers", "1"]
    assert main(argv + (["--exclude-flagged", str(path)] if mode == "explicit" else [])) == 1
    error = capsys.readouterr().err
    assert message in error and str(path) in error
    assert nothing_written(tmp_path, out)


def test_a_missing_flagged_json_is_refused(tmp_path, image_dirs):
    with pytest.raises(PoolError, match="no such file"):
        build_pool(*image_dirs, tmp_path / "pool", resolutions=SIZES, workers=1,
                   exclude_flagged=tmp_path / "report" / "flagged.json")
    assert nothing_written(tmp_path, tmp_path / "pool")


def test_exclude_flagged_and_keep_flagged_together_are_refused(tmp_path, image_dirs, capsys):
    real, synthetic = image_dirs
    flagged = write_flagged(tmp_path / "flagged.json", [])
    argv = ["pool", "build", "--real", str(real), "--synthetic", str(synthetic), "--out", str(tmp_path / "pool"),
            "--exclude-flagged", str(flagged), "--keep-flagged"]
    assert main(argv) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(PoolError, match="not both"):
        build_pool(real, synthetic, tmp_path / "pool", exclude_flagged=flagged, keep_flagged=True)
    assert nothing_written(tmp_path, tmp_path / "pool")


def test_two_default_flagged_files_are_refused_as_ambiguous(tmp_path, image_dirs):
    real, synthetic = image_dirs
    write_flagged(synthetic / "flagged.json", ["batch/fake0.png"])
    write_flagged(synthetic.parent / "flagged.json", ["batch/fake1.png"])
    with pytest.raises(PoolError, match="name the one to apply with --exclude-flagged"):
        build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    assert nothing_written(tmp_path, tmp_path / "pool")


def test_a_pool_cannot_be_made_of_flagged_images_only(tmp_path, image_dirs):
    real, synthetic = image_dirs
    write_flagged(synthetic / "flagged.json", ["batch/fake0.png", "batch/fake1.png", "batch/fake2.png"])
    with pytest.raises(PoolError, match=f"no usable synthetic images .*3 {FLAGGED_REASON}"):
        build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    assert nothing_written(tmp_path, tmp_path / "pool")


def test_pool_check_accepts_a_pool_with_flagged_images_left_out(tmp_path, image_dirs):
    real, synthetic = image_dirs
    write_flagged(synthetic / "flagged.json", ["batch/fake1.png"])
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    assert check_pool(tmp_path / "pool").errors == []
    assert main(["pool", "check", str(tmp_path / "pool")]) == 0


def test_the_manifest_check_refuses_a_flagged_record_that_says_neither_excluded_nor_kept(tmp_path, image_dirs):
    real, synthetic = image_dirs
    write_flagged(synthetic / "flagged.json", ["batch/fake1.png"])
    build_pool(real, synthetic, tmp_path / "pool", resolutions=SIZES, workers=1)
    manifest = json.loads((tmp_path / "pool" / "manifest.json").read_text())
    validate_manifest(manifest)
    manifest["flagged"]["action"] = "ignored"
    with pytest.raises(ManifestError, match="flagged.action must be 'excluded' or 'kept'"):
        validate_manifest(manifest)


def test_the_flagged_json_of_a_real_quality_report_leaves_out_what_it_flags(tmp_path, write_png):
    """End to end: `quality` on two folders flags a planted copy; `pool build --exclude-flagged` leaves it out."""
    from tests.generation.test_quality_support import phantom_set

    real, synthetic = tmp_path / "real", tmp_path / "synthetic"
    real_images = phantom_set(0, 20, 32)
    for image in real_images:
        write_png(real / image["name"], image["pixels"])
    for image in phantom_set(1000, 12, 32):
        write_png(synthetic / image["name"], image["pixels"])
    copy = real_images[3]["pixels"].astype(np.int16)
    copy[:4, :4] += 1  # not pixel-identical, so only the report can tell it is a copy
    write_png(synthetic / "copied.png", np.clip(copy, 0, 255).astype(np.uint8))
    report = tmp_path / "report"
    assert main(["quality", "--real", str(real), "--synthetic", str(synthetic), "--out", str(report),
                 "--stages", "memorisation", "--workers", "1"]) == 0
    flagged = {row["source"] for row in json.loads((report / "flagged.json").read_text())["synthetic"]}
    assert "copied.png" in flagged
    assert main(["pool", "build", "--real", str(real), "--synthetic", str(synthetic), "--out", str(tmp_path / "pool"),
                 "--resolutions", "16,32", "--workers", "1", "--exclude-flagged", str(report / "flagged.json")]) == 0
    kept = synthetic_sources(tmp_path / "pool")
    assert kept == {path.name for path in synthetic.iterdir()} - flagged
    rejected = json.loads((tmp_path / "pool" / "rejected.json").read_text())
    assert {entry["file"] for entry in rejected} == {f"synthetic/{name}" for name in flagged}
