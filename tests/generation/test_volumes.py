"""generation.volumes: NIfTI files and DICOM series become 2-D slices by a stated rule."""

import gzip

import nibabel as nib
import numpy as np
import pytest
from pydicom.uid import generate_uid

from generation.decode import DecodeError, decode_file, make_options
from generation.volumes import (
    RULE_HELP,
    decode_nifti,
    decode_series,
    find_mask,
    nifti_kind,
    parse_slice_rule,
    read_slice_header,
)

OPTIONS = make_options()


def write_nifti(path, data, affine=None, **header):
    image = nib.Nifti1Image(np.asarray(data), np.eye(4) if affine is None else affine)
    for key, value in header.items():
        image.header[key] = value
    nib.save(image, str(path))
    return path


def ramp_volume(shape=(6, 5, 4), seed=0):
    """Distinct slices: slice k of the last axis holds values 100 k + noise."""
    rng = np.random.default_rng(seed)
    return (np.arange(shape[2])[None, None, :] * 100 + rng.integers(0, 50, shape)).astype(np.int16)


def write_series(folder, write_dicom, n=5, size=(6, 7), spacing=2.5, order=None, **overrides):
    """A CT series of n slices along +z; file i holds slice order[i] (the file names do not sort it)."""
    folder.mkdir(parents=True, exist_ok=True)
    uid = generate_uid()
    order = list(range(n)) if order is None else order
    paths = []
    for number, k in enumerate(order):
        pixels = (np.full(size, 10 * k) + np.arange(size[1])).astype(np.uint16)
        attributes = dict(Modality="CT", SeriesInstanceUID=uid, InstanceNumber=k + 1,
                          ImagePositionPatient=[-10.0, -20.0, 30.0 + spacing * k],
                          ImageOrientationPatient=[1, 0, 0, 0, 1, 0], PixelSpacing=[0.5, 0.7])
        attributes.update({key: value(k) if callable(value) else value for key, value in overrides.items()})
        attributes = {key: value for key, value in attributes.items() if value is not None}
        paths.append(write_dicom(folder / f"im{number:03d}.dcm", pixels, **attributes))
    return paths


# --- the rule ------------------------------------------------------------------------------


def test_slice_rules_parse_and_select():
    assert parse_slice_rule("middle").select(9) == [4]
    assert parse_slice_rule("every:3").select(10) == [0, 3, 6, 9]
    assert parse_slice_rule("list:7,3,12").select(13) == [3, 7, 12]
    assert parse_slice_rule(" mask:_seg ").mask_suffix == "_seg"
    labelled = np.array([False, True, True, False])
    assert parse_slice_rule("mask:_seg").select(4, labelled) == [1, 2]


@pytest.mark.parametrize("text, message", [
    ("top", "is not a slice rule"), ("every:0", "at least 1"), ("every:x", "at least 1"),
    ("list:", "slice numbers"), ("list:3,-1", "slice numbers"), ("list:2,2", "twice"),
    ("mask:", "suffix"), ("mask:/no/such/folder", "does not exist"), ("mask:_seg.nii.gz", "without .nii"),
    ("middle:3", "is not a slice rule"),
])
def test_bad_slice_rules_are_refused_with_the_choices(text, message):
    with pytest.raises(ValueError, match=message):
        parse_slice_rule(text)


def test_the_unknown_rule_message_lists_every_rule():
    with pytest.raises(ValueError) as refused:
        parse_slice_rule("random")
    assert RULE_HELP in str(refused.value)


def test_a_list_beyond_the_volume_is_a_decode_error():
    with pytest.raises(DecodeError, match="asks for slice 12, but the volume has 10 slices"):
        parse_slice_rule("list:3,12").select(10)


# --- NIfTI --------------------------------------------------------------------------------------


