"""The quality report's stages on phantoms: two samples of one distribution, and planted faults."""

from __future__ import annotations

import numpy as np
import pytest

from generation.quality import diversity, fidelity, machine_reader, memorisation, prdc, usefulness
from generation.quality.features import extract_features
from generation.quality.inputs import load_inputs
from tests.generation.test_quality_support import (
    blurred, brighter, patient_slices, phantom_set, textured, write_pool,
)
from generation.phantoms import to_uint8

SIZE = 32
PATIENTS = 40


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # tiny networks on a shared 2-core machine: one thread is faster than two that wait for each other
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _pixels(images):
    return np.stack([image["pixels"] for image in images])


@pytest.fixture(scope="module")
def real_images():
    return phantom_set(0, PATIENTS, SIZE)


@pytest.fixture(scope="module")
def real_features(real_images):
    return extract_features(_pixels(real_images), feature_set="original")


def _fidelity_against(real_images, real_features, synthetic_images):
    values, names = real_features
    synthetic, _ = extract_features(_pixels(synthetic_images), feature_set="original")
    return fidelity.fidelity(values, synthetic, names, [i["patient"] for i in real_images], bootstrap=30)


def test_two_samples_of_one_distribution_give_an_frd_inside_the_real_interval(real_images, real_features):
    result = _fidelity_against(real_images, real_features, phantom_set(1000, PATIENTS, SIZE))
    assert result["within_real_range"]
    assert result["real_vs_real"]["ci_low"] <= result["real_vs_synthetic"]["median"] <= result["real_vs_real"]["ci_high"]


@pytest.mark.parametrize("change, feature_words", [
    (brighter, ("Mean", "Median", "Percentile", "Minimum", "Maximum")),
    (blurred, ("glcm", "glrlm", "glszm", "ngtdm", "wavelet")),
    (textured, ("glcm", "glrlm", "glszm", "ngtdm", "wavelet", "Entropy", "Uniformity")),
])
def test_a_planted_shift_raises_the_frd_past_real_and_names_the_features(real_images, real_features, change,
                                                                         feature_words):
    result = _fidelity_against(real_images, real_features, phantom_set(1000, PATIENTS, SIZE, change=change))
    assert result["real_vs_synthetic"]["median"] > result["real_vs_real"]["ci_high"]
    assert not result["within_real_range"] and result["share_synthetic_farther"] > 0.95
    top = [row["feature"] for row in result["top_features"][:5]]
    assert any(word in name for name in top for word in feature_words), top


def test_prdc_of_one_distribution_matches_real_against_real_and_warns_of_few_images(real_images, real_features):
    values, _ = real_features
    synthetic, _ = extract_features(_pixels(phantom_set(1000, PATIENTS, SIZE)), feature_set="original")
    result = prdc.prdc_report(values, synthetic, [i["patient"] for i in real_images], splits=10)
    for measure in ("precision", "recall"):
        same, real = result["real_vs_synthetic"][measure], result["real_vs_real"][measure]
        assert abs(same["median"] - real["median"]) < 0.3
    assert "few hundred" in result["warning"]


def _sets(tmp_path, real, synthetic, *, train_list=None):
    pool = write_pool(tmp_path / "pool", real, synthetic)
    listing = None
    if train_list is not None:
        listing = tmp_path / "train.txt"
        listing.write_text("\n".join(train_list) + "\n")
    inputs = load_inputs(pool, pool, train_list=listing)
    return inputs.sets[SIZE]


def test_a_collapsed_generator_triggers_the_diversity_warning(tmp_path):
    rng = np.random.default_rng(5)
    modes = [to_uint8(patient_slices(seed, SIZE)[0]) for seed in (900, 901)]
    collapsed = [{"pixels": np.clip(modes[n % 2] + rng.integers(-2, 3, modes[0].shape), 0, 255).astype(np.uint8),
                  "name": f"fake{n}.png"} for n in range(40)]
    real, synthetic = _sets(tmp_path, phantom_set(0, 40, SIZE), collapsed)
    result = diversity.diversity(real, synthetic, pairs=20, bootstrap=200)
    assert result["rows"][0]["mode_collapse"]
    assert "mode collapse" in result["warnings"][0]


