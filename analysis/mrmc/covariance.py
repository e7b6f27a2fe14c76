"""FOMs and their error covariances: jackknife or DeLong contributions, ANOVA, OR components."""

from __future__ import annotations

import math

import numpy as np

from analysis.roc import placement_values


def _fom_and_contributions(scores: np.ndarray, truth: np.ndarray, fom: str, cov: str):
    """FOMs (T, R) and per-case contributions z (T, R, K'): cov(a, b) = z_a . z_b."""
    n_cases = truth.size
    if fom == "pc":
        correct = (scores == truth.astype(float)).astype(float)
        theta = correct.mean(axis=-1)
        leave_one_out = (n_cases * theta[..., None] - correct) / (n_cases - 1)
    else:
        v10, v01 = placement_values(scores[..., truth], scores[..., ~truth])
        n1, n0 = v10.shape[-1], v01.shape[-1]
        theta = v10.mean(axis=-1)
        if cov == "delong":
            z = np.concatenate(
                [
                    (v10 - theta[..., None]) / math.sqrt(n1 * (n1 - 1)),
                    (v01 - theta[..., None]) / math.sqrt(n0 * (n0 - 1)),
                ],
                axis=-1,
            )
            return theta, z
        leave_one_out = np.concatenate(
            [
                (n1 * theta[..., None] - v10) / (n1 - 1),
                (n0 * theta[..., None] - v01) / (n0 - 1),
            ],
            axis=-1,
        )
    centred = leave_one_out - leave_one_out.mean(axis=-1, keepdims=True)
    return theta, centred * math.sqrt((n_cases - 1) / n_cases)


def _anova(theta: np.ndarray) -> dict:
    n_mod, n_read = theta.shape
    grand = theta.mean()
    mod_means = theta.mean(axis=1)
    reader_means = theta.mean(axis=0)
    ss_t = n_read * ((mod_means - grand) ** 2).sum()
    ss_r = n_mod * ((reader_means - grand) ** 2).sum()
    resid = theta - mod_means[:, None] - reader_means[None, :] + grand
    ss_tr = (resid**2).sum()
    df_tr = (n_mod - 1) * (n_read - 1)
    return {
        "ss_t": ss_t,
        "ss_r": ss_r,
        "ss_tr": ss_tr,
        "ms_t": ss_t / (n_mod - 1) if n_mod > 1 else None,
        "ms_r": ss_r / (n_read - 1),
        "ms_tr": ss_tr / df_tr if df_tr else None,
        "ms_r_t": ((theta - mod_means[:, None]) ** 2).sum(axis=1) / (n_read - 1),
    }


def _components(z: np.ndarray, ms: dict) -> dict:
    """OR error covariances averaged as in Hillis et al. (2005), and the variance components."""
    n_mod, n_read, _ = z.shape
    var = np.einsum("trk,trk->tr", z, z)
    same_reader = np.einsum("trk,srk->tsr", z, z)  # cov(t r, s r)
    totals = z.sum(axis=1)
    all_pairs = totals @ totals.T  # sum over r, r' of cov(t r, s r')
    pairs = n_read * (n_read - 1)
    cov2_t = (np.diag(all_pairs) - var.sum(axis=1)) / pairs
    out = {
        "var_error": float(var.mean()),
        "var_error_t": var.mean(axis=1),
        "var_error_r": var.mean(axis=0),
        "cov2_t": cov2_t,
        "cov2": float(cov2_t.mean()),
        "cov1": None,
        "cov3": None,
        "cov1_pairs": same_reader,
        "cov1_r": np.full(n_read, None, dtype=object),
        "var_r": None,
        "var_tr": None,
    }
    if n_mod > 1:
        off = ~np.eye(n_mod, dtype=bool)
        cov3_pairs = (all_pairs - same_reader.sum(axis=2)) / pairs
        out["cov1"] = float(same_reader[off].mean())
        out["cov1_r"] = same_reader[off].mean(axis=0)
        out["cov3"] = float(cov3_pairs[off].mean())
        c1, c2, c3, ve = out["cov1"], out["cov2"], out["cov3"], out["var_error"]
        out["var_tr"] = float(ms["ms_tr"] - ve + c1 + c2 - c3)
        out["var_r"] = float(
            ms["ms_r"] - out["var_tr"] - ve - (n_mod - 1) * c1 + c2 + (n_mod - 1) * c3
        ) / n_mod
    for k in (1, 2, 3):
        value = out[f"cov{k}"]
        out[f"corr{k}"] = None if value is None or out["var_error"] == 0 else value / out["var_error"]
    return out
