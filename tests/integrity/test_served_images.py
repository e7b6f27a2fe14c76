"""What a reader's browser receives for an image carries its pixels and nothing else: every image of one
resolution is sent as the same number of bytes with the same encoder decisions, whatever its class."""
from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from collections import defaultdict

import numpy as np
import pytest
from PIL import Image

from generation.render import canonical_png_size
from readerstudy.models import TrialImage
from readerstudy.pools import canonical_path

from ..readerstudy.helpers import invite

pytestmark = pytest.mark.django_db


def served_images(client, reader) -> list[tuple[TrialImage, bytes]]:
    """Every image of every trial of `reader`, as the image endpoint sends it."""
    served = []
    for trial_image in TrialImage.objects.filter(trial__reader=reader).select_related("image__pool"):
        response = client.get(f"/api/reader/{reader.token}/images/{trial_image.token}/")
        assert response.status_code == 200, response.content
        served.append((trial_image, response.content))
    return served


def layout(data: bytes) -> tuple:
    """Everything of a PNG but its pixel bytes and checksums: chunk types and lengths, IHDR, row filters."""
    chunks, position, idat = [], 8, b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        chunks.append((kind, length, body if kind == b"IHDR" else None))
        idat += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height = struct.unpack(">II", chunks[0][2][:8])
    filters = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width + 1)[:, 0]
    return tuple(chunks), bytes(filters)


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


def test_every_image_of_a_resolution_is_served_as_the_same_bytes_layout_whatever_its_class(client, study):
    reader = invite(study)
    by_resolution = defaultdict(lambda: defaultdict(set))
    for trial_image, data in served_images(client, reader):
        image = trial_image.image
        # The pixels are the pool file's, exactly.
        np.testing.assert_array_equal(pixels(data), pixels(image.path.read_bytes()))
        by_resolution[image.resolution][image.image_class].add((len(data), layout(data)))
    assert set(by_resolution) == {32, 64, 96}
    for resolution, classes in by_resolution.items():
        assert set(classes) == {"real", "synthetic"}
        shapes = set().union(*classes.values())
        assert len(shapes) == 1, f"at {resolution} px the served files differ in size or layout"
        (size, _), = shapes
        assert size == canonical_png_size(resolution, resolution)


def test_the_pool_files_and_their_hashes_stay_as_they_were_built(client, study, small_pool_dir):
    manifest_before = (small_pool_dir / "manifest.json").read_bytes()
    served = served_images(client, invite(study))
    assert (small_pool_dir / "manifest.json").read_bytes() == manifest_before
    for entry in json.loads(manifest_before)["images"]:
        assert hashlib.sha256((small_pool_dir / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
    assert all(data != trial_image.image.path.read_bytes() for trial_image, data in served)


def test_importing_a_pool_makes_the_canonical_copy_of_every_image(pool):
    for image in pool.images.select_related("pool"):
        copy = canonical_path(image.path)
        assert copy.is_file() and copy.stat().st_size == canonical_png_size(image.resolution, image.resolution)
        assert str(copy).startswith(str(pool.path)) is False  # the pool's folder is left alone


def test_a_pool_imported_before_canonical_copies_gets_each_on_first_serve(client, study, media_root):
    reader = invite(study)
    trial_image = TrialImage.objects.filter(trial__reader=reader).select_related("image__pool").first()
    copy = canonical_path(trial_image.image.path)
    copy.unlink()
    url = f"/api/reader/{reader.token}/images/{trial_image.token}/"
    first = client.get(url)
    assert first.status_code == 200 and copy.read_bytes() == first.content
    assert not [p for p in copy.parent.iterdir() if p.name.endswith(".tmp")]  # written, then renamed
    copy.write_bytes(b"")  # as a crash before the data reached the disk could leave it
    assert client.get(url).content == first.content and copy.read_bytes() == first.content
    assert client.get(url).content == first.content