def test_one_distribution_gives_no_diversity_warning(tmp_path):
    real, synthetic = _sets(tmp_path, phantom_set(0, 40, SIZE), phantom_set(1000, 40, SIZE))
    result = diversity.diversity(real, synthetic, pairs=20, bootstrap=200)
    assert result["rows"][0]["mode_collapse"] is False and result["warnings"] == []


def test_a_planted_copy_is_flagged_and_a_neighbouring_slice_is_not_a_copy(tmp_path):
    real = phantom_set(0, 24, SIZE, slices=3)  # 24 patients, 3 neighbouring slices each
    # the generator saw patients 0-11 whole and slice 0 of patients 12-17; the rest is held out
    training = [image for image in real if int(image["patient"][1:]) < 12
                or (int(image["patient"][1:]) < 18 and image["name"].endswith("_0.png"))]
    copy = {"pixels": training[4]["pixels"].copy(), "name": "copy.png"}
    shifted = {"pixels": np.roll(training[7]["pixels"], 1, axis=0), "name": "shifted_copy.png"}
    synthetic = phantom_set(1000, 30, SIZE) + [copy, shifted]
    real_set, synthetic_set = _sets(tmp_path, real, synthetic, train_list=[image["name"] for image in training])
    result = memorisation.memorisation(real_set, synthetic_set)
    flagged = {row["source"] for row in result["synthetic"] if row["flagged"]}
    assert {"copy.png", "shifted_copy.png"} <= flagged
    assert len(flagged - {"copy.png", "shifted_copy.png"}) <= 2
    by_id = dict(zip(real_set.ids, real_set.sources))
    for row in result["null_nearest"]:  # a held-out slice is never matched with its own patient's slice
        assert row["source_id"] != row["nearest_training_source_id"]
        assert by_id[row["id"]] == row["source_id"]
    assert result["threshold"] < 0.97  # own-patient slices (about 0.98) do not set the bar


def _labelled(first_seed, patients, *, signal=True):
    images = phantom_set(first_seed, patients, SIZE)
    for n, image in enumerate(images):
        image["label"] = "spot" if n % 2 else "none"
        if signal and n % 2:
            image["pixels"] = image["pixels"].copy()
            image["pixels"][8:14, 8:14] = 255
    return images


def test_a_planted_label_signal_gives_high_auc_and_a_gap_near_zero(tmp_path):
    real, synthetic = _sets(tmp_path, _labelled(0, 40), _labelled(1000, 40))
    result = usefulness.usefulness(real, synthetic, steps=40, folds=2)
    for source in ("real", "synthetic", "both"):
        assert result["mean_auc"][source] > 0.85, result["mean_auc"]
    assert abs(result["gap"]) < 0.1
    spot = next(row for row in result["per_label"] if row["label"] == "spot")
    assert spot["synthetic_minus_real"]["ci_low"] <= 0 <= spot["synthetic_minus_real"]["ci_high"] or \
        abs(spot["synthetic_minus_real"]["difference"]) < 0.05
    assert result["learning_curve"]["real"] and result["learning_curve"]["synthetic"]


def test_the_machine_reader_is_at_chance_on_one_distribution_and_sees_a_shift(tmp_path, real_images, real_features):
    real, synthetic = _sets(tmp_path / "same", real_images, phantom_set(1000, PATIENTS, SIZE))
    summary, rows = machine_reader.cnn_reader(real, synthetic, steps=40, folds=3)
    assert summary["auc_ci_low"] <= 0.5 <= summary["auc_ci_high"]
    assert len(rows) == 2 * PATIENTS and {row["reader"] for row in rows} == {"machine-cnn"}
    values, _ = real_features
    synthetic_f, _ = extract_features(synthetic.pixels, feature_set="original")
    embedded = prdc.embed(values, synthetic_f)
    nn_summary, nn_rows = machine_reader.nearest_neighbour_reader(real, synthetic, *embedded)
    assert nn_summary["permutation_p"] > 0.01

    real, shifted = _sets(tmp_path / "shift", real_images, phantom_set(1000, PATIENTS, SIZE, change=brighter))
    summary, _ = machine_reader.cnn_reader(real, shifted, steps=40, folds=3)
    assert summary["auc"] > 0.9
