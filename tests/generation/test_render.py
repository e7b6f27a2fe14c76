import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from generation.render import (canonical_png, canonical_png_size, encode_png, quantise, render, resample,
                               to_square)


def png_chunk_types(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    kinds, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kinds.append(data[position + 4 : position + 8])
        position += 12 + length
    return kinds


def test_center_crop_keeps_the_middle_square():
    pixels = np.arange(6 * 10, dtype=np.float32).reshape(6, 10)
    square = to_square(pixels, "center")
    np.testing.assert_array_equal(square, pixels[:, 2:8])


def test_pad_adds_black_borders_around_the_whole_image():
    pixels = np.ones((2, 4), dtype=np.float32)
    square = to_square(pixels, "pad")
    assert square.shape == (4, 4)
    np.testing.assert_array_equal(square[1:3], 1.0)
    assert square[0].sum() == 0 and square[3].sum() == 0


def test_unknown_crop_is_refused():
    with pytest.raises(ValueError, match="center, pad"):
        to_square(np.zeros((2, 3)), "stretch")


def test_lanczos_resample_keeps_a_flat_image_flat_and_averages_detail():
    assert np.allclose(resample(np.full((50, 50), 0.25), 8), 0.25, atol=1e-5)
    checker = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float32)
    small = resample(checker, 8)
    assert small.shape == (8, 8) and small.dtype == np.float32
    assert np.allclose(small, 0.5, atol=0.02)  # antialiased, not aliased to 0 or 1


def test_quantise_rounds_and_clips():
    values = np.array([-0.2, 0.0, 0.499 / 255, 0.501 / 255, 0.5, 1.0, 1.3])
    np.testing.assert_array_equal(quantise(values), [0, 0, 0, 1, 128, 255, 255])
    assert quantise(values).dtype == np.uint8


def test_png_has_only_image_chunks_and_round_trips():
    gray = np.random.default_rng(3).integers(0, 256, (17, 17), dtype=np.uint8)
    data = encode_png(gray)
    assert set(png_chunk_types(data)) == {b"IHDR", b"IDAT", b"IEND"}
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "L"
        np.testing.assert_array_equal(np.asarray(image), gray)
    assert encode_png(gray.copy()) == data


def test_encode_png_refuses_anything_but_2d_uint8():
    with pytest.raises(ValueError, match="2-D uint8"):
        encode_png(np.zeros((4, 4), dtype=np.float32))


def test_render_makes_each_resolution_and_equal_inputs_give_equal_bytes():
    pixels = np.random.default_rng(1).random((30, 40)).astype(np.float32)
    first = render(pixels, [8, 16, 64])
    assert sorted(first) == [8, 16, 64]
    for size, data in first.items():
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (size, size)
    assert render(pixels.copy(), [8, 16, 64]) == first


def test_an_image_already_at_the_target_size_is_passed_through_exactly_as_pillow_would():
    import numpy as np
    from PIL import Image

    from generation.render import resample

    pixels = np.random.default_rng(3).random((48, 48)).astype(np.float32)
    expected = np.asarray(Image.fromarray(pixels).resize((48, 48), Image.Resampling.LANCZOS))
    assert np.array_equal(resample(pixels, 48), expected)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        assert data[position + 8 + length : position + 12 + length] == struct.pack(">I", zlib.crc32(kind + body))
        chunks.append((kind, body))
        position += 12 + length
    return chunks


@pytest.mark.parametrize("size", [32, 128, 512])
def test_canonical_png_has_one_length_and_one_layout_for_very_different_images_of_a_size(size):
    flat = np.full((size, size), 128, dtype=np.uint8)
    noise = np.random.default_rng(5).integers(0, 256, (size, size), dtype=np.uint8)
    encoded = {name: canonical_png(pixels) for name, pixels in (("flat", flat), ("noise", noise))}
    # The pool's own encoder gives the flat image a much smaller file: the size tells the content.
    assert len(encode_png(flat)) < len(encode_png(noise)) / 2
    assert len(encoded["flat"]) == len(encoded["noise"]) == canonical_png_size(size, size)
    layouts = []
    for name, pixels in (("flat", flat), ("noise", noise)):
        chunks = png_chunks(encoded[name])
        assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
        ihdr, idat = chunks[0][1], chunks[1][1]
        assert ihdr == struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
        rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(size, size + 1)
        assert not rows[:, 0].any()  # filter type 0 on every row
        np.testing.assert_array_equal(rows[:, 1:], pixels)
        # Stored deflate blocks: everything but the block payloads and the Adler-32 is the same.
        layouts.append((ihdr, idat[:7], len(idat)))
        with Image.open(io.BytesIO(encoded[name])) as image:
            assert image.mode == "L" and image.size == (size, size)
            np.testing.assert_array_equal(np.asarray(image), pixels)
    assert layouts[0] == layouts[1]


def test_canonical_png_of_a_wide_image_and_its_size_formula():
    pixels = np.random.default_rng(2).integers(0, 256, (7, 300), dtype=np.uint8)
    data = canonical_png(pixels)
    assert len(data) == canonical_png_size(300, 7)
    with Image.open(io.BytesIO(data)) as image:
        np.testing.assert_array_equal(np.asarray(image), pixels)


def test_canonical_png_refuses_anything_but_2d_uint8():
    for bad in (np.zeros((4, 4), dtype=np.float32), np.zeros((4, 4, 3), dtype=np.uint8), np.zeros((0, 4), np.uint8)):
        with pytest.raises(ValueError, match="2-D uint8"):
            canonical_png(bad)
