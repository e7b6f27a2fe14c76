"""Glue between the study's responses and `analysis`: the web page, the API and the downloads share it."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max

from .export import responses_frame
from .models import Response, Study, StudyStatus

EXCLUSION_CHOICES = [
    ("coordinator", "Readers excluded by the coordinator"),
    ("failed_practice", "Readers below the practice pass mark (analysis rule failed_practice)"),
]
WEB_BOOTSTRAP_DRAWS = 1000


def reader_names(study: Study) -> dict[str, str]:
    """Reader code (as in exports and reports) -> the name coordinators gave the reader."""
    return {reader.code: reader.name for reader in study.readers.only("ordinal", "name")}


def study_frame(study: Study, exclusions=()):
    df = responses_frame(study)
    if "coordinator" in exclusions and not df.empty:
        excluded = {reader.code for reader in study.readers.filter(excluded=True).only("ordinal")}
        df = df[~df["reader"].isin(excluded)]
    return df


def study_report(study: Study, *, exclusions=(), df=None) -> dict[str, Any]:
    """The analysis report, recomputed only when answers, exclusions or the study's state change.

    The results page polls while a study runs; between two answers the cached report is served.
    """
    stamp = Response.objects.filter(trial__reader__study=study).aggregate(n=Count("id"), last=Max("received_at"))
    excluded = list(study.readers.filter(excluded=True).values_list("pk", flat=True))
    key = "mirage-report:" + hashlib.sha256(json.dumps(
        [study.pk, study.status, sorted(exclusions), excluded, stamp["n"], str(stamp["last"])]).encode()).hexdigest()
    report = cache.get(key)
    if report is None:
        report = _build(study, exclusions, study_frame(study, exclusions) if df is None else df)
        cache.set(key, report, timeout=3600)
    return report


def _build(study: Study, exclusions, df) -> dict[str, Any]:
    from analysis.report import build_report
    from analysis.tidy import AnalysisInputError

    rules = [rule for rule in exclusions if rule != "coordinator"]
    interim = study.status != StudyStatus.CLOSED
    if df.empty:
        return {"empty": True, "interim": interim, "notes": ["No answers yet."]}
    try:
        return build_report(df, exclusions=rules, n_boot=WEB_BOOTSTRAP_DRAWS, seed=study.seed % (2**32),
                            interim=interim)
    except AnalysisInputError as exc:
        return {"empty": True, "interim": interim, "notes": [str(exc)]}


def study_report_html(study: Study, *, exclusions=()) -> str:
    from analysis.report import render_html, report_plots

    df = study_frame(study, exclusions)  # read once: the report and its plots share it
    report = study_report(study, exclusions=exclusions, df=df)
    title = f"{study.name}: reader study report"
    if report.get("empty"):
        return render_html(report, {}, title=title)
    return render_html(report, report_plots(report, df), title=title)


def study_imrmc(study: Study) -> str:
    from analysis.export import to_imrmc

    return to_imrmc(responses_frame(study))


def accuracy_plot_base64(report: dict[str, Any]) -> str | None:
    """The headline against resolution with its intervals and the chance line, for embedding in the page."""
    import base64

    from analysis.plots import accuracy_plot
    from analysis.report import headline_series

    series = headline_series(report)
    return base64.b64encode(accuracy_plot(series, title="Headline by resolution")).decode() if series else None


DESIGN_NAMES = {"single": "Single image: real or synthetic?", "choice": "Forced choice", "rating": "Realism rating"}


def _verdict(row: dict[str, Any]) -> str:
    if row.get("p_value_holm") is None:
        return "no test: too few readers"
    if row["p_value_holm"] < 0.05:
        return "better than chance" if row["estimate"] > row["chance"] else "worse than chance"
    return "not shown to differ from chance"


def headline_groups(study: Study, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline per design and measure: rows with a plain verdict, the method, and the readers' own figures."""
    names = reader_names(study)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in report.get("headline") or []:
        key = (row["design"], row["measure"])
        group = groups.setdefault(key, {"design": DESIGN_NAMES.get(row["design"], row["design"]),
                                        "measure": row["measure"], "rows": [], "methods": set(), "readers": {}})
        group["rows"].append({**row, "verdict": _verdict(row)})
        group["methods"].add(row["method"])
    for row in report.get("headline_per_reader") or []:
        group = groups.get((row["design"], row["measure"]))
        if group is not None:
            name = names.get(str(row["reader"]), str(row["reader"]))
            group["readers"].setdefault((str(row["reader"]), name), {})[row["resolution"]] = row["estimate"]
    out = []
    for group in groups.values():
        resolutions = [row["resolution"] for row in group["rows"]]
        readers = [{"code": code, "name": name, "values": [values.get(res) for res in resolutions]}
                   for (code, name), values in sorted(group["readers"].items())]
        out.append({**group, "methods": "; ".join(sorted(group["methods"])), "resolutions": resolutions,
                    "readers": readers})
    return out