def test_nifti_is_recognised_by_its_header_gzipped_or_not(tmp_path):
    data = ramp_volume()
    assert nifti_kind(write_nifti(tmp_path / "v.nii.gz", data)) == "nifti1"
    assert nifti_kind(write_nifti(tmp_path / "v.nii", data)) == "nifti1"
    nib.save(nib.Nifti2Image(data, np.eye(4)), str(tmp_path / "v2.nii"))
    assert nifti_kind(tmp_path / "v2.nii") == "nifti2"
    (tmp_path / "x.nii.gz").write_bytes(gzip.compress(b"not a header" * 50))
    assert nifti_kind(tmp_path / "x.nii.gz") is None


def test_nifti_middle_slice_in_the_volume_window(tmp_path):
    data = ramp_volume()
    frames, count = decode_nifti(write_nifti(tmp_path / "v.nii.gz", data), OPTIONS, parse_slice_rule("middle"))
    assert count == 4 and [frame.index for frame in frames] == [2]
    low, high = data.min(), data.max()
    expected = (data[:, :, 2].astype(np.float64) - low) / (high - low)
    np.testing.assert_allclose(frames[0].pixels, expected.T[::-1, ::-1], atol=1e-6)
    assert frames[0].pixels.dtype == np.float32 and frames[0].pixels.shape == (5, 6)


def test_nifti_slices_are_shown_radiologically_whatever_the_stored_orientation(tmp_path):
    data = np.zeros((6, 5, 3), dtype=np.int16)
    data[5, 4, 1] = 100  # the patient's far right and anterior (RAS)
    ras, _ = decode_nifti(write_nifti(tmp_path / "ras.nii", data), OPTIONS, parse_slice_rule("middle"))
    assert np.unravel_index(np.argmax(ras[0].pixels), ras[0].pixels.shape) == (0, 0)  # top left
    # the same anatomy stored left-to-right and posterior-to-anterior reversed, with its affine saying so
    flipped = data[::-1, ::-1, :]
    affine = np.diag([-1.0, -1.0, 1.0, 1.0])
    affine[:3, 3] = [5, 4, 0]
    las, _ = decode_nifti(write_nifti(tmp_path / "lps.nii", flipped, affine), OPTIONS, parse_slice_rule("middle"))
    np.testing.assert_array_equal(ras[0].pixels, las[0].pixels)
    # slices stored superior first count from the inferior end all the same
    down = np.diag([1.0, 1.0, -1.0, 1.0])
    inferior_last, _ = decode_nifti(write_nifti(tmp_path / "down.nii", data[:, :, ::-1], down), OPTIONS,
                                    parse_slice_rule("list:1"))
    np.testing.assert_array_equal(inferior_last[0].pixels, ras[0].pixels)


def test_nifti_auto_window_uses_cal_range_else_the_volume_range_and_scaling(tmp_path):
    data = ramp_volume()
    given = write_nifti(tmp_path / "cal.nii", data, cal_min=100, cal_max=200)
    (frame,), _ = decode_nifti(given, OPTIONS, parse_slice_rule("list:1"))
    np.testing.assert_allclose(frame.pixels, np.clip((data[:, :, 1].T[::-1, ::-1] - 100) / 100, 0, 1), atol=1e-6)
    # a dark first slice is not stretched to full range on its own
    (first,), _ = decode_nifti(write_nifti(tmp_path / "v.nii", data), OPTIONS, parse_slice_rule("list:0"))
    assert first.pixels.max() < 0.2


def test_nifti_window_applies_to_scaled_values_like_dicom(tmp_path, write_dicom):
    stored = np.array([[0, 400, 700], [900, 1000, 1100]], dtype=np.int16)
    image = nib.Nifti1Image(stored.T[::-1, ::-1, None].copy(), np.eye(4))
    image.header.set_slope_inter(2, -2048)
    nib.save(image, str(tmp_path / "hu.nii"))
    (frame,), _ = decode_nifti(tmp_path / "hu.nii", make_options(window="lung"), parse_slice_rule("middle"))
    ct = write_dicom(tmp_path / "ct.dcm", stored, RescaleSlope=2, RescaleIntercept=-2048)
    np.testing.assert_allclose(frame.pixels, decode_file(ct, make_options(window="lung"))[0].pixels, atol=1e-6)


