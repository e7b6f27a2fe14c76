import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from generation.decode import (
    COLOR_REFUSED,
    TOO_LARGE,
    DecodeError,
    decode_file,
    make_options,
    parse_window,
)

COMPRESSED_MR = ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"]


def only_frame(path, **options):
    frames = decode_file(path, make_options(**options))
    assert len(frames) == 1
    return frames[0].pixels


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "693_J2KI.dcm", "liver_1frame.dcm", *COMPRESSED_MR]
)
def test_it_decodes_corpus_dicom_to_unit_floats(name, corpus_file):
    path = corpus_file(name)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    pixels = only_frame(path)
    assert pixels.dtype == np.float32
    assert pixels.shape == (ds.Rows, ds.Columns)
    assert 0.0 <= pixels.min() < pixels.max() <= 1.0


@pytest.mark.parametrize("name", COMPRESSED_MR)
def test_lossless_transfer_syntaxes_give_the_uncompressed_pixels(name, corpus_file):
    np.testing.assert_array_equal(only_frame(corpus_file(name)), only_frame(corpus_file("MR_small.dcm")))


def test_it_rejects_a_transfer_syntax_without_decoder_with_its_name(corpus_file):
    with pytest.raises(DecodeError, match=r"could not be decoded \(JPEG Extended"):
        decode_file(corpus_file("JPGExtended.dcm"))


def jpeg_lossless_copy(source, target, syntax):
    """`source` re-encoded by GDCM as JPEG Lossless (Process 14, selection value 1 or the general
    form): pydicom ships no such file that is available offline."""
    import gdcm

    reader = gdcm.ImageReader()
    reader.SetFileName(str(source))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(syntax))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(target))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()
    return target


@pytest.mark.parametrize("name", ["MR_small.dcm", "CT_small.dcm"])
@pytest.mark.parametrize("syntax, uid", [("JPEGLosslessProcess14_1", "1.2.840.10008.1.2.4.70"),
                                         ("JPEGLosslessProcess14", "1.2.840.10008.1.2.4.57")])
def test_jpeg_lossless_gives_the_uncompressed_pixels(tmp_path, corpus_file, name, syntax, uid):
    import gdcm

    reference = corpus_file(name)
    path = jpeg_lossless_copy(reference, tmp_path / "ll.dcm", getattr(gdcm.TransferSyntax, syntax))
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == uid
    frame = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
    assert b"\xff\xc3" in frame  # SOF3: a lossless JPEG stream, not the bytes stored as they are
    np.testing.assert_array_equal(ds.pixel_array, pydicom.dcmread(reference).pixel_array)
    np.testing.assert_array_equal(only_frame(path), only_frame(reference))
    np.testing.assert_array_equal(only_frame(path, window="lung"), only_frame(reference, window="lung"))


def test_gdcm_is_the_last_resort_so_other_syntaxes_keep_their_decoder():
    from pydicom.uid import JPEG2000, JPEGBaseline8Bit, JPEGLosslessSV1, JPEGLSLossless

    from generation.decode import _decoder_plugins

    def plugins(syntax):
        ds = Dataset()
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = syntax
        return _decoder_plugins(ds)

    assert plugins(JPEGLosslessSV1)[-1] == "gdcm"
    for syntax in (JPEGBaseline8Bit, JPEGLSLossless, JPEG2000):
        assert plugins(syntax)[-1] == "gdcm" and len(plugins(syntax)) >= 2
    assert plugins(pydicom.uid.ExplicitVRLittleEndian) == [""]


def test_12_bit_jpeg_extended_names_the_optional_gpl_decoder(corpus_file):
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEGExtended12Bit

    if "pylibjpeg" in get_decoder(JPEGExtended12Bit).available_plugins:
        pytest.skip("pylibjpeg-libjpeg is installed here, so the file decodes")
    with pytest.raises(DecodeError) as refused:
        decode_file(corpus_file("JPGExtended.dcm"))
    reason = str(refused.value)
    assert "pylibjpeg-libjpeg" in reason and "GPL-3" in reason and "pip install pylibjpeg-libjpeg" in reason


