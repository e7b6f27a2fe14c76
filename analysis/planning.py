"""Planning a study: readers and images per resolution for a headline test that is powered.

The headline (`analysis.headline`) tests the reader-averaged accuracy at one resolution against
chance with readers and images random. Its variance, for R readers and C images per resolution of
which each reader reads n = C / G (G reader groups of a split-plot; G = 1 when every reader reads
every image), is

    V = var_reader / R + var_image / C + var_residual / (R n)

with the variance components of a reading's correctness: between readers (some readers are better),
between images (some images fool everyone) and what is left (reader x image and noise); they sum to
p (1 - p). The test is a t test with Hillis degrees of freedom: the readers' part of V,
(var_reader + var_residual / n) / R, has R - G degrees of freedom (R - 1 when each group is one
reader). Power is that of the noncentral t. This is the Obuchowski-Rockette sample-size method
(Hillis, Obuchowski & Berbaum 2011, Acad Radiol 18:129) on the accuracy scale, checked against
simulated studies analysed by the headline itself in tests/analysis/test_planning.py.

The components come from a pilot (`components_from_responses`: the study's own interim answers,
U-statistic moments) or from a model (`components_from_model`: the probit reader and image model of
`analysis.simulation`, readers' bias and images' "looks synthetic" effect with standard deviations
on the probit scale). The defaults, 0.5 and 0.5, spread readers' accuracy by about +/-0.05 and
images' chance of being judged correctly over roughly 0.3 to 0.9: a moderate spread, not a
published estimate; use the study's own pilot figures as soon as there are answers.

A design with fewer than 3 readers is never called powered: with 2 readers a reader-random test
has 1 degree of freedom at most.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import brentq

from analysis.tidy import AnalysisInputError

MIN_READERS = 3
DEFAULT_READER_SD = 0.5
DEFAULT_IMAGE_SD = 0.5


@dataclass(frozen=True)
class Components:
    """Variance components of one reading's correctness (0/1) at the planned accuracy."""

    accuracy: float
    reader: float
    image: float
    residual: float
    source: str = "model"

    def as_dict(self) -> dict:
        return asdict(self)


def _check(accuracy: float, chance: float, alpha: float) -> None:
    if not 0 < chance < 1 or not 0 < accuracy < 1:
        raise AnalysisInputError(f"accuracies must lie strictly between 0 and 1 (got {accuracy} and chance {chance}).")
    if not 0 < alpha < 1:
        raise AnalysisInputError(f"alpha must lie strictly between 0 and 1, got {alpha}.")


@functools.lru_cache(maxsize=256)
def components_from_model(accuracy: float, *, alternatives: int = 2, reader_sd: float = DEFAULT_READER_SD,
                          image_sd: float = DEFAULT_IMAGE_SD, design: str = "single") -> Components:
    """Components under the probit reader and image model of `analysis.simulation` at `accuracy`.

    Single image: a reader with bias a answers image b of class s correctly with probability
    Phi(s (a + b) + d / 2) (d the readers' skill, solved so the mean accuracy is `accuracy`). Forced
    choice among m: the odd image is found when its "looks odd" value (skill d plus its image effect)
    beats the other m - 1; computed on a fixed grid of draws.
    """
    chance = 1.0 / alternatives if design == "choice" else 0.5
    if not chance < accuracy < 1:
        raise AnalysisInputError(f"the expected accuracy must lie between chance ({chance:.3g}) and 1, got {accuracy}.")
    rng = np.random.default_rng(20261201)
    a = rng.normal(0, reader_sd, 400)
    b = rng.normal(0, image_sd, 400)
    if design == "choice":
        foils = rng.normal(0, math.sqrt(1 + image_sd**2), (400, 400, alternatives - 1)).max(axis=-1)
        noise = rng.normal(0, 1, (400, 400))

        def correct(d):  # (image, draw): probability over draws that the odd image wins
            return (d + b[:, None] + noise > foils).astype(float)

        d = brentq(lambda d: correct(d).mean() - accuracy, -5, 20, xtol=1e-6)
        p = correct(d)  # (image, replicate draw); readers do not differ in bias under forced choice
        image_means = p.mean(axis=1)
        var_image = float(image_means.var())
        var_reader = 0.0
    else:
        s = np.array([1.0, -1.0])

        def probability(d):  # (reader, image, class)
            return stats.norm.cdf(s[None, None, :] * (a[:, None, None] + b[None, :, None]) + d / 2)

        d = brentq(lambda d: probability(d).mean() - accuracy, -10, 40, xtol=1e-8)
        p = probability(d)
        var_reader = float(p.mean(axis=(1, 2)).var())
        var_image = float(p.mean(axis=0).var())  # over images of both classes
    total = accuracy * (1 - accuracy)
    return Components(accuracy, var_reader, var_image, max(total - var_reader - var_image, 0.0), "model")