def test_every_and_list_rules_on_nifti(tmp_path):
    path = write_nifti(tmp_path / "v.nii", ramp_volume((4, 4, 7)))
    assert [f.index for f in decode_nifti(path, OPTIONS, parse_slice_rule("every:3"))[0]] == [0, 3, 6]
    assert [f.index for f in decode_nifti(path, OPTIONS, parse_slice_rule("list:1,5"))[0]] == [1, 5]
    with pytest.raises(DecodeError, match="has 7 slices"):
        decode_nifti(path, OPTIONS, parse_slice_rule("list:7"))


def test_mask_rule_takes_the_labelled_slices(tmp_path):
    volume = write_nifti(tmp_path / "ct.nii.gz", ramp_volume((6, 5, 8)))
    mask = np.zeros((6, 5, 8), dtype=np.uint8)
    mask[2:4, 1:3, [2, 3, 6]] = 1
    write_nifti(tmp_path / "ct_seg.nii.gz", mask)
    rule = parse_slice_rule("mask:_seg")
    assert find_mask(tmp_path, "ct.nii.gz", rule) == tmp_path / "ct_seg.nii.gz"
    frames, _ = decode_nifti(volume, OPTIONS, rule, find_mask(tmp_path, "ct.nii.gz", rule))
    assert [frame.index for frame in frames] == [2, 3, 6]


def test_a_mask_stored_in_another_axis_order_selects_the_same_slices(tmp_path):
    volume = write_nifti(tmp_path / "ct.nii", ramp_volume((6, 5, 8)))
    mask = np.zeros((6, 5, 8), dtype=np.uint8)
    mask[1, 1, [1, 5]] = 3
    swapped = np.transpose(mask, (2, 0, 1))  # stored slice axis first
    affine = np.zeros((4, 4))
    affine[0, 1] = affine[1, 2] = affine[2, 0] = affine[3, 3] = 1.0
    write_nifti(tmp_path / "ct_mask.nii", swapped, affine)
    frames, _ = decode_nifti(volume, OPTIONS, parse_slice_rule("mask:_mask"), tmp_path / "ct_mask.nii")
    assert [frame.index for frame in frames] == [1, 5]


def test_a_mask_folder_mirrors_the_input_paths(tmp_path):
    (tmp_path / "in" / "p1").mkdir(parents=True)
    write_nifti(tmp_path / "in" / "p1" / "ct.nii.gz", ramp_volume())
    (tmp_path / "masks" / "synthetic" / "p1").mkdir(parents=True)
    write_nifti(tmp_path / "masks" / "synthetic" / "p1" / "ct.nii.gz", np.ones((6, 5, 4), dtype=np.uint8))
    rule = parse_slice_rule(f"mask:{tmp_path / 'masks'}")
    found = find_mask(tmp_path / "in", "p1/ct.nii.gz", rule, "synthetic")
    assert found == tmp_path / "masks" / "synthetic" / "p1" / "ct.nii.gz"
    with pytest.raises(DecodeError, match="looked for .*masks/real/p1/ct.nii.gz"):
        find_mask(tmp_path / "in", "p1/ct.nii.gz", rule, "real")


@pytest.mark.parametrize("mask, reason", [
    (np.ones((6, 5, 3), dtype=np.uint8), "is 6x5x3 voxels, the volume 6x5x4"),
    (np.zeros((6, 5, 4), dtype=np.uint8), "no labelled"),
    (np.full((6, 5, 4), np.nan, dtype=np.float32), "NaN"),
])
def test_unusable_masks_are_decode_errors(tmp_path, mask, reason):
    volume = write_nifti(tmp_path / "ct.nii", ramp_volume())
    write_nifti(tmp_path / "ct_seg.nii", mask)
    with pytest.raises(DecodeError, match=reason):
        decode_nifti(volume, OPTIONS, parse_slice_rule("mask:_seg"), tmp_path / "ct_seg.nii")


