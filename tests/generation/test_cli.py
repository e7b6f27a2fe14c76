import os
import re
import subprocess
import sys
from pathlib import Path

from generation.cli import main

REPO = Path(__file__).resolve().parents[2]


def build_args(real, synthetic, out, *extra):
    return ["pool", "build", "--real", str(real), "--synthetic", str(synthetic), "--out", str(out),
            "--resolutions", "8,16", "--workers", "1", *extra]


def test_build_prints_a_summary_and_exits_zero(tmp_path, image_dirs, capsys):
    assert main(build_args(*image_dirs, tmp_path / "pool", "--generator-name", "gan-a")) == 0
    out = capsys.readouterr().out
    assert f"Pool written to {tmp_path / 'pool'}" in out and "source images/s" in out
    assert re.search(r"^\s+class\s+8\s+16$", out, re.M)
    assert re.search(r"^\s+real\s+3\s+3$", out, re.M) and re.search(r"^\s+synthetic\s+3\s+3$", out, re.M)
    assert "rejected: none" in out
    assert main(["pool", "check", str(tmp_path / "pool")]) == 0
    assert "pool check: OK (0 errors" in capsys.readouterr().out


def test_rejections_are_summarised_but_still_exit_zero(tmp_path, image_dirs, capsys):
    real, synthetic = image_dirs
    (real / "readme.txt").write_text("hello")
    assert main(build_args(real, synthetic, tmp_path / "pool")) == 0
    assert "rejected 1 (details in" in capsys.readouterr().out


def test_existing_out_is_a_one_line_error(tmp_path, image_dirs, capsys):
    (tmp_path / "pool").mkdir()
    assert main(build_args(*image_dirs, tmp_path / "pool")) == 1
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'pool'} already exists: choose a new --out folder or delete the old pool\n"


def test_missing_folder_and_bad_window_are_errors(tmp_path, image_dirs, capsys):
    real, synthetic = image_dirs
    assert main(build_args(tmp_path / "nowhere", synthetic, tmp_path / "pool")) == 1
    assert "the real folder" in capsys.readouterr().err
    assert main(build_args(real, synthetic, tmp_path / "pool", "--window", "liver")) == 1
    assert "WIDTH,LEVEL" in capsys.readouterr().err
    assert not (tmp_path / "pool").exists()


def test_argument_errors_exit_two(tmp_path, image_dirs, capsys):
    real, synthetic = image_dirs
    assert main(["pool", "build", "--real", str(real), "--synthetic", str(synthetic), "--out", "x",
                 "--resolutions", "32,big"]) == 2
    assert "is not a comma-separated list of sizes" in capsys.readouterr().err
    assert main(build_args(real, synthetic, tmp_path / "pool", "--crop", "stretch")) == 2
    assert main(["pool"]) == 2
    assert main([]) == 2


def test_check_exits_one_on_a_damaged_pool(tmp_path, image_dirs, capsys):
    assert main(build_args(*image_dirs, tmp_path / "pool")) == 0
    victim = next((tmp_path / "pool" / "images" / "16").iterdir())
    victim.write_bytes(b"broken")
    capsys.readouterr()
    assert main(["pool", "check", str(tmp_path / "pool")]) == 1
    out = capsys.readouterr().out
    assert f"ERROR: images/16/{victim.name}: sha256 does not match" in out
    assert "pool check: FAILED (1 errors" in out
    assert main(["pool", "check", str(tmp_path / "absent")]) == 1


def test_module_entry_point_gives_no_traceback(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    command = [sys.executable, "-m", "generation", "pool", "build", "--real", str(tmp_path / "empty"),
               "--synthetic", str(tmp_path / "other"), "--out", str(tmp_path / "pool")]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: the real folder {tmp_path / 'empty'} contains no files"]
    assert "Traceback" not in done.stderr


def test_a_write_failure_is_a_one_line_error(tmp_path, image_dirs, capsys, monkeypatch):
    import generation.render

    def full_disk(gray):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(generation.render, "encode_png", full_disk)
    assert main(build_args(*image_dirs, tmp_path / "pool")) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: could not write the pool ([Errno 28] No space left on device)")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["real", "synthetic"]


def test_catch_folder_is_built_summarised_and_checked(tmp_path, image_dirs, catch_dir, capsys):
    assert main(build_args(*image_dirs, tmp_path / "pool", "--catch", str(catch_dir))) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\s+synthetic\s+3\s+3$", out, re.M) and re.search(r"^\s+catch\s+2\s+2$", out, re.M)
    assert "catch: attention-check images" in out
    assert main(["pool", "check", str(tmp_path / "pool")]) == 0
    out = capsys.readouterr().out
    assert "8 px: 2, 16 px: 2" in out and "pool check: OK (0 errors, 0 warnings)" in out


def test_missing_catch_folder_is_a_one_line_error(tmp_path, image_dirs, capsys):
    assert main(build_args(*image_dirs, tmp_path / "pool", "--catch", str(tmp_path / "nowhere"))) == 1
    err = capsys.readouterr().err
    assert err == f"error: the catch folder {tmp_path / 'nowhere'} does not exist or is not a folder\n"
    assert not (tmp_path / "pool").exists()
