"""Training input: a folder of images (any format the pools read), labels from a CSV or sub-folders;
unusable input refused as a whole with a message that says what to do."""

import numpy as np
import pytest
import torch

from generation.gan.data import BatchOrder, TrainingDataError, load_training_set


def write_set(write_png, gradient, folder, count=4, size=32, prefix="img"):
    for i in range(count):
        write_png(folder / f"{prefix}{i}.png", gradient(size, size, seed=i))


def test_a_folder_of_pngs_loads_as_8_bit_squares_at_its_own_size(tmp_path, write_png, gradient):
    write_set(write_png, gradient, tmp_path / "a", count=3)
    data = load_training_set(tmp_path / "a")
    assert data.images.shape == (3, 32, 32) and data.images.dtype == np.uint8
    assert data.labels is None and data.files == ["img0.png", "img1.png", "img2.png"]
    assert np.array_equal(data.images[1], gradient(32, 32, seed=1))  # at its own size: untouched


def test_larger_and_oblong_images_are_cut_square_and_resampled_like_a_pool(tmp_path, write_png, gradient):
    from generation.render import quantise, resample, to_square

    for i in range(2):
        write_png(tmp_path / f"wide{i}.png", gradient(40, 56, seed=i))
    data = load_training_set(tmp_path, 16)
    square = to_square(gradient(40, 56, seed=1).astype(np.float32) / 255, "center")
    assert np.array_equal(data.images[1], quantise(resample(square, 16)))


def test_dicom_files_are_read_through_their_window(tmp_path, write_dicom):
    pixels = np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 4
    for i in range(2):
        write_dicom(tmp_path / f"slice{i}.dcm", pixels, WindowCenter=512, WindowWidth=1024)
    data = load_training_set(tmp_path)
    assert data.images.shape == (2, 16, 16)
    assert data.images[0, 0, 0] < 5 and data.images[0, -1, -1] > 250


def test_labels_come_from_a_csv_file(tmp_path, write_png, gradient):
    write_set(write_png, gradient, tmp_path / "imgs", count=4)
    (tmp_path / "labels.csv").write_text("file,label\nimg0.png,normal\nimg1.png,fracture\n"
                                         "./img2.png,normal\nimg3.png,fracture\n")
    data = load_training_set(tmp_path / "imgs", labels_csv=tmp_path / "labels.csv")
    assert data.label_names == ["fracture", "normal"]
    assert data.labels.tolist() == [1, 0, 1, 0]


def test_labels_come_from_sub_folder_names(tmp_path, write_png, gradient):
    write_set(write_png, gradient, tmp_path / "imgs" / "present", count=2, prefix="p")
    write_set(write_png, gradient, tmp_path / "imgs" / "absent", count=3, prefix="a")
    data = load_training_set(tmp_path / "imgs", labels_from_folders=True)
    assert data.label_names == ["absent", "present"]
    assert data.labels.tolist() == [0, 0, 0, 1, 1]
    assert data.files[0] == "absent/a0.png"


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(TrainingDataError, match=r"no images \(PNG, JPEG, TIFF or DICOM\) in .*empty"):
        load_training_set(tmp_path / "empty")
    with pytest.raises(TrainingDataError, match="does not exist"):
        load_training_set(tmp_path / "absent")


def test_a_labels_csv_that_does_not_match_the_files_is_refused(tmp_path, write_png, gradient):
    write_set(write_png, gradient, tmp_path / "imgs", count=3)
    csv = tmp_path / "labels.csv"
    csv.write_text("file,label\nimg0.png,a\nimg1.png,b\nimg2.png,a\nimg9.png,b\n")
    with pytest.raises(TrainingDataError, match=r"names 1 files that are not images in .*: img9.png"):
        load_training_set(tmp_path / "imgs", labels_csv=csv)
    csv.write_text("file,label\nimg0.png,a\nimg1.png,b\n")
    with pytest.raises(TrainingDataError, match=r"1 images in .* have no label in .*: img2.png"):
        load_training_set(tmp_path / "imgs", labels_csv=csv)
    csv.write_text("name,class\nimg0.png,a\n")
    with pytest.raises(TrainingDataError, match="header row naming the columns file and label"):
        load_training_set(tmp_path / "imgs", labels_csv=csv)
    csv.write_text("file,label\nimg0.png,a\nimg1.png,a\nimg2.png,a\n")
    with pytest.raises(TrainingDataError, match="every image has the label 'a'"):
        load_training_set(tmp_path / "imgs", labels_csv=csv)


def test_images_outside_any_label_folder_are_refused(tmp_path, write_png, gradient):
    write_set(write_png, gradient, tmp_path / "imgs" / "a", count=2)
    write_png(tmp_path / "imgs" / "loose.png", gradient(32, 32))
    with pytest.raises(TrainingDataError, match="1 images lie directly in .*: loose.png"):
        load_training_set(tmp_path / "imgs", labels_from_folders=True)


def test_mixed_image_sizes_are_refused(tmp_path, write_png, gradient):
    write_set(write_png, gradient, tmp_path, count=3, size=32)
    write_png(tmp_path / "big.png", gradient(64, 64))
    with pytest.raises(TrainingDataError, match=r"2 different sizes .*32 px: 3 files .*64 px: 1 files such as big.png"):
        load_training_set(tmp_path)


def test_a_resolution_that_is_not_a_power_of_two_is_refused(tmp_path, write_png, gradient):
    write_set(write_png, gradient, tmp_path, count=2, size=48)
    with pytest.raises(TrainingDataError, match="are 48 px, not a power of two: .*--resolution 32"):
        load_training_set(tmp_path)
    with pytest.raises(TrainingDataError, match="power of two such as 128, 256 or 512, got 40"):
        load_training_set(tmp_path, 40)
    with pytest.raises(TrainingDataError, match="are 48 px but the training resolution is 64 px"):
        load_training_set(tmp_path, 64)
    assert load_training_set(tmp_path, 32).images.shape == (2, 32, 32)


def test_unreadable_files_are_refused_by_name(tmp_path, write_png, gradient):
    write_set(write_png, gradient, tmp_path, count=2)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(TrainingDataError, match=r"1 files in .* cannot be used: broken.png \("):
        load_training_set(tmp_path)


def test_the_batch_order_visits_every_image_once_per_epoch_and_resumes():
    order = BatchOrder(10, seed=3)
    first = torch.cat([order.next(4) for _ in range(5)])  # 20 images: two epochs
    assert sorted(first[:10].tolist()) == list(range(10)) and sorted(first[10:].tolist()) == list(range(10))
    state = order.state_dict()
    ahead = [order.next(3) for _ in range(4)]
    again = BatchOrder(10, seed=99)
    again.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(ahead, [again.next(3) for _ in range(4)], strict=True))