def test_a_missing_mask_names_where_it_was_looked_for(tmp_path):
    write_nifti(tmp_path / "ct.nii.gz", ramp_volume())
    with pytest.raises(DecodeError, match="no mask .* looked for .*ct_seg.nii.gz"):
        find_mask(tmp_path, "ct.nii.gz", parse_slice_rule("mask:_seg"))


def test_corrupt_nifti_files_are_decode_errors(tmp_path):
    whole = write_nifti(tmp_path / "v.nii.gz", np.random.default_rng(0).integers(0, 999, (32, 32, 20), np.int16))
    data = whole.read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match="truncated file"):
        decode_nifti(tmp_path / "cut.nii.gz", OPTIONS, parse_slice_rule("middle"))
    plain = write_nifti(tmp_path / "v.nii", ramp_volume())
    (tmp_path / "cut.nii").write_bytes(plain.read_bytes()[:400])
    with pytest.raises(DecodeError, match="truncated file"):
        decode_nifti(tmp_path / "cut.nii", OPTIONS, parse_slice_rule("middle"))
    (tmp_path / "junk.nii").write_bytes(b"\0" * 1000)
    with pytest.raises(DecodeError, match=r"damaged NIfTI file \(no NIfTI header\)"):
        decode_nifti(tmp_path / "junk.nii", OPTIONS, parse_slice_rule("middle"))


