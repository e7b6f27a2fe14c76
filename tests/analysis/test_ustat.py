"""The U-statistic MRMC variance: iMRMC and MRMCaov on the Van Dyke data, and brute force on any design.

Reference values: shared/refdata/README.md section 1b (MRMCaov ``cov = unbiased``) and 1d (FDA iMRMC
4.0.3, files in computed/imrmc_vandyke/).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from analysis.ustat import ustat_mrmc


@pytest.fixture
def vandyke(refdata) -> pd.DataFrame:
    data = pd.read_csv(refdata / "vandyke_rjafroc_RocData.csv")
    return data.rename(columns={"treatment": "modality", "rating": "score"})


@pytest.fixture
def imrmc(refdata) -> pd.DataFrame:
    return pd.read_csv(refdata / "computed" / "imrmc_vandyke" / "statAnalysis.csv", dtype={"modalityA": str,
                                                                                         "modalityB": str})


def test_single_modality_variance_and_df_match_imrmc(vandyke, imrmc):
    result = ustat_mrmc(vandyke, kernel="auc")
    for m in (0, 1):
        row = imrmc[(imrmc["modalityA"] == str(m)) & (imrmc["modalityB"] == "NO_MOD")].iloc[0]
        assert result.estimates[m] == pytest.approx(row["AUCA"], abs=1e-8)
        assert result.covariance[m, m] == pytest.approx(row["varAUCA"], rel=1e-7)
        figure = result.contrast(np.eye(2)[m])
        assert figure["df"] == pytest.approx(row["dfHillis"], rel=1e-7)
        # iMRMC's own interval uses the df rounded down (refdata README); MRMCaov's is checked below.


def test_single_modality_matches_mrmcaov_unbiased(vandyke):
    # MRMCaov cov = unbiased, single treatment: 1: StdErr 0.0330712 df 12.58802 CI (0.8253526, 0.9687214);
    # 2: 0.0214912, 12.53391, (0.8942323, 0.9874424).
    result = ustat_mrmc(vandyke, kernel="auc")
    for m, (se, df, low, high) in enumerate([(0.0330712, 12.58802, 0.8253526, 0.9687214),
                                             (0.0214912, 12.53391, 0.8942323, 0.9874424)]):
        figure = result.contrast(np.eye(2)[m])
        assert figure["se"] == pytest.approx(se, abs=5e-8)
        assert figure["df"] == pytest.approx(df, abs=5e-6)
        assert (figure["ci_low"], figure["ci_high"]) == pytest.approx((low, high), abs=5e-8)


def test_difference_matches_imrmc_and_mrmcaov(vandyke, imrmc):
    row = imrmc[(imrmc["modalityA"] == "0") & (imrmc["modalityB"] == "1")].iloc[0]
    figure = ustat_mrmc(vandyke, kernel="auc").contrast([1, -1])
    assert figure["estimate"] == pytest.approx(row["AUCAminusAUCB"], abs=1e-9)
    assert figure["variance"] == pytest.approx(row["varAUCAminusAUCB"], rel=1e-7)
    assert figure["df"] == pytest.approx(row["dfHillis"], rel=1e-7)
    # Fractional df, as MRMCaov (iMRMC rounds the df down; see the refdata README): p 0.0511618,
    # CI (-0.0878519409, 0.0002512968), t -2.118871.
    assert figure["p_value"] == pytest.approx(0.0511618, abs=5e-8)
    assert figure["statistic"] == pytest.approx(-2.118871, abs=5e-7)
    assert (figure["ci_low"], figure["ci_high"]) == pytest.approx((-0.0878519409, 0.0002512968), abs=1e-9)


def test_one_reader_variance_matches_imrmc_per_reader(vandyke, refdata):
    table = pd.read_csv(refdata / "computed" / "imrmc_vandyke" / "AUCperReader.csv")
    single = table[table["modalityB"] == "NO_MOD"]
    for _, row in single.iterrows():
        part = vandyke[(vandyke["reader"] == int(row["readerID"])) & (vandyke["modality"] == int(row["modalityA"]))]
        result = ustat_mrmc(part, kernel="auc")
        assert result.estimates[0] == pytest.approx(row["AUCA"], abs=1e-8)
        assert result.fixed_reader_variance[0] == pytest.approx(row["varAUCA"], abs=1e-8)  # iMRMC prints these to 1e-8


# --------------------------------------------------------------------------- brute force


def _kernel_rows(df: pd.DataFrame, kernel: str):
    """Every kernel evaluation as (reader, modality, case tuple, value, weight)."""
    rows = []
    value = "score" if kernel == "auc" else "correct"
    counts = {}
    for (reader, modality), part in df.groupby(["reader", "modality"]):
        if kernel == "pc":
            evaluations = [((c,), float(v)) for c, v in zip(part["case"], part[value])]
        else:
            noise, signal = part[part["truth"] == 0], part[part["truth"] == 1]
            evaluations = []
            for (c0, x0), (c1, x1) in itertools.product(zip(noise["case"], noise[value]),
                                                        zip(signal["case"], signal[value])):
                h = (x1 > x0) + 0.5 * (x1 == x0) if kernel == "auc" else (x0 + x1) / 2
                evaluations.append(((c0, c1), float(h)))
        if evaluations:
            counts[modality] = counts.get(modality, 0) + 1
            rows.append((reader, modality, evaluations))
    out = []
    for reader, modality, evaluations in rows:
        for cases, h in evaluations:
            out.append((reader, modality, cases, h, 1.0 / (counts[modality] * len(evaluations))))
    return out


def _brute_covariance(df: pd.DataFrame, kernel: str, modalities) -> np.ndarray:
    """Sum over all pairs of evaluations of w w' (moment of their sharing type - moment of sharing nothing)."""
    rows = _kernel_rows(df, kernel)
    n = len(modalities)
    sums, counts, coefficients = {}, {}, {}
    for a, b in itertools.product(rows, rows):
        key = (modalities.index(a[1]), modalities.index(b[1]), a[0] == b[0],
               tuple(x == y for x, y in zip(a[2], b[2])))
        sums[key] = sums.get(key, 0.0) + a[3] * b[3]
        counts[key] = counts.get(key, 0) + 1
        coefficients[key] = coefficients.get(key, 0.0) + a[4] * b[4]
    out = np.zeros((n, n))
    axes = len(rows[0][2])
    none = (False, (False,) * axes)
    for (m, k, *share), total in sums.items():
        share = (share[0], share[1])
        if share == none:
            continue
        base = sums[(m, k, *none)] / counts[(m, k, *none)]
        out[m, k] += coefficients[(m, k, *share)] * (total / counts[(m, k, *share)] - base)
    return out