def test_preset_window_applies_after_rescale(tmp_path, write_dicom):
    # stored s -> HU = 2 s - 2048; lung window: level -600, width 1500
    stored = np.array([[0, 400, 700], [900, 1000, 1100]], dtype=np.int16)
    path = write_dicom(tmp_path / "ct.dcm", stored, RescaleSlope=2, RescaleIntercept=-2048)
    pixels = only_frame(path, window="lung")
    hu = stored * 2.0 - 2048.0
    expected = np.clip((hu + 600.0 + 0.5) / 1499.0 + 0.5, 0, 1)  # DICOM LINEAR window
    np.testing.assert_allclose(pixels, expected, atol=1e-4)
    assert pixels[0, 0] == 0.0 and pixels[1, 2] == 1.0


def test_custom_width_level_window(tmp_path, write_dicom):
    hu = np.array([[-500, -160, 40], [240, 500, 41]], dtype=np.int16)
    pixels = only_frame(write_dicom(tmp_path / "ct.dcm", hu), window="400,40")
    assert pixels[0, 0] == 0.0 and pixels[0, 1] == 0.0
    assert pixels[1, 0] == 1.0 and pixels[1, 1] == 1.0
    assert abs(pixels[0, 2] - 0.5) < 0.01


def test_auto_uses_the_window_stored_in_the_file(tmp_path, write_dicom):
    values = np.array([[0, 100, 200, 300]], dtype=np.uint16)
    path = write_dicom(tmp_path / "w.dcm", values, WindowCenter=150, WindowWidth=101)
    pixels = only_frame(path)
    assert pixels[0, 0] == 0.0 and pixels[0, 3] == 1.0
    # DICOM LINEAR: ((x - (c - 0.5)) / (w - 1) + 0.5), so 100 -> 0.005 and 200 -> 1
    assert abs(pixels[0, 1] - 0.005) < 1e-6 and pixels[0, 2] == 1.0


def test_auto_without_window_stretches_min_to_max(tmp_path, write_dicom):
    values = np.array([[-2000, -1000], [0, 3000]], dtype=np.int16)  # 16-bit signed
    pixels = only_frame(write_dicom(tmp_path / "s.dcm", values))
    np.testing.assert_allclose(pixels, [[0.0, 0.2], [0.4, 1.0]], atol=1e-6)


def test_auto_prefers_the_voi_lut_sequence(tmp_path, write_dicom):
    lut = Dataset()
    lut.add_new("LUTDescriptor", "US", [4, 0, 8])
    lut.add_new("LUTData", "US", [200, 50, 255, 0])
    values = np.array([[0, 1, 2, 3]], dtype=np.uint16)
    path = write_dicom(tmp_path / "lut.dcm", values, VOILUTSequence=Sequence([lut]),
                       WindowCenter=1, WindowWidth=1)
    np.testing.assert_allclose(only_frame(path), [[200 / 255, 50 / 255, 1.0, 0.0]], atol=1e-6)


def test_monochrome1_is_inverted(tmp_path, gradient, write_dicom):
    values = gradient(8, 8).astype(np.uint16)
    normal = only_frame(write_dicom(tmp_path / "m2.dcm", values))
    inverted = only_frame(write_dicom(tmp_path / "m1.dcm", values, photometric="MONOCHROME1"))
    np.testing.assert_allclose(normal + inverted, 1.0, atol=1e-6)


def test_multi_frame_selection(tmp_path, write_dicom):
    stack = np.stack([np.full((4, 4), 10 * k, dtype=np.uint16) + np.eye(4, dtype=np.uint16) for k in range(5)])
    path = write_dicom(tmp_path / "stack.dcm", stack)
    assert [f.index for f in decode_file(path, make_options(frames="first"))] == [0]
    assert [f.index for f in decode_file(path, make_options(frames="middle"))] == [2]
    every = decode_file(path, make_options(frames="all"))
    assert [f.index for f in every] == [0, 1, 2, 3, 4]
    assert len({f.pixel_hash() for f in every}) == 1  # each frame is an identity on a constant


def test_corpus_multi_frame_dose_gives_every_frame(corpus_file):
    frames = decode_file(corpus_file("rtdose.dcm"), make_options(frames="all"))
    assert len(frames) == 15 and all(f.pixels.shape == (10, 10) for f in frames)


@pytest.mark.parametrize("name", ["SC_rgb_rle_2frame.dcm", "examples_palette.dcm", "examples_ybr_color.dcm"])
def test_colour_dicom_is_refused_or_converted(name, corpus_file):
    with pytest.raises(DecodeError, match=COLOR_REFUSED):
        decode_file(corpus_file(name))
    pixels = only_frame(corpus_file(name), color="convert")
    assert pixels.ndim == 2 and pixels.max() <= 1.0