def results_sections(study: Study, report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per design: the descriptive tables the results page shows below the headline."""
    sections = []
    for design, part in (report.get("designs") or {}).items():
        sections.append({
            "design": DESIGN_NAMES.get(design, design),
            "class_rates": (part.get("class_rates_pooled") or [None])[0],
            "d_prime": part.get("d_prime") or [], "bootstrap": part.get("bootstrap") or [],
            "fool_rates": (part.get("fool_rates") or [])[:10], "fleiss_kappa": part.get("fleiss_kappa") or [],
            "exposure_curve": part.get("exposure_curve") or [],
        })
    return sections


def planned_layout(study: Study) -> tuple[int, int]:
    """Images at one resolution and reader groups, as the headline test counts them.

    A shared case set rotates its images across as many reader groups as there are resolutions: each
    resolution has every group's images, each reader reads one group's. Random subsets are planned as if
    every reader read the same images, which overstates the image variance: a conservative plan.
    """
    if study.case_set == "shared":
        groups = len(study.resolutions)
        return study.trials_per_resolution * groups, groups
    return study.trials_per_resolution, 1


def power_panel(study: Study, *, accuracy: float | None, readers: int | None) -> dict[str, Any]:
    """What a power panel shows: `study_power`'s plan, {"error": why this design cannot be planned}, or
    nothing while the planner's inputs are missing or wrong (their form says why)."""
    import math

    from analysis.tidy import AnalysisInputError

    if study.design == "rating":
        return {"error": "A realism rating has no chance level; plan its sample size on the rating comparison."}
    if accuracy is None or readers is None:
        return {}
    try:
        planned = study_power(study, accuracy=accuracy, readers=readers)
    except AnalysisInputError as exc:
        return {"error": str(exc)}
    if math.isnan(planned["power"]["power"]):
        return {"error": "The planner could not compute the power of this design for that accuracy; try an "
                         "accuracy closer to chance."}
    return planned


def study_power(study: Study, *, accuracy: float, readers: int) -> dict[str, Any]:
    """Power of the headline test at one resolution for this design, and the readers 80% power needs.

    The variance components come from the study's own answers once three or more readers have answered
    main trials (a pilot), else from Mirage's reader and image model; either way at the expected accuracy.
    Raises `analysis.tidy.AnalysisInputError` for an accuracy the planner cannot use.
    """
    from analysis.planning import Components, components_from_model, components_from_responses, design_table, \
        headline_power
    from analysis.tidy import AnalysisInputError, main_trials, validate

    choice = study.design == "choice"
    chance = 1 / study.alternatives if choice else 0.5
    images, groups = planned_layout(study)
    components = components_from_model(accuracy, alternatives=study.alternatives,
                                       design="choice" if choice else "single")
    source = "model"
    # The pilot needs three readers' main answers: counted first, so the page reads the answers only then.
    answered = 0 if study.pk is None else (  # a design not saved yet has no answers
        Response.objects.filter(trial__reader__study=study).exclude(trial__kind="practice")
        .values("trial__reader").distinct().count())
    df = responses_frame(study) if answered >= 3 else None
    if df is not None and not df.empty:
        main = main_trials(validate(df))
        main = main[main["correct"].notna()]
        if main["reader"].nunique() >= 3:
            try:
                pilot = components_from_responses(main)
            except (AnalysisInputError, ValueError):
                pilot = None
            if pilot is not None:
                total = accuracy * (1 - accuracy)
                reader, image = min(pilot.reader, total), min(pilot.image, total - min(pilot.reader, total))
                components = Components(accuracy, reader, image, total - reader - image, "pilot")
                source = f"pilot ({main['reader'].nunique()} readers, {len(main):,} answers so far)"
    power = headline_power(components, readers=readers, images=images, chance=chance, groups=groups)
    needed = design_table(components, chance=chance, groups=groups, images=(images,)).iloc[0]["readers"]
    needed = None if needed is None or needed != needed else int(needed)
    return {"power": power, "needed": needed, "chance": chance, "images": images, "groups": groups,
            "shared": study.case_set == "shared", "components": components, "source": source}
