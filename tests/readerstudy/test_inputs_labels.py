"""Labels and volumes from `pool build` reach the database through import_pool, and the schedule uses them."""
from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from django.core.management import call_command

from generation.phantoms import write_labelled_phantoms
from generation.pool import build_pool
from readerstudy.models import Pool
from readerstudy.scheduling import ImageRef, ScheduleSpec, schedule_trials

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled_pool(tmp_path):
    write_labelled_phantoms(tmp_path / "real", 24, seed=1, size=48)
    write_labelled_phantoms(tmp_path / "synthetic", 24, seed=2, size=48)
    out = tmp_path / "pool"
    build_pool(tmp_path / "real", tmp_path / "synthetic", out, resolutions=(16, 32), workers=1,
               labels_from_folders=True)
    return out


def test_import_pool_stores_each_images_label(labelled_pool, media_root):
    call_command("import_pool", str(labelled_pool), "--name", "Labelled")
    manifest = json.loads((labelled_pool / "manifest.json").read_text())
    stored = dict(Pool.objects.get().images.values_list("uid", "label"))
    assert stored == {image["id"]: image["label"] for image in manifest["images"]}
    assert set(stored.values()) == {"none", "upper", "lower"}


def test_forced_choice_images_share_their_label(labelled_pool, media_root):
    call_command("import_pool", str(labelled_pool), "--name", "Labelled")
    pool = Pool.objects.get()
    refs = [ImageRef(*row) for row in pool.images.values_list("id", "source_id", "image_class", "resolution",
                                                                "label", "role")]
    label = {ref.id: ref.label for ref in refs}
    spec = ScheduleSpec(design="choice", resolutions=(16, 32), trials_per_resolution=4, case_set="random")
    trials = schedule_trials(refs, spec, seed=5)
    assert trials and all(len({label[i] for i in trial.image_ids}) == 1 for trial in trials)


def test_a_pool_of_volume_slices_with_labels_imports(tmp_path, media_root):
    rng = np.random.default_rng(0)
    for cls in ("real", "synthetic"):
        for n, group in enumerate(["lesion", "lesion", "none", "none"]):
            folder = tmp_path / cls / group
            folder.mkdir(parents=True, exist_ok=True)
            data = rng.integers(0, 1000, (20, 20, 5)).astype(np.int16)
            nib.save(nib.Nifti1Image(data, np.eye(4)), str(folder / f"v{n}.nii.gz"))
    build_pool(tmp_path / "real", tmp_path / "synthetic", tmp_path / "pool", resolutions=(16,), workers=1,
               labels_from_folders=True)
    call_command("import_pool", str(tmp_path / "pool"), "--name", "Volumes")
    images = Pool.objects.get().images.all()
    assert images.count() == 8
    assert {(image.source.split("/")[0], image.label) for image in images} == {("lesion", "lesion"),
                                                                              ("none", "none")}
    assert all(image.source.endswith("#slice=2") for image in images)