def test_colour_png_is_refused_but_grey_saved_as_rgb_is_accepted(tmp_path, gradient, write_png):
    rgb = np.dstack([gradient(6, 6, 1), gradient(6, 6, 2), gradient(6, 6, 3)])
    with pytest.raises(DecodeError, match=COLOR_REFUSED):
        decode_file(write_png(tmp_path / "c.png", rgb))
    luma = only_frame(tmp_path / "c.png", color="convert")
    np.testing.assert_allclose(luma, (rgb @ [0.299, 0.587, 0.114]) / 255, atol=1e-6)
    grey = gradient(6, 6)
    as_rgb = only_frame(write_png(tmp_path / "g.png", np.dstack([grey] * 3)))
    np.testing.assert_allclose(as_rgb, grey / 255.0, atol=1e-7)


def test_raster_bit_depths(tmp_path, gradient, write_png):
    eight = gradient(5, 7)
    np.testing.assert_allclose(only_frame(write_png(tmp_path / "8.png", eight)), eight / 255.0, atol=1e-7)
    sixteen = (gradient(5, 7).astype(np.uint16) * 257)
    np.testing.assert_allclose(only_frame(write_png(tmp_path / "16.png", sixteen)), sixteen / 65535.0, atol=1e-7)
    Image.fromarray(sixteen).save(tmp_path / "16.tif")
    np.testing.assert_allclose(only_frame(tmp_path / "16.tif"), sixteen / 65535.0, atol=1e-7)
    Image.fromarray(eight).save(tmp_path / "x.jpg", quality=95)
    assert np.abs(only_frame(tmp_path / "x.jpg") - eight / 255.0).max() < 0.1


def test_type_is_detected_by_content_not_extension(tmp_path, gradient, write_dicom, write_png):
    picture = gradient(4, 4)
    write_png(tmp_path / "p.png", picture)
    (tmp_path / "looks_like.dcm").write_bytes((tmp_path / "p.png").read_bytes())
    np.testing.assert_allclose(only_frame(tmp_path / "looks_like.dcm"), picture / 255.0, atol=1e-7)
    (tmp_path / "fake.png").write_text("patient list, not a picture")
    with pytest.raises(DecodeError, match="not an image file"):
        decode_file(tmp_path / "fake.png")
    dicom = write_dicom(tmp_path / "d.dcm", picture)
    (tmp_path / "noext").write_bytes(dicom.read_bytes())
    np.testing.assert_array_equal(only_frame(tmp_path / "noext"), only_frame(dicom))


