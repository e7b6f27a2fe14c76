import json

import numpy as np
import pytest
from PIL import Image

from generation.phantoms import (
    LESION_LABELS,
    draw_phantom,
    has_lesion,
    labelled_phantoms,
    lesion_for,
    phantom_seed,
    write_labelled_phantoms,
    write_phantoms,
)


def test_it_is_deterministic_per_seed():
    assert np.array_equal(draw_phantom(5, 64), draw_phantom(5, 64))


def test_it_draws_200_distinct_images():
    images = [draw_phantom(phantom_seed(0, i), 48).tobytes() for i in range(200)]
    assert len(set(images)) == 200


def test_patients_differ_beyond_noise():
    a, b = draw_phantom(1, 128), draw_phantom(2, 128)
    # Mean absolute difference well above the per-pixel noise (at most 0.03).
    assert np.abs(a - b).mean() > 0.03


@pytest.mark.parametrize("size", [32, 100, 256])
def test_it_gives_float32_in_unit_range_of_the_asked_size(size):
    image = draw_phantom(3, size)
    assert image.shape == (size, size)
    assert image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image.std() > 0.05  # not a flat field


def test_lungs_are_darker_than_the_spine_and_air_is_darkest():
    image = draw_phantom(4, 128)
    lung = image[45:60, 30:40].mean()  # upper left lung field
    spine = image[40:80, 62:66].mean()  # midline
    corner = image[120:, :4].mean()  # air beside the body
    assert corner < lung < spine


def test_lesion_flag_changes_pixels_only_around_the_lesion():
    seed = 11
    with_lesion, without = draw_phantom(seed, 128, lesion=True), draw_phantom(seed, 128, lesion=False)
    spot = lesion_for(seed)
    diff = np.abs(with_lesion - without)
    assert diff.max() > 0.1
    # The largest change sits within a few radii of where the lesion is (before the patient shift).
    row, col = np.unravel_index(diff.argmax(), diff.shape)
    y, x = (row + 0.5) / 64 - 1, (col + 0.5) / 64 - 1
    assert np.hypot(x - spot.x, y - spot.y) < 0.15 + 2 * spot.radius


def test_the_seed_decides_the_lesion_when_not_asked():
    seeds = range(40)
    flags = [has_lesion(s) for s in seeds]
    assert 5 < sum(flags) < 35
    for s in seeds[:6]:
        assert np.array_equal(draw_phantom(s, 48), draw_phantom(s, 48, lesion=has_lesion(s)))


def test_it_refuses_a_tiny_size():
    with pytest.raises(ValueError, match="at least 16"):
        draw_phantom(0, 8)


def test_write_phantoms_writes_8bit_pngs_and_labels(tmp_path):
    labels_path = tmp_path / "labels.json"
    paths = write_phantoms(tmp_path / "real", 5, seed=3, size=64, labels_path=labels_path)
    assert [p.name for p in paths] == [f"phantom_{i:04d}.png" for i in range(5)]
    with Image.open(paths[2]) as image:
        assert image.mode == "L" and image.size == (64, 64)
        pixels = np.asarray(image)
    expected = np.rint(draw_phantom(phantom_seed(3, 2), 64) * 255)
    assert np.array_equal(pixels, expected.astype(np.uint8))
    labels = json.loads(labels_path.read_text())
    assert sorted(labels) == [p.name for p in paths]
    for name, entry in labels.items():
        assert (entry["lesion"] is not None) == has_lesion(entry["seed"])
    assert not any(p.suffix == ".json" for p in (tmp_path / "real").iterdir())


# --- the labelled variant -----------------------------------------------------------------


def test_labelled_phantoms_are_deterministic_from_the_seed():
    images, labels = labelled_phantoms(9, seed=4, size=48)
    again, same = labelled_phantoms(9, seed=4, size=48)
    assert np.array_equal(images, again) and labels == same
    other, _ = labelled_phantoms(9, seed=5, size=48)
    assert not np.array_equal(images, other)
    assert images.shape == (9, 48, 48) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0


def test_every_label_occurs():
    _, labels = labelled_phantoms(30, seed=0, size=32)
    assert set(labels) == set(LESION_LABELS) and all(labels.count(label) >= 5 for label in LESION_LABELS)


def test_the_label_is_where_the_lesion_is():
    size = 64
    images, labels = labelled_phantoms(24, seed=1, size=size)
    rows = np.arange(size)[:, None]
    for i, (image, label) in enumerate(zip(images, labels)):
        lesion_free = draw_phantom(phantom_seed(1, i), size, lesion=False)
        change = np.clip(image - lesion_free, 0, None)
        if label == "none":
            assert np.array_equal(image, lesion_free)
            continue
        centre = (change * rows).sum() / change.sum()  # the lesion's row, from the top
        assert change.max() > 0.1
        assert (centre < 0.4 * size) if label == "upper" else (0.45 * size < centre < 0.7 * size)


def test_the_label_is_visible_in_the_mean_intensity_of_its_region():
    size = 64
    images, labels = labelled_phantoms(45, seed=0, size=size)
    lateral = np.r_[16:22, 42:48]  # both lungs, away from the spine and the heart

    def mean_in(rows, label):
        return np.mean([image[rows][:, lateral].mean() for image, mine in zip(images, labels) if mine == label])

    upper, lower = slice(17, 23), slice(32, 36)  # y from -0.45 to -0.3 and from 0 to 0.12
    assert mean_in(upper, "upper") > mean_in(upper, "none") + 0.02
    assert mean_in(lower, "lower") > mean_in(lower, "none") + 0.04
    assert mean_in(lower, "lower") > mean_in(lower, "upper") + 0.04


def test_write_labelled_phantoms_feeds_both_label_options_of_pool_build(tmp_path):
    from generation import build_pool, load_manifest

    real = write_labelled_phantoms(tmp_path / "real", 9, seed=2, size=32, labels_csv=tmp_path / "real.csv")
    synthetic = write_labelled_phantoms(tmp_path / "synthetic", 9, seed=3, size=32)
    assert all(name.split("/")[0] == label for name, label in real.items())
    assert (tmp_path / "real.csv").read_text().splitlines()[0] == "file,label"
    with Image.open(tmp_path / "real" / next(iter(real))) as image:
        assert image.mode == "L" and image.size == (32, 32)
    build_pool(tmp_path / "real", tmp_path / "synthetic", tmp_path / "pool", resolutions=(16,), workers=1,
               labels_from_folders=True)
    manifest = load_manifest(tmp_path / "pool")
    found = {(image["class"], image["source"]): image["label"] for image in manifest["images"]}
    expected = {("real", name): label for name, label in real.items()}
    expected.update({("synthetic", name): label for name, label in synthetic.items()})
    assert found == expected