def components_from_responses(df: pd.DataFrame, *, resolution: int | None = None) -> Components:
    """Pilot components from a study's own answers (validated main trials of one design).

    U-statistic moments of correctness (`analysis.ustat`): same reader on different images minus
    different readers on different images estimates the reader component; different readers on the
    same image, the image component.
    """
    from analysis.headline import _case_ids
    from analysis.ustat import ustat_mrmc

    data = df if resolution is None else df[df["resolution"] == resolution]
    data = data[data["correct"].notna()]
    if data["reader"].nunique() < 2:
        raise AnalysisInputError("pilot variance components need answers from two or more readers.")
    table = pd.DataFrame({"reader": data["reader"].astype(str), "case": _case_ids(data), "modality": 0,
                          "truth": 0, "correct": data["correct"].to_numpy(float)})
    result = ustat_mrmc(table, kernel="pc")
    moments = {key: float(value[0, 0]) for key, value in result.moments.items()}
    base = moments["none"]
    accuracy = float(result.estimates[0])
    reader = max(moments["reader"] - base, 0.0)
    image = max(moments.get("+c0", base) - base, 0.0)
    total = accuracy * (1 - accuracy)
    return Components(accuracy, reader, image, max(total - reader - image, 0.0), "pilot")


def headline_power(components: Components, *, readers: int, images: int, chance: float = 0.5,
                   groups: int = 1, alpha: float = 0.05) -> dict:
    """Power of the headline test at one resolution, with its SE and degrees of freedom.

    `images` is the number of images at that resolution (both classes); each reader reads
    images / groups of them (split-plot with `groups` reader groups; 1 = fully crossed).
    """
    _check(components.accuracy, chance, alpha)
    if readers < 1 or images < 2 or groups < 1 or groups > readers:
        raise AnalysisInputError("give at least 1 reader, 2 images, and no more reader groups than readers.")
    per_reader = images / groups
    reader_part = (components.reader + components.residual / per_reader) / readers
    variance = reader_part + components.image / images
    if readers == groups:  # each group one reader: the readers' spread includes their image sets
        reader_part, df = variance, readers - 1
    else:
        df = readers - groups
    out = {"readers": readers, "images": images, "groups": groups, "images_per_reader": per_reader,
           "se": math.sqrt(variance), "df": None, "power": 0.0, "reason": ""}
    if readers < MIN_READERS:
        out["reason"] = f"a reader-random test needs at least {MIN_READERS} readers"
        return out
    df = variance**2 / (reader_part**2 / df)
    delta = (components.accuracy - chance) / math.sqrt(variance)
    critical = stats.t.ppf(1 - alpha / 2, df)
    power = float(stats.nct.sf(critical, df, delta) + stats.nct.cdf(-critical, df, delta))
    if not math.isfinite(power):  # scipy's noncentral t fails far in the tail; the normal limit is exact there
        power = float(stats.norm.sf(critical - delta) + stats.norm.cdf(-critical - delta))
    out.update(df=df, power=power)
    return out


def design_table(components: Components, *, chance: float = 0.5, groups: int = 1, power: float = 0.8,
                 alpha: float = 0.05, images=(20, 40, 60, 100, 200, 400), max_readers: int = 200) -> pd.DataFrame:
    """Readers needed per resolution for each number of images per resolution, with the power reached.

    ``readers`` is the smallest count (a multiple of `groups`, at least 3) whose power reaches `power`;
    None when even `max_readers` do not (more images per reader help little once the image
    component dominates: then only more images at that resolution do).
    """
    if not 0 < power < 1:
        raise AnalysisInputError(f"power must lie strictly between 0 and 1, got {power}.")
    rows = []
    for c in images:
        found = None
        start = max(MIN_READERS, groups)
        start += (-start) % groups
        for r in range(start, max_readers + 1, groups):
            result = headline_power(components, readers=r, images=int(c), chance=chance, groups=groups, alpha=alpha)
            if result["power"] >= power:
                found = result
                break
        rows.append({"images": int(c), "images_per_reader": int(c) / groups,
                     "readers": None if found is None else found["readers"],
                     "power": None if found is None else found["power"]})
    table = pd.DataFrame(rows)
    table.attrs.update({"accuracy": components.accuracy, "chance": chance, "power": power, "alpha": alpha,
                        "groups": groups, "components": components.as_dict()})
    return table