def test_truncated_files_are_named_as_such(tmp_path, corpus_file, gradient, write_png):
    with pytest.raises(DecodeError, match="^truncated file$"):
        decode_file(corpus_file("MR_truncated.dcm"))
    data = corpus_file("CT_small.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[:20000])
    with pytest.raises(DecodeError, match="^truncated file$"):
        decode_file(tmp_path / "cut.dcm")
    png = write_png(tmp_path / "whole.png", gradient(64, 64)).read_bytes()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    with pytest.raises(DecodeError, match="^truncated file$"):
        decode_file(tmp_path / "cut.png")


def test_dicom_without_pixels_is_rejected(corpus_file):
    with pytest.raises(DecodeError, match="^DICOM has no pixel data$"):
        decode_file(corpus_file("rtplan.dcm"))


@pytest.mark.parametrize("side", [12_000, 60_000])
def test_png_decompression_bomb_is_rejected_without_decoding(tmp_path, side, write_png_header_only):
    path = write_png_header_only(tmp_path / "bomb.png", side, side)
    assert path.stat().st_size < 200
    with pytest.raises(DecodeError, match=f"^{TOO_LARGE}$"):
        decode_file(path)


def test_parse_window_names_and_errors():
    assert (parse_window("lung").width, parse_window("lung").level) == (1500.0, -600.0)
    assert (parse_window("bone").width, parse_window("bone").level) == (1500.0, 300.0)
    assert (parse_window("brain").width, parse_window("brain").level) == (80.0, 40.0)
    assert (parse_window("soft").width, parse_window("soft").level) == (400.0, 40.0)
    assert (parse_window("1500,-600").width, parse_window("1500,-600").level) == (1500.0, -600.0)
    with pytest.raises(ValueError, match="WIDTH,LEVEL"):
        parse_window("liver")
    with pytest.raises(ValueError, match="at least 1"):
        parse_window("0,40")


def test_an_8_bit_voi_lut_with_more_than_256_entries_is_not_a_sawtooth(tmp_path, write_dicom):
    # pydicom 3.0.2 indexes an 8-bit LUT with uint8, wrapping at 256 entries
    stored = np.arange(4096, dtype=np.uint16).reshape(64, 64)
    lut = Dataset()
    lut.add_new("LUTDescriptor", "US", [4096, 0, 8])
    lut.add_new("LUTData", "US", [v // 16 for v in range(4096)])
    path = write_dicom(tmp_path / "lut8.dcm", stored, VOILUTSequence=Sequence([lut]))
    pixels = only_frame(path).ravel()
    assert np.all(np.diff(pixels) >= 0)
    np.testing.assert_allclose(pixels, (np.arange(4096) // 16) / 255.0, atol=1e-6)
    assert pydicom.dcmread(path).VOILUTSequence[0].LUTDescriptor == [4096, 0, 8]


def test_voi_lut_input_beyond_16_bits_maps_to_the_last_entry(tmp_path, write_dicom):
    # after rescale 32773 -> 65546, which pydicom's uint16 index would wrap to 10
    lut = Dataset()
    lut.add_new("LUTDescriptor", "US", [4096, 0, 16])
    lut.add_new("LUTData", "US", list(range(4096)))
    stored = np.array([[0, 1000, 32773]], dtype=np.uint16)
    path = write_dicom(tmp_path / "big.dcm", stored, VOILUTSequence=Sequence([lut]),
                       RescaleSlope=2, RescaleIntercept=0)
    np.testing.assert_allclose(only_frame(path), [[0.0, 2000 / 4095, 1.0]], atol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_tiff_with_nan_or_infinity_is_rejected(tmp_path, bad):
    values = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    values[1, 2] = bad
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    with pytest.raises(DecodeError, match="^image contains NaN or infinite values$"):
        decode_file(tmp_path / "f.tif")
    values[1, 2] = 0.5
    Image.fromarray(values, mode="F").save(tmp_path / "ok.tif")
    assert np.isfinite(only_frame(tmp_path / "ok.tif")).all()


def test_float_dicom_with_nan_is_rejected(tmp_path, write_dicom):
    path = write_dicom(tmp_path / "f.dcm", np.zeros((4, 4), dtype=np.uint16))
    ds = pydicom.dcmread(path)
    values = np.linspace(-1, 1, 16, dtype=np.float32).reshape(4, 4)
    del ds.PixelData
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    del ds.PixelRepresentation  # not used with Float Pixel Data
    ds.FloatPixelData = values.tobytes()
    ds.save_as(path)
    np.testing.assert_allclose(only_frame(path), (values + 1) / 2, atol=1e-6)
    values[0, 0] = np.nan
    ds.FloatPixelData = values.tobytes()
    ds.save_as(path)
    with pytest.raises(DecodeError, match="^image contains NaN or infinite values$"):
        decode_file(path)


@pytest.mark.parametrize(
    ("width", "function", "reason"),
    [
        (0, None, r"DICOM window width must be positive \(found 0\)"),
        (-40, None, r"DICOM window width must be positive \(found -40\)"),
        (0, "SIGMOID", r"DICOM window width must be positive \(found 0\)"),
        (0.5, None, r"DICOM window width must be at least 1 for a LINEAR window \(found 0.5\)"),
    ],
)
def test_an_invalid_stored_window_is_a_decode_error(tmp_path, write_dicom, width, function, reason):
    extra = {"VOILUTFunction": function} if function else {}
    path = write_dicom(tmp_path / "w.dcm", np.array([[0, 100, 200]], dtype=np.uint16),
                       WindowCenter=100, WindowWidth=width, **extra)
    with pytest.raises(DecodeError, match=f"^{reason}$"):
        decode_file(path)
    assert only_frame(path, window="400,40").shape == (1, 3)  # an explicit window still works


def test_an_unknown_stored_window_function_is_a_decode_error(tmp_path, write_dicom):
    path = write_dicom(tmp_path / "w.dcm", np.array([[0, 100, 200]], dtype=np.uint16),
                       WindowCenter=100, WindowWidth=50, VOILUTFunction="CUBIC")
    with pytest.raises(DecodeError, match="^DICOM window cannot be applied .*CUBIC"):
        decode_file(path)


def enhanced_ct(tmp_path, write_dicom):
    """Two frames of HU -1000..1000 stored as 0..2000: the intercept is in the
    shared functional group, each frame's window in its per-frame group."""
    ramp = np.tile(np.arange(0, 2001, 40, dtype=np.uint16), (3, 1))
    rescale = Dataset()
    rescale.RescaleIntercept, rescale.RescaleSlope, rescale.RescaleType = -1000, 1, "HU"
    shared = Dataset()
    shared.PixelValueTransformationSequence = Sequence([rescale])
    per_frame = []
    for center, width in [(40, 400), (-600, 1500)]:
        window = Dataset()
        window.WindowCenter, window.WindowWidth = center, width
        group = Dataset()
        group.FrameVOILUTSequence = Sequence([window])
        per_frame.append(group)
    path = write_dicom(tmp_path / "enhanced.dcm", np.stack([ramp, ramp]),
                       SharedFunctionalGroupsSequence=Sequence([shared]),
                       PerFrameFunctionalGroupsSequence=Sequence(per_frame))
    return path, ramp.astype(np.float64) - 1000.0


def linear_window(hu, center, width):
    return np.clip((hu - (center - 0.5)) / (width - 1) + 0.5, 0, 1)  # DICOM LINEAR


def test_enhanced_functional_groups_give_each_frame_its_rescale_and_window(tmp_path, write_dicom):
    path, hu = enhanced_ct(tmp_path, write_dicom)
    first, second = decode_file(path, make_options(frames="all"))
    np.testing.assert_allclose(first.pixels, linear_window(hu, 40, 400), atol=1e-5)
    np.testing.assert_allclose(second.pixels, linear_window(hu, -600, 1500), atol=1e-5)
    # a preset applies to the HU from the shared rescale
    np.testing.assert_allclose(only_frame(path, window="bone"), linear_window(hu, 300, 1500), atol=1e-5)
    assert "RescaleIntercept" not in pydicom.dcmread(path)  # the file is read, not changed


def test_a_per_frame_rescale_wins_over_shared_and_top_level(tmp_path, write_dicom):
    path, hu = enhanced_ct(tmp_path, write_dicom)
    ds = pydicom.dcmread(path)
    ds.RescaleIntercept, ds.RescaleSlope = 5000, 1  # top level: overridden
    own = Dataset()
    own.RescaleIntercept, own.RescaleSlope = -500, 1
    ds.PerFrameFunctionalGroupsSequence[1].PixelValueTransformationSequence = Sequence([own])
    ds.save_as(path)
    first, second = decode_file(path, make_options(frames="all"))
    np.testing.assert_allclose(first.pixels, linear_window(hu, 40, 400), atol=1e-5)
    np.testing.assert_allclose(second.pixels, linear_window(hu + 500, -600, 1500), atol=1e-5)


@pytest.mark.parametrize("window", ["auto", "lung", "bone", "brain", "soft", "400,40"])
@pytest.mark.parametrize("attributes", [
    {"RescaleSlope": 1, "RescaleIntercept": -1024},
    {"RescaleSlope": 2.5, "RescaleIntercept": -300, "WindowCenter": 40, "WindowWidth": 400},
    {"WindowCenter": 1200, "WindowWidth": 900, "VOILUTFunction": "SIGMOID"},
    {"PhotometricInterpretation": "MONOCHROME1", "WindowCenter": 500, "WindowWidth": 1000},
    {},
])
def test_the_lookup_table_path_gives_exactly_the_direct_computation(window, attributes):
    # The decoder maps a large integer image through a table of its stored values; every step is a
    # per-value map, so the result must equal the direct computation bit for bit.
    from pydicom import Dataset

    from generation import decode

    rng = np.random.default_rng(5)
    raw = rng.integers(0, 4096, (300, 300)).astype(np.uint16)
    ds = Dataset()
    ds.PhotometricInterpretation = attributes.pop("PhotometricInterpretation", "MONOCHROME2")
    ds.BitsStored, ds.PixelRepresentation, ds.SamplesPerPixel = 12, 0, 1
    for key, value in attributes.items():
        setattr(ds, key, value)
    options = decode.make_options(window, "first", "refuse")
    assert decode._table_applies(raw, ds)
    via_table = decode._dicom_to_unit(raw, ds, options)
    direct = decode._gray_to_unit(raw, ds, str(ds.PhotometricInterpretation), options)
    assert via_table.dtype == direct.dtype == np.float32
    assert np.array_equal(via_table, direct)