def test_nifti_time_series_nan_and_colour_are_refused(tmp_path):
    with pytest.raises(DecodeError, match="4-D NIfTI .* one 3-D volume per file"):
        decode_nifti(write_nifti(tmp_path / "t.nii", np.zeros((4, 4, 3, 2), np.int16)), OPTIONS,
                     parse_slice_rule("middle"))
    nan = np.ones((4, 4, 3), np.float32)
    nan[0, 0, 0] = np.nan
    with pytest.raises(DecodeError, match="NaN"):
        decode_nifti(write_nifti(tmp_path / "n.nii", nan), OPTIONS, parse_slice_rule("middle"))
    rgb = np.zeros((4, 4, 3), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    with pytest.raises(DecodeError, match="colour or complex"):
        decode_nifti(write_nifti(tmp_path / "c.nii", rgb), OPTIONS, parse_slice_rule("middle"))


# --- DICOM series ---------------------------------------------------------------------------------


def test_series_slices_follow_position_not_file_names_and_render_as_the_file_alone(tmp_path, write_dicom):
    paths = write_series(tmp_path / "s", write_dicom, n=5, order=[3, 0, 4, 1, 2])
    frames, count = decode_series(paths, OPTIONS, parse_slice_rule("every:2"))
    assert count == 5 and [frame.index for frame in frames] == [0, 2, 4]
    by_slice = {k: paths[[3, 0, 4, 1, 2].index(k)] for k in range(5)}
    for frame in frames:
        np.testing.assert_array_equal(frame.pixels, decode_file(by_slice[frame.index], OPTIONS)[0].pixels)


def test_series_order_follows_the_slice_normal_not_z(tmp_path, write_dicom):
    # a sagittal series: rows along y, columns along -z, so the normal is -x... positions step along x
    paths = write_series(tmp_path / "sag", write_dicom, n=3, order=[2, 0, 1],
                         ImageOrientationPatient=[0, 1, 0, 0, 0, -1],
                         ImagePositionPatient=lambda k: [5.0 - 3 * k, 0.0, 0.0])
    frames, _ = decode_series(paths, OPTIONS, parse_slice_rule("list:0,1,2"))
    # normal = (0,1,0) x (0,0,-1) = (-1,0,0): slice 0 is the largest x, the file holding k = 0
    first = paths[[2, 0, 1].index(0)]
    np.testing.assert_array_equal(frames[0].pixels, decode_file(first, OPTIONS)[0].pixels)


def test_series_without_positions_fall_back_to_instance_number(tmp_path, write_dicom):
    paths = write_series(tmp_path / "s", write_dicom, n=4, order=[2, 3, 0, 1],
                         ImagePositionPatient=None, ImageOrientationPatient=None)
    frames, _ = decode_series(paths, OPTIONS, parse_slice_rule("list:0"))
    np.testing.assert_array_equal(frames[0].pixels, decode_file(paths[2], OPTIONS)[0].pixels)


def test_series_with_mixed_sizes_is_refused(tmp_path, write_dicom):
    paths = write_series(tmp_path / "s", write_dicom, n=4)
    write_dicom(paths[1], np.zeros((8, 8), np.uint16), Modality="CT",
                SeriesInstanceUID=read_slice_header(paths[0]).series_uid)
    with pytest.raises(DecodeError, match=r"different sizes: 3 of 6x7 .*1 of 8x8 \(such as im001.dcm\)"):
        decode_series(paths, OPTIONS, parse_slice_rule("middle"))


def test_series_with_a_missing_slice_is_refused(tmp_path, write_dicom):
    paths = write_series(tmp_path / "s", write_dicom, n=6)
    with pytest.raises(DecodeError, match="missing slices: 5 mm between im001.dcm and im003.dcm"):
        decode_series(paths[:2] + paths[3:], OPTIONS, parse_slice_rule("middle"))
    numbered = write_series(tmp_path / "n", write_dicom, n=5, ImagePositionPatient=None)
    with pytest.raises(DecodeError, match="InstanceNumber jumps from 2 to 4"):
        decode_series(numbered[:2] + numbered[3:], OPTIONS, parse_slice_rule("middle"))


@pytest.mark.parametrize("overrides, reason", [
    ({"ImagePositionPatient": [0.0, 0.0, 0.0]}, "at one position"),
    ({"ImageOrientationPatient": lambda k: [1, 0, 0, 0, 1, 0] if k else [1, 0, 0, 0, 0, 1]}, "not parallel"),
    ({"ImagePositionPatient": None, "InstanceNumber": None}, "slice order unknown"),
    ({"ImagePositionPatient": None, "InstanceNumber": 1}, "two slices .* InstanceNumber 1"),
])
def test_series_that_are_not_one_stack_are_refused(tmp_path, write_dicom, overrides, reason):
    paths = write_series(tmp_path / "s", write_dicom, n=3, **overrides)
    with pytest.raises(DecodeError, match=reason):
        decode_series(paths, OPTIONS, parse_slice_rule("middle"))


def test_a_series_mask_is_matched_through_the_positions(tmp_path, write_dicom):
    paths = write_series(tmp_path / "s", write_dicom, n=5, order=[4, 3, 2, 1, 0])
    # the mask as a NIfTI of the series in RAS: columns along -x(R), rows along -y(A), slices along +z
    mask = np.zeros((7, 6, 5), dtype=np.uint8)  # (columns, rows, slices) of the series
    mask[3, 3, 1] = mask[0, 0, 3] = 1
    affine = np.diag([-0.7, -0.5, 2.5, 1.0])
    affine[:3, 3] = [10.0, 20.0, 30.0]
    write_nifti(tmp_path / "s_seg.nii.gz", mask, affine)
    rule = parse_slice_rule("mask:_seg")
    frames, _ = decode_series(paths, OPTIONS, rule, find_mask(tmp_path, "s", rule))
    assert [frame.index for frame in frames] == [1, 3]
    write_nifti(tmp_path / "bad_seg.nii.gz", mask[:, :, :4], affine)
    with pytest.raises(DecodeError, match="is 7x6x4 voxels, the volume 7x6x5"):
        decode_series(paths, OPTIONS, rule, tmp_path / "bad_seg.nii.gz")


def test_radiographs_of_one_series_are_not_slices(tmp_path, write_dicom):
    uid = generate_uid()
    path = write_dicom(tmp_path / "pa.dcm", np.zeros((4, 4), np.uint16), Modality="DX", SeriesInstanceUID=uid)
    assert not read_slice_header(path).is_slice
    ct = write_dicom(tmp_path / "ct.dcm", np.zeros((4, 4), np.uint16), Modality="CT", SeriesInstanceUID=uid)
    assert read_slice_header(ct).is_slice
