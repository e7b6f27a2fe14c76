"""Planning: readers and images per resolution for the headline test, checked by simulating the design."""

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from analysis.planning import (Components, components_from_model, components_from_responses, design_table,
                               headline_power)
from analysis.simulation import Scenario, SimTrial, simulate_responses
from analysis.tidy import AnalysisInputError, validate

BENCH = Path(__file__).resolve().parents[2] / "bench" / "validity.py"


def _validity():
    spec = importlib.util.spec_from_file_location("mirage_bench_validity_planning", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_planned_power_matches_simulated_studies_of_that_design():
    # 6 readers in 3 reader groups (a shared case set over 3 resolutions), 40 images per reader per
    # resolution, typical accuracy 0.6: the planner's power is what the headline achieves in simulation.
    validity = _validity()
    skill = norm.ppf(0.6) * 2 * np.sqrt(1 + 0.5**2 + 0.5**2)
    scenario = replace(validity.SCENARIOS[1], skill=skill, skill_slope=0.0)
    batch = validity.run_batch((scenario, False, 0, 60))
    rejected = [r for figure, r, _ in batch if "trend" not in figure and not figure.startswith("per-reading")]
    simulated = float(np.mean(rejected))
    planned = headline_power(components_from_model(0.6), readers=6, images=120, groups=3)["power"]
    assert abs(planned - simulated) < 3.29 * np.sqrt(planned * (1 - planned) / len(rejected)) + 0.03


def test_fewer_than_three_readers_are_never_powered():
    huge = Components(0.9, 0.0, 0.0, 0.09)
    result = headline_power(huge, readers=2, images=400)
    assert result["power"] == 0 and "at least 3 readers" in result["reason"]
    assert design_table(huge, images=[400])["readers"].tolist() == [3]


def test_power_grows_with_readers_and_images_and_image_variance_costs_power():
    c = components_from_model(0.6)
    by_readers = [headline_power(c, readers=r, images=120, groups=3)["power"] for r in (3, 6, 9, 12)]
    assert by_readers == sorted(by_readers) and by_readers[-1] > 0.9
    by_images = [headline_power(c, readers=6, images=n, groups=3)["power"] for n in (30, 60, 120, 240)]
    assert by_images == sorted(by_images)
    # the same readings with more of their variance shared by all readers of an image: a wider interval
    shared = Components(0.6, c.reader, c.image + 0.02, c.residual - 0.02)
    assert headline_power(shared, readers=6, images=120, groups=3)["se"] > \
        headline_power(c, readers=6, images=120, groups=3)["se"]
    assert components_from_model(0.6, image_sd=1.0).image > c.image


def test_large_effects_have_a_power_not_nan():
    result = headline_power(components_from_model(0.75), readers=8, images=150, groups=3)
    assert 0.99 < result["power"] <= 1


def test_design_table_says_when_no_number_of_readers_suffices():
    table = design_table(components_from_model(0.6), groups=3, images=[20, 120, 400])
    assert table["readers"].iloc[0] is None or np.isnan(table["readers"].iloc[0])
    assert table["readers"].iloc[1] > table["readers"].iloc[2] >= 3
    assert (table["readers"].iloc[1:] % 3 == 0).all()
    assert (table["power"].dropna() >= 0.8).all()


def test_pilot_components_recover_the_model():
    # a large fully crossed pilot: 40 readers x 160 images, readers at 0.6
    scenario = Scenario("pilot", resolutions=(64,), skill=norm.ppf(0.6) * 2 * np.sqrt(1.5))
    trials = [SimTrial(r, 64, (f"s{c}",), ("synthetic" if c % 2 else "real",)) for r in range(40) for c in range(160)]
    df = validate(simulate_responses(scenario, trials, np.random.default_rng(5)))
    pilot = components_from_responses(df)
    model = components_from_model(0.6)
    assert pilot.source == "pilot" and pilot.accuracy == pytest.approx(0.6, abs=0.03)
    assert pilot.image == pytest.approx(model.image, rel=0.35)
    assert pilot.reader + pilot.image + pilot.residual == pytest.approx(pilot.accuracy * (1 - pilot.accuracy))


def test_forced_choice_components_and_bad_input():
    c = components_from_model(0.4, alternatives=4, design="choice")
    assert c.accuracy == pytest.approx(0.4) and c.image > 0
    assert headline_power(c, readers=6, images=120, chance=0.25, groups=3)["power"] > 0.5
    with pytest.raises(AnalysisInputError, match="between chance"):
        components_from_model(0.5)
    with pytest.raises(AnalysisInputError):
        headline_power(c, readers=3, images=10, groups=4)
