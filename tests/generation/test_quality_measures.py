"""The quality report's measures against the packages and definitions they follow."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from generation.phantoms import draw_phantom, to_uint8
from generation.quality import fidelity, prdc, stats
from generation.quality.features import image_features, make_extractor


def test_in_memory_features_equal_frd_scores_own_pipeline_for_a_png(tmp_path):
    from frd_score import frd

    pixels = to_uint8(draw_phantom(3, 32))
    Image.fromarray(pixels).save(tmp_path / "phantom.png")
    extractor = make_extractor("frd-v1")
    ours = image_features(extractor, pixels)
    _, theirs, _ = frd.process_image_mask_pair((str(tmp_path / "phantom.png"), None), feature_extractor=extractor,
                                               frd_version="v1")
    assert list(ours) == list(theirs)
    assert np.allclose(list(ours.values()), list(theirs.values()), rtol=0, atol=0)


def test_the_frechet_distance_equals_frd_scores():
    from frd_score.frd import calculate_frechet_distance

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(60, 12)), rng.normal(0.3, 1.2, size=(50, 12)) @ rng.normal(size=(12, 12))
    expected = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert fidelity.frechet_squared(a, b) == pytest.approx(expected, rel=1e-9)


def test_the_frd_of_feature_arrays_equals_frd_scores_v1_steps():
    # frd-score v1 (calculate_feature_statistics): float32, z-score by the first set, drop columns that
    # are not finite, Fréchet distance, log. A constant column shows the dropping.
    from frd_score import frd as frd_score

    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(80, 6)), rng.normal(0.2, 1.1, size=(70, 6))
    a[:, 2] = 1.0
    scaled = [frd_score.z_score_normalize(x.astype(np.float32), base_distribution=a.astype(np.float32),
                                          replace_nan=False, handle_std_zero=False) for x in (a, b)]
    keep = np.isfinite(scaled[0]).all(0) & np.isfinite(scaled[1]).all(0)
    a_k, b_k = scaled[0][:, keep], scaled[1][:, keep]
    expected = np.log(frd_score.calculate_frechet_distance(a_k.mean(0), np.cov(a_k, rowvar=False), b_k.mean(0),
                                                           np.cov(b_k, rowvar=False)))
    assert fidelity.frd(a, b) == pytest.approx(expected, rel=1e-5)


def test_delong_matches_the_analysis_package():
    from analysis import roc

    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 80)
    first, second = truth + rng.normal(0, 1, 80), truth + rng.normal(0, 1.5, 80)
    ours, theirs = stats.delong_auc(truth, first), roc.delong(truth, first)
    assert ours["auc"] == pytest.approx(theirs["auc"]) and ours["se"] == pytest.approx(theirs["se"])
    paired, expected = stats.delong_paired(truth, first, second), roc.delong_paired(truth, first, second)
    assert paired["difference"] == pytest.approx(expected["difference"])
    assert paired["p_value"] == pytest.approx(expected["p_value"])


def _prdc_by_the_definitions(real, fake, k):
    """Naeem et al. (2020), eqs. 1-4, one point at a time."""
    def radius(points, i):
        return np.sort([np.linalg.norm(points[i] - q) for q in points])[k]

    real_r = [radius(real, i) for i in range(len(real))]
    fake_r = [radius(fake, j) for j in range(len(fake))]
    d = lambda x, y: np.linalg.norm(x - y)  # noqa: E731
    precision = np.mean([any(d(f, r) < real_r[i] for i, r in enumerate(real)) for f in fake])
    recall = np.mean([any(d(r, f) < fake_r[j] for j, f in enumerate(fake)) for r in real])
    density = np.mean([sum(d(f, r) < real_r[i] for i, r in enumerate(real)) for f in fake]) / k
    coverage = np.mean([min(d(r, f) for f in fake) < real_r[i] for i, r in enumerate(real)])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


def test_prdc_follows_the_definitions():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(40, 3)), rng.normal(0.5, 0.7, size=(30, 3))
    ours, expected = prdc.prdc(real, fake, k=5), _prdc_by_the_definitions(real, fake, 5)
    assert ours == pytest.approx(expected)


def test_wilson_interval_matches_a_textbook_value():
    # Newcombe (1998), Table I: 81 of 263 -> 0.2553 to 0.3662
    low, high = stats.wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_cohens_d_of_a_known_shift():
    rng = np.random.default_rng(3)
    a = rng.normal(0, 1, size=(4000, 1))
    d, se = stats.cohens_d(a, a + 0.5)
    assert d[0] == pytest.approx(0.5 / a.std(ddof=1), rel=1e-9) and 0 < se[0] < 0.05
