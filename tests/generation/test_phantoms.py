import json

import numpy as np
import pytest
from PIL import Image

from generation.phantoms import draw_phantom, has_lesion, lesion_for, phantom_seed, write_phantoms


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
