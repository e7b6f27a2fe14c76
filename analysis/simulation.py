"""Whole reader studies with known truth, for checking that the headline keeps its error rates.

A Roe-Metz style model on the probit scale: reader r has a response bias a_r ~ N(0, reader_sd^2)
and a skill d_r ~ N(skill, skill_sd^2); each source image has a "looks synthetic" effect b ~
N(0, image_sd^2) shared by every reader (and, with correlation `source_correlation`, by its
renditions at the other resolutions); each reading adds N(0, 1) noise. A single-image reader
says "synthetic" when a_r + b + (d_r / 2) s + e > 0, with s = +1 for a synthetic image and -1 for
a real one; confidence is |z| cut into five bins. A forced-choice reader picks the image that
looks most like the odd class; a rater gives 4 realism levels from the same z. With skill 0 every
figure of the headline is exactly at chance (both classes share the image-effect distribution),
whatever the reader and image variability.

`simulate_responses(scenario, trials, rng)` turns one study's schedule (who reads which images at
which resolution) into a tidy responses table; `true_values(scenario)` gives the population value
of every headline measure, for interval coverage.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm


@dataclass(frozen=True)
class Scenario:
    name: str
    design: str = "single"            # single | choice | rating
    alternatives: int = 2
    confidence: bool = False
    rating_ask_class: bool = False
    readers: int = 6
    trials_per_resolution: int = 50
    resolutions: tuple[int, ...] = (64, 128, 256)
    case_set: str = "shared"          # shared (split-plot) | crossed | random
    reader_sd: float = 0.5
    image_sd: float = 0.5
    skill: float = 0.0                # d' of the typical reader at every resolution
    skill_slope: float = 0.0          # added to d' per doubling of resolution
    skill_sd: float = 0.0
    source_correlation: float = 0.8
    extra: dict = field(default_factory=dict, compare=False)

    def skill_at(self, resolution: int) -> float:
        return self.skill + self.skill_slope * (math.log2(resolution) - math.log2(min(self.resolutions)))


@dataclass(frozen=True)
class SimTrial:
    reader: int
    resolution: int
    sources: tuple[str, ...]     # the images' sources, in display order
    classes: tuple[str, ...]
    odd_position: int | None = None


def _effects(scenario: Scenario, sources: list[str], rng) -> dict[tuple[str, int], float]:
    """Image effect per (source, resolution): shared across resolutions with the given correlation."""
    rho = scenario.source_correlation
    shared = rng.normal(0.0, 1.0, len(sources))
    out = {}
    for res in scenario.resolutions:
        own = rng.normal(0.0, 1.0, len(sources))
        values = scenario.image_sd * (math.sqrt(rho) * shared + math.sqrt(1 - rho) * own)
        out.update({(s, res): v for s, v in zip(sources, values)})
    return out


def simulate_responses(scenario: Scenario, trials: list[SimTrial], rng: np.random.Generator) -> pd.DataFrame:
    """A tidy responses table (main trials) for one simulated study."""
    sources = sorted({s for t in trials for s in t.sources})
    effect = _effects(scenario, sources, rng)
    n_readers = max(t.reader for t in trials) + 1
    bias = rng.normal(0.0, scenario.reader_sd, n_readers)
    skill_offset = rng.normal(0.0, scenario.skill_sd, n_readers)
    thresholds = np.sort(rng.normal(0.0, 0.3, (n_readers, 3)) + np.array([-1.0, 0.0, 1.0]), axis=1)
    rows = []
    for index, t in enumerate(trials):
        d = scenario.skill_at(t.resolution) + skill_offset[t.reader]
        if scenario.design == "choice":
            odd = t.odd_position
            # "looks like the odd class" for each image; the odd image gets the reader's skill
            sign = 1.0 if t.classes[odd] == "synthetic" else -1.0
            values = [sign * effect[(s, t.resolution)] + (d if j == odd else 0.0) + rng.normal()
                      for j, s in enumerate(t.sources)]
            chosen = int(np.argmax(values))
            rows.append({"reader": f"r{t.reader}", "trial": index, "case": f"{t.sources[odd]}@{t.resolution}",
                         "source": t.sources[odd], "truth": t.classes[odd], "answer": "empty",
                         "resolution": t.resolution, "design": "choice", "alternatives": len(t.sources),
                         "chosen_position": chosen, "correct": int(chosen == odd)})
            continue
        source, cls = t.sources[0], t.classes[0]
        s = 1.0 if cls == "synthetic" else -1.0
        z = bias[t.reader] + effect[(source, t.resolution)] + d / 2 * s + rng.normal()
        row = {"reader": f"r{t.reader}", "trial": index, "case": f"{source}@{t.resolution}", "source": source,
               "truth": cls, "resolution": t.resolution, "design": scenario.design}
        if scenario.design == "single":
            row["answer"] = "synthetic" if z > 0 else "real"
            if scenario.confidence:
                row["confidence"] = int(min(5, 1 + abs(z) // 0.5))
        else:  # rating: realism 1 (clearly synthetic) .. 4 (clearly real)
            row["rating"] = int(4 - np.searchsorted(thresholds[t.reader], z))
            row["answer"] = ("synthetic" if z > 0 else "real") if scenario.rating_ask_class else "empty"
        rows.append(row)
    return pd.DataFrame(rows)


@functools.lru_cache(maxsize=64)
def true_values(scenario: Scenario, *, draws: int = 400_000, seed: int = 12345) -> dict[tuple[str, int], float]:
    """Population value of each headline measure per resolution: {(measure key, resolution): value}.

    Keys: ``accuracy`` (percent correct / balanced accuracy, exact), ``auc`` (confidence or rating AUC,
    by Monte Carlo over readers and image pairs). Forced choice accuracy by Monte Carlo.
    """
    rng = np.random.default_rng(seed)
    out = {}
    total_sd = math.sqrt(1 + scenario.reader_sd**2 + scenario.image_sd**2 + scenario.skill_sd**2 / 4)
    for res in scenario.resolutions:
        d = scenario.skill_at(res)
        if scenario.design == "choice":
            m = scenario.alternatives
            dr = d + rng.normal(0, scenario.skill_sd, draws)
            values = rng.normal(0, 1, (draws, m)) * math.sqrt(1 + scenario.image_sd**2)
            values[:, 0] += dr
            out[("accuracy", res)] = float((values.argmax(axis=1) == 0).mean())
            continue
        out[("accuracy", res)] = float(norm.cdf(d / 2 / total_sd))
        # AUC of one reader: P(score(synthetic) > score(real)) + ties / 2, averaged over readers.
        a = rng.normal(0, scenario.reader_sd, draws)
        dr = d + rng.normal(0, scenario.skill_sd, draws)
        z1 = a + rng.normal(0, scenario.image_sd, draws) + dr / 2 + rng.normal(size=draws)
        z0 = a + rng.normal(0, scenario.image_sd, draws) - dr / 2 + rng.normal(size=draws)
        if scenario.design == "single" and scenario.confidence:
            s1 = np.sign(z1) * np.minimum(5, 1 + np.abs(z1) // 0.5)
            s0 = np.sign(z0) * np.minimum(5, 1 + np.abs(z0) // 0.5)
            out[("auc", res)] = float(((s1 > s0) + 0.5 * (s1 == s0)).mean())
        elif scenario.design == "rating":
            cuts = np.sort(rng.normal(0.0, 0.3, (draws, 3)) + np.array([-1.0, 0.0, 1.0]), axis=1)
            r1 = 4 - (z1[:, None] > cuts).sum(axis=1)
            r0 = 4 - (z0[:, None] > cuts).sum(axis=1)
            out[("auc", res)] = float(((r0 > r1) + 0.5 * (r0 == r1)).mean())  # real rated above synthetic
    return out


def measure_key(measure: str) -> str:
    return "auc" if measure.startswith("AUC") else "accuracy"
