"""Shared fixtures: a real pool built by `generation` from real PNG files, and named people with roles.

alice is a coordinator (staff), bob an analyst, charlie has an account with no role.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _draw(rng: np.random.Generator, size: int = 96) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.35)
    blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r ** 2))
    image = 0.6 * blob + 0.4 * rng.random((size, size))
    return (255 * image / image.max()).astype(np.uint8)


@pytest.fixture(scope="session")
def small_pool_dir(tmp_path_factory) -> Path:
    """30 real, 30 synthetic and 5 catch sources at 32, 64 and 96 px, built by the real pipeline."""
    from generation.pool import build_pool

    root = tmp_path_factory.mktemp("pool-src")
    rng = np.random.default_rng(7)
    for cls in ("real", "synthetic"):
        (root / cls).mkdir()
        for i in range(30):
            Image.fromarray(_draw(rng)).save(root / cls / f"{cls}_{i:03d}.png")
    (root / "catch").mkdir()  # attention checks: obviously synthetic (pure noise)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (96, 96), dtype=np.uint8)).save(root / "catch" / f"noise_{i}.png")
    out = root / "pool"
    build_pool(root / "real", root / "synthetic", out, resolutions=(32, 64, 96), seed=3, workers=1,
               generator_name="test-generator", catch_dir=root / "catch")
    return out


@pytest.fixture(autouse=True)
def _fast_password_hashing(request):
    if not request.config.pluginmanager.hasplugin("django"):
        return  # the plain libraries' tests also run with -p no:django
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    cache.clear()  # cached reports never leak from one test's database into the next


@pytest.fixture
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.POOL_ROOT = tmp_path / "media" / "pools"
    return settings.MEDIA_ROOT


@pytest.fixture
def pool(db, small_pool_dir, media_root):
    from readerstudy.pools import import_pool

    registered, _ = import_pool(small_pool_dir, "Test pool", copy=False)
    return registered


@pytest.fixture
def make_study(pool):
    from readerstudy.models import Study, StudyStatus

    def make(**overrides):
        fields = dict(name="Resolution study", pool=pool, status=StudyStatus.OPEN, resolutions=[32, 64, 96],
                      trials_per_resolution=4, blank_ms=0)
        fields.update(overrides)
        return Study.objects.create(**fields)

    return make


@pytest.fixture
def study(make_study):
    return make_study()


@pytest.fixture
def alice(db, django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-pass-123", is_staff=True)


@pytest.fixture
def bob(db, django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("bob", password="bob-pass-123")
    user.groups.add(Group.objects.get_or_create(name="analysts")[0])
    return user


@pytest.fixture
def charlie(db, django_user_model):
    return django_user_model.objects.create_user("charlie", password="charlie-pass-123")
