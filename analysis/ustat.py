"""MRMC variance by U-statistics, for any reader x case design (Gallas 2006; Gallas & Brown 2008).

A figure of merit (FOM) averaged over readers is a U-statistic: each reader's FOM is the mean of a
kernel over the cases (or pairs of cases) that reader read, and the study's FOM is the mean over
readers. Its variance, with readers *and* cases random, is a sum over pairs of kernel evaluations

    Var = sum over pairs (a, b) of w_a w_b (E[h_a h_b] - E[h_a] E[h_b]),

where E[h_a h_b] depends only on what the two evaluations share: the reader, the first case, the
second case, or any combination. Each such "moment" is estimated without bias by the average of
h_a h_b over all observed pairs of that kind, so the variance estimate is unbiased for every design:
fully crossed, split-plot (reader groups reading their own cases), or random subsets. In a fully
crossed design it equals the Obuchowski-Rockette single-test variance with the unbiased covariance
estimator (MRMCaov ``cov = unbiased``; iMRMC's "U-statistic" output); `tests/analysis/test_ustat.py`
checks it against both on the Van Dyke data.

Kernels:

- ``auc``: h(r, c0, c1) = 1 if reader r scored the signal case c1 above the noise case c0, 1/2 on a
  tie (the empirical AUC, Wilcoxon-Mann-Whitney).
- ``balanced``: h(r, c0, c1) = (correct(r, c0) + correct(r, c1)) / 2: per reader the mean of the
  two class accuracies (balanced accuracy), equal to percent correct when the classes are balanced.
- ``pc``: h(r, c) = correct(r, c) (percent correct, e.g. forced choice).

Pairs are grouped by the subset T of indices {reader, case axes} they share; the sums over pairs
sharing *at least* T are products of marginal sums, and the sums over pairs sharing *exactly* T
follow by inclusion-exclusion (Moebius inversion). The covariance between two modalities (here:
resolutions) uses the same pairs across the two, so linear contrasts (differences, a trend over
resolution) get a reader- and case-random variance as well.

Degrees of freedom follow Hillis (2007): the variance's only part estimated with few degrees of
freedom is the spread of the readers' own FOMs, s^2 / R with R - 1 df, so
``df = V^2 / ((s^2 / R)^2 / (R - 1))`` with V not below s^2 / R (as OR's max(Cov2, 0)). In a
crossed design this is the Hillis df that OR-DBM MRMC, MRMCaov and iMRMC print. In a split-plot
(G reader groups, each reading its own images) the readers of different groups also differ by their
image sets, which is the images' share of the variance; s^2 is then the spread within groups, with
R - G degrees of freedom.

References
----------
Gallas BD (2006). One-shot estimate of MRMC variance: AUC. Acad Radiol 13:353-362.
Gallas BD, Brown DG (2008). Reader studies for validation of CAD systems. Neural Netw 21:387-397.
Gallas BD, Bandos A, Samuelson FW, Wagner RF (2009). A framework for random-effects ROC analysis:
biases with the bootstrap and other variance estimators. Commun Stat Theory Methods 38:2586-2603.
Hillis SL (2007). A comparison of denominator degrees of freedom methods for multiple observer ROC
analysis. Stat Med 26:596-619.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from analysis.mrmc.inputs import _sorted_labels as _labels

KERNELS = {"auc": "empirical AUC", "balanced": "balanced accuracy", "pc": "percent correct"}


@dataclass
class _Block:
    """One reader's kernel values at one modality, over that reader's own cases (global case ids)."""

    index: tuple[np.ndarray, ...]  # per case axis, the global ids of the rows/columns of `values`
    values: np.ndarray

    def marginal(self, keep: tuple[int, ...], array: np.ndarray | None = None) -> np.ndarray:
        data = self.values if array is None else array
        drop = tuple(axis for axis in range(data.ndim) if axis not in keep)
        return data.sum(axis=drop) if drop else data


@dataclass
class UStatMRMC:
    """Reader-averaged FOMs per modality and their reader- and case-random covariance."""

    kernel: str
    modalities: list
    readers: list
    estimates: np.ndarray          # (M,)
    covariance: np.ndarray         # (M, M), readers and cases random
    reader_foms: pd.DataFrame      # reader, modality, fom, n_cases
    n_readers: np.ndarray          # (M,) readers with a FOM at that modality
    n_cases: np.ndarray            # (M,) distinct cases read at that modality
    reader_matrix: np.ndarray      # (R, M) each reader's FOM, NaN where the reader has none
    case_sets: dict = field(default_factory=dict)  # (reader, modality) -> hashable id of the cases read
    fixed_reader_variance: np.ndarray | None = None  # (M,) only with one reader: cases random
    moments: dict = field(default_factory=dict)

    def contrast(self, weights, *, alpha: float = 0.05, null: float = 0.0) -> dict:
        """A linear combination of the modality FOMs with a t test of `null` and a (1 - alpha) interval.

        The df is Hillis's (see the module docstring), from the readers who have a FOM at every
        modality with a non-zero weight.
        """
        a = np.asarray(weights, dtype=float)
        estimate = float(a @ self.estimates)
        variance = float(a @ self.covariance @ a)
        used = np.flatnonzero(a != 0)
        complete = ~np.isnan(self.reader_matrix[:, used]).any(axis=1)
        values = self.reader_matrix[complete][:, used] @ a[used]
        r = len(values)
        spread, df_readers = None, r - 1
        if r >= 2:
            spread = float(np.var(values, ddof=1) / r)
            # Readers who read the same images (a reader group of a split-plot) differ only by reader effects;
            # between groups, image sets differ too, and those differences are the images' part of the
            # variance. Within-group spread, with R - G df, is then the part with few degrees of freedom.
            keys = [tuple(self.case_sets.get((i, int(m))) for m in used) for i in np.flatnonzero(complete)]
            codes: dict = {}
            groups = np.array([codes.setdefault(key, len(codes)) for key in keys])
            n_groups = len(codes)
            if 1 < n_groups < r:
                sums = np.bincount(groups, weights=values, minlength=n_groups)
                counts = np.bincount(groups, minlength=n_groups)
                centred = values - (sums / counts)[groups]
                spread = float((centred**2).sum() / (r - n_groups) / r)
                df_readers = r - n_groups
        return interval(estimate, variance, spread, df_readers + 1, alpha=alpha, null=null)


def interval(estimate: float, variance: float, spread: float | None, n_readers: int, *,
             alpha: float = 0.05, null: float = 0.0) -> dict:
    """Estimate, SE, Hillis df, t statistic and two-sided p-value against `null`, and the interval.

    `spread` is s^2 / R of the readers' own values; the variance is not taken below it.
    """
    out = {"estimate": estimate, "se": None, "df": None, "statistic": None, "p_value": None,
           "ci_low": None, "ci_high": None, "variance": variance}
    if spread is None or n_readers < 2 or not math.isfinite(variance):
        return out
    variance = max(variance, spread)
    out["variance"] = variance
    if variance <= 0:
        return out
    se = math.sqrt(variance)
    df = math.inf if spread == 0 else variance**2 / (spread**2 / (n_readers - 1))
    t = (estimate - null) / se
    if math.isinf(df):
        q, p = float(special.ndtri(1 - alpha / 2)), float(2 * special.ndtr(-abs(t)))
    else:  # scipy.special directly: the frozen distributions cost a millisecond per call
        q, p = float(special.stdtrit(df, 1 - alpha / 2)), float(2 * special.stdtr(df, -abs(t)))
    out.update(se=se, df=df, statistic=t, p_value=p, ci_low=estimate - q * se, ci_high=estimate + q * se)
    return out


# --------------------------------------------------------------------------- input


def _blocks(df: pd.DataFrame, kernel: str):
    """Per (reader, modality) kernel blocks over global case ids."""
    needed = ["reader", "case", "modality", "truth", "score" if kernel == "auc" else "correct"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"the table lacks column(s) {missing}; the {KERNELS[kernel]} needs {needed}.")
    if df.empty:
        raise ValueError("there are no responses to analyse.")
    value = needed[-1]
    data = df[needed].copy()
    if data[value].isna().any():
        raise ValueError(f"column {value!r} has missing values; drop those rows first.")
    if data.duplicated(["reader", "case", "modality"]).any():
        raise ValueError("a reader has two answers for one case at one modality; keep one (drop repeat trials).")
    truth = data["truth"].astype(int).to_numpy()
    if not np.isin(truth, (0, 1)).all():
        raise ValueError("truth must be 0 or 1.")
    cases = _labels(data["case"])
    case_id = pd.Index(cases).get_indexer(data["case"])
    if pd.Series(truth).groupby(case_id).nunique().gt(1).any():
        raise ValueError("a case has both truths in different rows.")
    modalities = _labels(data["modality"])
    readers = _labels(data["reader"])
    m_codes = pd.Index(modalities).get_indexer(data["modality"])
    r_codes = pd.Index(readers).get_indexer(data["reader"])
    values_all = data[value].astype(float).to_numpy()
    order = np.lexsort((case_id, m_codes, r_codes))
    keys = r_codes[order] * len(modalities) + m_codes[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(order)]
    blocks: dict[tuple[int, int], _Block] = {}
    foms = []
    for start, end in zip(starts, ends):
        rows = order[start:end]
        r, m = int(r_codes[rows[0]]), int(m_codes[rows[0]])
        cases_here, truth_here, x = case_id[rows], truth[rows], values_all[rows]
        if kernel == "pc":
            index = (cases_here,)
            block_values = x.astype(float)
        else:
            noise, signal = truth_here == 0, truth_here == 1
            if not noise.any() or not signal.any():
                continue  # no pair of cases: this reader has no FOM at this modality
            index = (cases_here[noise], cases_here[signal])
            x0, x1 = x[noise][:, None], x[signal][None, :]
            if kernel == "auc":
                block_values = ((x1 > x0) + 0.5 * (x1 == x0)).astype(float)
            else:
                block_values = (x0 + x1) / 2
        blocks[(r, m)] = _Block(index, block_values)
        foms.append((readers[r], modalities[m], float(block_values.mean()), end - start))
    if not blocks:
        raise ValueError(f"no reader has both classes at any modality; the {KERNELS[kernel]} needs both.")
    # Modalities where no reader has a FOM are left out (the caller says why).
    used = sorted({m for _, m in blocks})
    if len(used) < len(modalities):
        renumber = {m: i for i, m in enumerate(used)}
        blocks = {(r, renumber[m]): block for (r, m), block in blocks.items()}
        modalities = [modalities[m] for m in used]
    return blocks, modalities, readers, pd.DataFrame(foms, columns=["reader", "modality", "fom", "n_cases"])


# --------------------------------------------------------------------------- aligned sums


def _aligned_dot(index_a, a: np.ndarray, index_b, b: np.ndarray) -> float:
    """Sum over common global ids of a * b (arrays over their own id lists, one list per axis)."""
    if a.ndim == 0:
        return float(a) * float(b)
    picks_a, picks_b = [], []
    for ia, ib in zip(index_a, index_b):
        if ia is ib or (ia.shape == ib.shape and np.array_equal(ia, ib)):
            picks_a.append(slice(None))
            picks_b.append(slice(None))
            continue
        _, pa, pb = np.intersect1d(ia, ib, assume_unique=True, return_indices=True)
        if pa.size == 0:
            return 0.0
        picks_a.append(pa)
        picks_b.append(pb)
    if all(isinstance(p, slice) for p in picks_a + picks_b):
        return float((a * b).sum())
    picks_a = [np.arange(a.shape[i]) if isinstance(p, slice) else p for i, p in enumerate(picks_a)]
    picks_b = [np.arange(b.shape[i]) if isinstance(p, slice) else p for i, p in enumerate(picks_b)]
    return float((a[np.ix_(*picks_a)] * b[np.ix_(*picks_b)]).sum())


def _as_index(pick, size: int) -> np.ndarray:
    return np.arange(size) if isinstance(pick, slice) else pick


def ustat_mrmc(df: pd.DataFrame, *, kernel: str = "auc") -> UStatMRMC:
    """Reader-averaged FOM per modality with its reader- and case-random covariance, for any design.

    Parameters
    ----------
    df : DataFrame
        One row per reader x case x modality: ``reader, case, modality, truth`` (0/1, 1 = signal)
        and ``score`` (kernel ``auc``: higher = more likely signal) or ``correct`` (0/1; kernels
        ``balanced`` and ``pc``). Readers need not read the same cases. A case id must mean the same
        case (the same source image) wherever it appears.
    kernel : {"auc", "balanced", "pc"}

    Returns
    -------
    UStatMRMC
        ``estimates`` (mean over readers of each reader's FOM), ``covariance`` (modality x modality),
        per-reader FOMs, counts; ``contrast(weights)`` tests any linear combination.

    Example
    -------
    >>> rows = [{"reader": r, "case": c, "modality": "m", "truth": c % 2, "correct": int((r + c) % 3 > 0)}
    ...         for r in range(4) for c in range(8)]
    >>> res = ustat_mrmc(pd.DataFrame(rows), kernel="pc")
    >>> round(float(res.estimates[0]), 4)
    0.6562
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {sorted(KERNELS)}; got {kernel!r}.")
    blocks, modalities, readers, foms = _blocks(df, kernel)
    n_mod = len(modalities)
    axes = 1 if kernel == "pc" else 2
    n_readers = np.zeros(n_mod, dtype=int)
    for _, m in blocks:
        n_readers[m] += 1
    weight = {key: 1.0 / (n_readers[key[1]] * block.values.size) for key, block in blocks.items()}

    subsets = [s for k in range(axes + 1) for s in itertools.combinations(range(axes), k)]
    kinds = ("hh", "dd", "ww")
    # F[kind][(with_reader, subset)] is an (M, M) array of sums over pairs sharing at least that.
    F = {kind: {(wr, s): np.zeros((n_mod, n_mod)) for wr in (True, False) for s in subsets} for kind in kinds}

    def arrays(key, block):
        ones = np.ones_like(block.values)
        return {"h": block.values, "d": ones, "w": ones * weight[key]}

    by_reader: dict[int, list[int]] = {}
    for r, m in blocks:
        by_reader.setdefault(r, []).append(m)
    # Global per-modality accumulators (sum over readers) for the pairs that do not share the reader.
    ids = {m: [np.unique(np.concatenate([blocks[k].index[a] for k in blocks if k[1] == m])) for a in range(axes)]
           for m in range(n_mod)}
    total = {m: {x: np.zeros([len(i) for i in ids[m]]) for x in "hdw"} for m in range(n_mod)}
    for r, mods in by_reader.items():
        marg = {}
        for m in mods:
            block = blocks[(r, m)]
            arr = arrays((r, m), block)
            positions = [np.searchsorted(ids[m][a], block.index[a]) for a in range(axes)]
            for x in "hdw":
                total[m][x][np.ix_(*positions)] += arr[x]
            for s in subsets:
                marg[(m, s)] = block.marginal(s)
        # A reader's block is full (every pair of the reader's cases is evaluated) and equally weighted,
        # so the count and weight sums are products of the shared and the other axes' sizes.
        # Most readers never see one case at two modalities: then only the reader is shared across them.
        seen = np.concatenate([np.unique(np.concatenate(blocks[(r, m)].index)) for m in mods])
        shares_cases = len(mods) > 1 and np.unique(seen).size < seen.size
        for m, n in itertools.product(mods, mods):
            bm, bn = blocks[(r, m)], blocks[(r, n)]
            common = []
            for a in range(axes):
                ia, ib = bm.index[a], bn.index[a]
                if m == n:
                    common.append((slice(None), slice(None), ia.size))
                elif not shares_cases:
                    common.append((None, None, 0))
                else:
                    _, pa, pb = np.intersect1d(ia, ib, assume_unique=True, return_indices=True)
                    common.append((pa, pb, pa.size))
            for s in subsets:
                if any(common[a][2] == 0 for a in s):
                    continue
                a_sel = marg[(m, s)]
                b_sel = marg[(n, s)]
                if s:
                    a_sel = a_sel[np.ix_(*[_as_index(common[a][0], a_sel.shape[i]) for i, a in enumerate(s)])]
                    b_sel = b_sel[np.ix_(*[_as_index(common[a][1], b_sel.shape[i]) for i, a in enumerate(s)])]
                shared = math.prod(common[a][2] for a in s)
                rest_m = math.prod(bm.values.shape[a] for a in range(axes) if a not in s)
                rest_n = math.prod(bn.values.shape[a] for a in range(axes) if a not in s)
                count = shared * rest_m * rest_n
                F["hh"][(True, s)][m, n] += float((a_sel * b_sel).sum())
                F["dd"][(True, s)][m, n] += count
                F["ww"][(True, s)][m, n] += count * weight[(r, m)] * weight[(r, n)]
    for m, n in itertools.product(range(n_mod), range(n_mod)):
        for s in subsets:
            im = tuple(ids[m][a] for a in s)
            jn = tuple(ids[n][a] for a in s)
            for kind in kinds:
                x, y = kind[0], kind[1]
                a = _Block(tuple(ids[m]), total[m][x]).marginal(s)
                b = _Block(tuple(ids[n]), total[n][y]).marginal(s)
                F[kind][(False, s)][m, n] = _aligned_dot(im, a, jn, b)

    # Exactly-shared sums by inclusion-exclusion over the supersets.
    def exact(kind, wr, s):
        out = np.zeros((n_mod, n_mod))
        for wr2 in ((True,) if wr else (False, True)):
            for s2 in subsets:
                if set(s) <= set(s2):
                    sign = (-1) ** ((len(s2) - len(s)) + (wr2 and not wr))
                    out += sign * F[kind][(wr2, s2)]
        return out

    G = {kind: {(wr, s): exact(kind, wr, s) for wr in (True, False) for s in subsets} for kind in kinds}
    with np.errstate(divide="ignore", invalid="ignore"):
        moment = {key: np.where(G["dd"][key] > 0, G["hh"][key] / G["dd"][key], 0.0) for key in G["hh"]}
    base = moment[(False, ())]
    covariance = np.zeros((n_mod, n_mod))
    for key in G["ww"]:
        if key == (False, ()):
            continue
        covariance += G["ww"][key] * np.where(G["dd"][key] > 0, moment[key] - base, 0.0)

    estimates = np.array([sum(weight[k] * blocks[k].values.sum() for k in blocks if k[1] == m)
                          for m in range(n_mod)])
    matrix = np.full((len(readers), n_mod), np.nan)
    for (r, m), block in blocks.items():
        matrix[r, m] = block.values.mean()
    fixed = None
    if len(readers) == 1:
        ref = moment[(True, ())]
        fixed = np.diag(sum(G["ww"][(True, s)] * np.where(G["dd"][(True, s)] > 0, moment[(True, s)] - ref, 0.0)
                            for s in subsets if s))
    return UStatMRMC(
        kernel=kernel, modalities=modalities, readers=readers, estimates=estimates, covariance=covariance,
        reader_foms=foms, n_readers=n_readers, reader_matrix=matrix,
        case_sets={key: np.sort(np.concatenate(block.index)).tobytes() for key, block in blocks.items()},
        n_cases=np.array([len(np.unique(np.concatenate(ids[m]))) for m in range(n_mod)]),
        fixed_reader_variance=fixed,
        moments={f"{'reader' if wr else ''}{''.join('+c' + str(a) for a in s)}" or "none": moment[(wr, s)]
                 for wr, s in moment},
    )