def _random_design(kernel: str, seed: int) -> pd.DataFrame:
    """Readers reading overlapping random subsets of cases, at two modalities that share some cases."""
    rng = np.random.default_rng(seed)
    rows = []
    for reader in range(4):
        for modality in ("a", "b"):
            cases = rng.choice(10, size=6, replace=False)
            for case in cases:
                truth = int(case % 2)
                score = float(rng.integers(1, 4)) + truth * rng.random()
                rows.append({"reader": reader, "case": int(case), "modality": modality, "truth": truth,
                             "score": score, "correct": int(rng.random() < 0.6)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("kernel", ["auc", "balanced", "pc"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_sums_equal_brute_force_over_all_pairs(kernel, seed):
    df = _random_design(kernel, seed)
    result = ustat_mrmc(df, kernel=kernel)
    expected = _brute_covariance(df, kernel, result.modalities)
    np.testing.assert_allclose(result.covariance, expected, rtol=1e-9, atol=1e-14)


def test_split_plot_design_equals_brute_force():
    # Two reader groups read disjoint cases (a split-plot): the estimate is the mean of the readers' own.
    rng = np.random.default_rng(3)
    rows = [{"reader": reader, "case": case, "modality": 64, "truth": case % 2, "correct": int(rng.random() < 0.6)}
            for reader in range(4) for case in range((reader % 2) * 6, (reader % 2) * 6 + 6)]
    df = pd.DataFrame(rows)
    result = ustat_mrmc(df, kernel="balanced")
    assert result.estimates[0] == pytest.approx(np.nanmean(result.reader_matrix[:, 0]))
    np.testing.assert_allclose(result.covariance, _brute_covariance(df, "balanced", result.modalities), rtol=1e-9)


def test_balanced_accuracy_is_percent_correct_when_classes_are_balanced():
    rng = np.random.default_rng(4)
    df = pd.DataFrame([{"reader": r, "case": c, "modality": 1, "truth": c % 2, "correct": int(rng.random() < 0.6)}
                       for r in range(3) for c in range(10)])
    balanced = ustat_mrmc(df, kernel="balanced").estimates[0]
    assert balanced == pytest.approx(df["correct"].mean())


def test_inputs_that_cannot_be_analysed_are_refused_with_a_reason():
    df = pd.DataFrame({"reader": [1, 1], "case": [1, 1], "modality": [1, 1], "truth": [0, 0], "score": [1, 2]})
    with pytest.raises(ValueError, match="two answers for one case"):
        ustat_mrmc(df)
    with pytest.raises(ValueError, match="both classes"):
        ustat_mrmc(df.iloc[:1])
    with pytest.raises(ValueError, match="kernel"):
        ustat_mrmc(df, kernel="median")
