"""Obuchowski-Rockette MRMC analysis, checked against OR-DBM MRMC 2.51 (Iowa), MRMCaov and iMRMC.

Reference values are quoted in ../shared/refdata/README.md from the files named in each test.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from analysis.mrmc import or_analysis, format_table

IOWA = 5e-9  # the Iowa printout gives 8 decimals: agree to half a unit in the last place


def _vandyke(refdata) -> pd.DataFrame:
    # refdata/vandyke_rjafroc_RocData.csv; readers 0-4 and treatments 0-1 become 1-5 and 1-2,
    # the labels of the Iowa printout (README "Label note").
    data = pd.read_csv(refdata / "vandyke_rjafroc_RocData.csv")
    return pd.DataFrame(
        {
            "reader": data["reader"] + 1,
            "case": data["case"],
            "modality": data["treatment"] + 1,
            "truth": data["truth"],
            "score": data["rating"],
        }
    )


@pytest.fixture
def vandyke(refdata) -> pd.DataFrame:
    return _vandyke(refdata)


@pytest.fixture
def vandyke_result(vandyke):
    return or_analysis(vandyke)


@pytest.fixture
def franken_result(refdata):
    data = pd.read_csv(refdata / "franken_mrmcaov.csv")
    return or_analysis(data.rename(columns={"treatment": "modality", "rating": "score"}))


def test_vandyke_reader_aucs_and_means_match_iowa(vandyke_result):
    # iowa/VanDyke.txt, "TREATMENT x READER AUC ESTIMATES" and "TREATMENT AUC MEANS".
    table = vandyke_result.foms.pivot(index="reader", columns="modality", values="fom")
    expected = [
        [0.91964573, 0.94782609],
        [0.85877617, 0.90531401],
        [0.90386473, 0.92173913],
        [0.97310789, 0.99935588],
        [0.82979066, 0.92995169],
    ]
    np.testing.assert_allclose(table.to_numpy(), expected, atol=IOWA)
    np.testing.assert_allclose(vandyke_result.modality_means["fom"], [0.89703704, 0.94083736], atol=IOWA)
    assert vandyke_result.differences["estimate"].iloc[0] == pytest.approx(-0.04380032, abs=IOWA)


def test_vandyke_anova_matches_iowa(vandyke_result):
    # iowa/VanDyke.txt, "TREATMENT X READER ANOVA of AUCs" and "READER ANOVAs ... for each treatment".
    anova = vandyke_result.anova.set_index("source")
    np.testing.assert_allclose(anova["ss"], [0.00479617, 0.01534480, 0.00220412], atol=IOWA)
    np.testing.assert_allclose(anova["ms"], [0.00479617, 0.00383620, 0.00055103], atol=IOWA)
    assert anova["df"].tolist() == [1, 4, 4]
    np.testing.assert_allclose(vandyke_result.modality_variances["ms_r"], [0.00308263, 0.00130460], atol=IOWA)


def test_vandyke_variance_components_match_iowa_and_mrmcaov(vandyke_result):
    # iowa/VanDyke.txt "Obuchowski-Rockette variance component and covariance estimates";
    # MRMCaov README (26ed618) full precision: reader 0.0015349993, treatment:reader 0.0002004025,
    # Error 0.0008022883, Cov1 0.0003466137, Cov2 0.0003440748, Cov3 0.0002390284.
    c = vandyke_result.components
    iowa = {"var_r": 0.00153500, "var_tr": 0.00020040, "cov1": 0.00034661, "cov2": 0.00034407,
            "cov3": 0.00023903, "var_error": 0.00080229, "corr1": 0.43203138, "corr2": 0.42886683,
            "corr3": 0.29793328}
    for key, value in iowa.items():
        assert c[key] == pytest.approx(value, abs=IOWA), key
    mrmcaov = {"var_r": 0.0015349993, "var_tr": 0.0002004025, "var_error": 0.0008022883,
               "cov1": 0.0003466137, "cov2": 0.0003440748, "cov3": 0.0002390284}
    for key, value in mrmcaov.items():
        assert c[key] == pytest.approx(value, abs=5e-11), key


def test_vandyke_rrrc_matches_iowa_and_mrmcaov(vandyke_result):
    # iowa/VanDyke.txt Analysis 1 (F 4.46, DF 15.26, p 0.0517, error term 0.00107626); full precision
    # from MRMCaov README: F 4.456319, df2 15.25967, p 0.05166569, StdErr 0.02074862,
    # CI (-0.0879594986, 0.0003588544), t -2.110999.
    res = vandyke_result
    assert res.ndf == 1
    assert res.f == pytest.approx(4.456319, abs=5e-7)
    assert res.ddf == pytest.approx(15.25967, abs=5e-6)
    assert res.p_value == pytest.approx(0.05166569, abs=5e-9)
    assert res.rrrc.error_term == pytest.approx(0.00107626, abs=IOWA)
    diff = res.differences.iloc[0]
    assert diff["comparison"] == "1 - 2"
    assert diff["se"] == pytest.approx(0.02074862, abs=5e-9)
    assert diff["statistic"] == pytest.approx(-2.110999, abs=5e-7)
    assert diff["ci_low"] == pytest.approx(-0.0879594986, abs=5e-11)
    assert diff["ci_high"] == pytest.approx(0.0003588544, abs=5e-11)


def test_vandyke_single_modality_rrrc_intervals_match_iowa(vandyke_result):
    # iowa/VanDyke.txt Analysis 1 c): StdErr, DF, CI and Cov2 of each treatment.
    single = vandyke_result.single
    np.testing.assert_allclose(single["se"], [0.03317360, 0.02156637], atol=IOWA)
    np.testing.assert_allclose(single["df"], [12.74465, 12.71019], atol=5e-6)  # MRMCaov README
    np.testing.assert_allclose(single["ci_low"], [0.82522360, 0.89413783], atol=IOWA)
    np.testing.assert_allclose(single["ci_high"], [0.96885048, 0.98753689], atol=IOWA)
    np.testing.assert_allclose(vandyke_result.modality_variances["cov2"], [0.00048396, 0.00020419], atol=IOWA)


def test_vandyke_frrc_matches_iowa(vandyke_result):
    # iowa/VanDyke.txt Analysis 2: X2 5.47595, p 0.0193; difference SE 0.01872, CI (-0.08049, -0.00711);
    # full precision from MRMCaov JSS paper (fixed(reader)): X2 5.475953, p 0.01927984, SE 0.01871748,
    # CI (-0.08048591, -0.00711473).
    frrc = vandyke_result.frrc
    assert frrc.statistic == pytest.approx(5.475953, abs=5e-7)
    assert frrc.p_value == pytest.approx(0.01927984, abs=5e-9)
    assert frrc.error_term == pytest.approx(0.0008758604, abs=5e-11)
    diff = frrc.differences.iloc[0]
    assert diff["se"] == pytest.approx(0.01871748, abs=5e-9)
    assert [diff["ci_low"], diff["ci_high"]] == pytest.approx([-0.08048591, -0.00711473], abs=5e-9)
    # Analysis 2 c) single treatment and its Var(Error) table.
    np.testing.assert_allclose(frrc.single["se"], [0.02428971, 0.01677632], atol=IOWA)
    np.testing.assert_allclose(frrc.single["ci_low"], [0.84943008, 0.90795637], atol=IOWA)
    np.testing.assert_allclose(frrc.single["ci_high"], [0.94464399, 0.97371835], atol=IOWA)
    np.testing.assert_allclose(vandyke_result.modality_variances["var_error"], [0.00101410, 0.00059047], atol=IOWA)


def test_vandyke_frrc_per_reader_differences_match_iowa(vandyke_result):
    # iowa/VanDyke.txt Analysis 2 d); SEs and p at full precision from the MRMCaov JSS paper.
    rows = vandyke_result.reader_differences
    np.testing.assert_allclose(rows["estimate"], [-0.02818035, -0.04653784, -0.01787440, -0.02624799,
                                                  -0.10016103], atol=5e-9)
    np.testing.assert_allclose(rows["se"], [0.02551213, 0.02630183, 0.03120965, 0.01729129, 0.04405746],
                               atol=5e-9)
    np.testing.assert_allclose(rows["p_value"], [0.26933885, 0.07683102, 0.56683414, 0.12901715,
                                                 0.02300099], atol=5e-9)
    np.testing.assert_allclose(rows["ci_low"], [-0.07818, -0.09809, -0.07904, -0.06014, -0.18651], atol=5e-6)
    # iowa/VanDyke1R.txt (reader 1 alone): X2 1.22011 = z^2 of reader 1's difference.
    assert rows["statistic"].iloc[0] ** 2 == pytest.approx(1.22011, abs=5e-6)
    readers = vandyke_result.reader_variances
    np.testing.assert_allclose(readers["var_error"], [0.00069890, 0.00110605, 0.00084234, 0.00015058,
                                                      0.00121357], atol=IOWA)
    np.testing.assert_allclose(readers["cov1"].astype(float), [0.00037347, 0.00076016, 0.00035532,
                                                               0.00000108, 0.00024304], atol=IOWA)


def test_vandyke_rrfc_matches_iowa(vandyke_result):
    # iowa/VanDyke.txt Analysis 3; full precision MRMCaov JSS paper (fixed(case)): F 8.704,
    # p 0.04195875, SE 0.01484629, t -2.950254, CI (-0.08502022, -0.00258042).
    rrfc = vandyke_result.rrfc
    assert (rrfc.ndf, rrfc.ddf) == (1, 4)
    assert rrfc.statistic == pytest.approx(8.704, abs=5e-4)
    assert rrfc.p_value == pytest.approx(0.04195875, abs=5e-9)
    diff = rrfc.differences.iloc[0]
    assert diff["statistic"] == pytest.approx(-2.950254, abs=5e-7)
    assert [diff["ci_low"], diff["ci_high"]] == pytest.approx([-0.08502022, -0.00258042], abs=5e-9)
    np.testing.assert_allclose(rrfc.single["se"], [0.02482994, 0.01615303], atol=IOWA)
    np.testing.assert_allclose(rrfc.single["ci_low"], [0.82809808, 0.89598936], atol=IOWA)
    np.testing.assert_allclose(rrfc.single["ci_high"], [0.96597599, 0.98568536], atol=IOWA)


def test_vandyke_delong_covariance_matches_mrmcaov(vandyke):
    # MRMCaov docs/jss/MRMCaov.tex, summary(est) with cov = DeLong, RRRC.
    res = or_analysis(vandyke, cov="delong")
    c = res.components
    for key, value in {"var_r": 0.0015364254, "var_tr": 0.0002045840, "var_error": 0.0007921325,
                       "cov1": 0.0003420090, "cov2": 0.0003395265, "cov3": 0.0002358497}.items():
        assert c[key] == pytest.approx(value, abs=5e-11), key
    assert res.f == pytest.approx(4.484854, abs=5e-7)
    assert res.ddf == pytest.approx(15.06611, abs=5e-6)
    assert res.p_value == pytest.approx(0.05123303, abs=5e-9)
    assert res.differences["se"].iloc[0] == pytest.approx(0.0206825, abs=5e-8)
    np.testing.assert_allclose(res.single["se"], [0.03307642, 0.02150464], atol=5e-9)


def test_mrmcaov_copy_of_vandyke_gives_the_same_result(refdata, vandyke_result):
    # refdata/vandyke_mrmcaov.csv holds the same ratings with readers 1-5 and treatments 1-2.
    data = pd.read_csv(refdata / "vandyke_mrmcaov.csv")
    res = or_analysis(data.rename(columns={"treatment": "modality", "rating": "score"}))
    assert res.f == pytest.approx(vandyke_result.f, rel=1e-12)
    assert res.components["cov3"] == pytest.approx(vandyke_result.components["cov3"], rel=1e-12)


def test_reader_aucs_agree_with_imrmc(refdata, vandyke):
    # computed/imrmc_vandyke/AUCperReader.csv (iMRMC 4.0.3, 9 significant digits); iMRMC readers 0-4
    # and modalities 0-1 are our 1-5 and 1-2.
    imrmc = pd.read_csv(refdata / "computed" / "imrmc_vandyke" / "AUCperReader.csv")
    single = imrmc[imrmc["modalityB"] == "NO_MOD"]
    ours = or_analysis(vandyke).foms.set_index(["reader", "modality"])["fom"]
    for row in single.itertuples():
        assert ours[(row.readerID + 1, int(row.modalityA) + 1)] == pytest.approx(row.AUCA, rel=5e-9)
    stat = pd.read_csv(refdata / "computed" / "imrmc_vandyke" / "statAnalysis.csv")
    pair = stat[stat["modalityB"] != "NO_MOD"].iloc[0]
    means = or_analysis(vandyke).modality_means["fom"]
    assert [means[0], means[1]] == pytest.approx([pair["AUCA"], pair["AUCB"]], rel=5e-9)


def test_franken_matches_iowa_including_the_collapsed_error_term(franken_result):
    # iowa/Franken1.txt: Cov2 < Cov3, so the RRRC error term is MS(T*R) and RRRC equals RRFC.
    res = franken_result
    table = res.foms.pivot(index="reader", columns="modality", values="fom").to_numpy()
    np.testing.assert_allclose(table, [[0.85345997, 0.84961556], [0.86499322, 0.84350972],
                                       [0.85730439, 0.84011759], [0.81524197, 0.81433740]], atol=IOWA)
    c = res.components
    for key, value in {"var_r": 0.00003776, "var_tr": -0.00071276, "cov1": 0.00079168,
                       "cov2": 0.00048364, "cov3": 0.00051251, "var_error": 0.00152578}.items():
        assert c[key] == pytest.approx(value, abs=IOWA), key
    np.testing.assert_allclose(res.anova["ms"], [0.00023565, 0.00068406, 0.00005020], atol=IOWA)
    assert res.rrrc.error_term == pytest.approx(res.anova["ms"].iloc[2])
    assert res.ddf == pytest.approx(3.0)
    assert round(res.f, 2) == 4.69 and round(res.p_value, 4) == 0.1188
    diff = res.differences.iloc[0]
    assert round(diff["se"], 5) == 0.00501
    assert [round(diff["ci_low"], 5), round(diff["ci_high"], 5)] == [-0.00509, 0.02680]
    np.testing.assert_allclose(res.single["se"], [0.02440215, 0.02356642], atol=IOWA)
    assert [round(v, 2) for v in res.single["df"]] == [70.12, 253.64]
    np.testing.assert_allclose(res.single["ci_low"], [0.79908282, 0.79048429], atol=IOWA)
    assert round(res.frrc.statistic, 5) == 0.32101 and round(res.frrc.p_value, 4) == 0.5710
    np.testing.assert_allclose(res.frrc.single["se"], [0.02710939, 0.02744860], atol=IOWA)
    assert round(res.rrfc.statistic, 2) == 4.69 and res.rrfc.ddf == 3


def test_single_modality_gives_intervals_only_as_iowa_vandyke1t(vandyke):
    # iowa/VanDyke1T.txt: treatment 1 alone; same single-treatment CIs, reader Var(Error) table.
    res = or_analysis(vandyke[vandyke["modality"] == 1])
    assert res.f is None and res.p_value is None and len(res.differences) == 0
    assert "one modality" in res.rrrc.note
    assert res.components["cov2"] == pytest.approx(0.00048396, abs=IOWA)
    assert res.components["var_error"] == pytest.approx(0.00101410, abs=IOWA)
    assert res.components["cov1"] is None and res.components["var_r"] is None
    np.testing.assert_allclose(res.single[["ci_low", "ci_high"]].iloc[0], [0.82522360, 0.96885048], atol=IOWA)
    np.testing.assert_allclose(res.frrc.single[["ci_low", "ci_high"]].iloc[0], [0.84943008, 0.94464399],
                               atol=IOWA)
    np.testing.assert_allclose(res.reader_variances["var_error"],
                               [0.00090755, 0.00132316, 0.00079859, 0.00030064, 0.00174057], atol=IOWA)
    assert "one modality" in format_table(res)


def _naive_jackknife_components(df: pd.DataFrame, fom) -> dict:
    """Leave each case out and recompute every FOM from scratch (slow, obviously right)."""
    modalities, readers, cases = sorted(df.modality.unique()), sorted(df.reader.unique()), sorted(df.case.unique())
    theta = np.empty((len(modalities), len(readers), len(cases)))
    for k, case in enumerate(cases):
        part = df[df.case != case]
        for t, m in enumerate(modalities):
            for r, reader in enumerate(readers):
                rows = part[(part.modality == m) & (part.reader == reader)]
                theta[t, r, k] = fom(rows.truth.to_numpy(), rows.score.to_numpy())
    n = len(cases)
    flat = theta.reshape(-1, n)
    cov = np.cov(flat, ddof=0) * (n - 1)  # jackknife: (n-1)/n * sum of squared deviations
    cov = cov.reshape(len(modalities), len(readers), len(modalities), len(readers))
    T, R = len(modalities), len(readers)
    pick = lambda same_t, same_r: np.mean([cov[t, r, s, q] for t in range(T) for r in range(R)
                                           for s in range(T) for q in range(R)
                                           if (t == s) == same_t and (r == q) == same_r])
    return {"var_error": pick(True, True), "cov1": pick(False, True), "cov2": pick(True, False),
            "cov3": pick(False, False)}


def _empirical_auc(truth, score):
    x, y = score[truth == 1], score[truth == 0]
    return ((x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])).mean()


@pytest.mark.parametrize("fom", ["auc", "pc"])
def test_vectorised_jackknife_equals_leaving_each_case_out(fom):
    rng = np.random.default_rng(7)
    truth = np.r_[np.ones(7, int), np.zeros(9, int)]
    rows = []
    for m in ("A", "B", "C"):
        for reader in ("r1", "r2", "r3"):
            raw = rng.integers(1, 5, size=truth.size) + truth  # ties on purpose
            score = raw if fom == "auc" else (raw >= 3).astype(int)
            rows += [{"modality": m, "reader": reader, "case": c, "truth": t, "score": s}
                     for c, (t, s) in enumerate(zip(truth, score))]
    df = pd.DataFrame(rows)
    func = _empirical_auc if fom == "auc" else (lambda t, s: np.mean(t == s))
    expected = _naive_jackknife_components(df, func)
    got = or_analysis(df, fom=fom).components
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-10, abs=1e-15), key
    assert len(or_analysis(df, fom=fom).differences) == 3  # A-B, A-C, B-C


def test_percent_correct_foms_are_the_fraction_of_right_answers():
    df = pd.DataFrame({"reader": ["a"] * 4 + ["b"] * 4, "case": [1, 2, 3, 4] * 2, "modality": "x",
                       "truth": [1, 1, 0, 0] * 2, "score": [1, 0, 0, 0, 1, 1, 0, 1]})
    res = or_analysis(df, fom="pc")
    assert res.foms["fom"].tolist() == [0.75, 0.75]


def test_result_exports_as_json_and_as_a_table(vandyke_result):
    payload = json.loads(json.dumps(vandyke_result.to_dict(), allow_nan=False))
    assert payload["analyses"]["RRRC"]["ddf"] == pytest.approx(vandyke_result.ddf)
    assert payload["n_cases"] == 114 and payload["n_signal"] == 45
    frame = vandyke_result.to_frame()
    assert set(frame["analysis"]) == {"RRRC", "FRRC", "RRFC"}
    assert len(frame) == 3 * (1 + 2)  # one difference and two single modalities per analysis
    text = format_table(vandyke_result)
    for printed in ("0.91964573", "0.00153500", "0.00107626", "F(1, 15.26)", "(-0.08795950, 0.00035885)"):
        assert printed in text


def test_a_thousand_readers_and_cases_take_seconds():
    rng = np.random.default_rng(0)
    n_mod, n_read, n_case = 2, 1000, 1000
    truth = np.arange(n_case) % 2
    t, r, c = np.meshgrid(np.arange(n_mod), np.arange(n_read), np.arange(n_case), indexing="ij")
    df = pd.DataFrame({"modality": t.ravel(), "reader": r.ravel(), "case": c.ravel(),
                       "truth": truth[c.ravel()], "score": rng.normal(size=t.size) + truth[c.ravel()]})
    start = time.perf_counter()
    res = or_analysis(df)
    assert time.perf_counter() - start < 20
    assert 0.7 < res.modality_means["fom"].iloc[0] < 0.8  # AUC of N(1,1) vs N(0,1) is 0.760


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.drop(columns="score"), r"lacks column\(s\) \['score'\]"),
        (lambda d: d.iloc[0:0], "empty"),
        (lambda d: d[d.reader == 1], "at least 2 readers"),
        (lambda d: d.iloc[1:], "not fully crossed"),
        (lambda d: pd.concat([d, d.iloc[:1]]), "duplicate"),
        (lambda d: d.assign(truth=np.where((d.case == 1) & (d.reader == 2), 1, d.truth)), "both truth"),
        (lambda d: d.assign(truth=d.truth * 2), "truth must be 0"),
        (lambda d: d.assign(score=d.score.where(d.case != 3)), "missing value"),
        (lambda d: d.assign(score=d.score.astype(object).where(d.case != 3, "high")), "finite number"),
        (lambda d: d[(d.truth == 0) | (d.case == d[d.truth == 1].case.min())], "at least 2 signal"),
    ],
)
def test_bad_tables_are_refused_with_a_message(vandyke, change, message):
    with pytest.raises(ValueError, match=message):
        or_analysis(change(vandyke))


def test_bad_options_are_refused(vandyke):
    with pytest.raises(ValueError, match="binary scores"):
        or_analysis(vandyke, fom="pc")
    with pytest.raises(ValueError, match="fom='auc' only"):
        or_analysis(vandyke.assign(score=(vandyke.score >= 3).astype(int)), fom="pc", cov="delong")
    with pytest.raises(ValueError, match="fom must be one of"):
        or_analysis(vandyke, fom="sensitivity")


def test_perfect_readers_give_no_test_instead_of_nan():
    # Every reader separates the classes perfectly: all variances are 0, so no F, X2 or p exists.
    truth = [0, 0, 0, 1, 1, 1]
    rows = [{"reader": r, "case": c, "modality": m, "truth": t, "score": t}
            for r in "ab" for m in "xy" for c, t in enumerate(truth)]
    res = or_analysis(pd.DataFrame(rows))
    assert res.f is None and res.p_value is None and res.frrc.statistic is None
    assert "undefined" in res.rrrc.note
    assert res.single["ci_low"].tolist() == [1.0, 1.0]
    assert json.dumps(res.to_dict(), allow_nan=False)
