"""Template helpers: percentages, p-values, the report's design tables, and form fields outside fieldsets."""
from __future__ import annotations

from django import template

register = template.Library()


def _number(value) -> float | None:
    """A figure from the report, or None where the report has none (missing, empty or not a number)."""
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


@register.filter
def pct(value) -> str:
    value = _number(value)
    return "—" if value is None else f"{100 * value:.1f}%"


@register.filter
def pvalue(value) -> str:
    value = _number(value)
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def design_rows(report: dict) -> list[tuple[str, list[dict]]]:
    designs = report.get("designs") or {}
    if designs:
        return [(name, body.get("by_resolution", [])) for name, body in designs.items()]
    return [("single", report.get("by_resolution", []))]


@register.filter
def unlisted_fields(form) -> list:
    """The form's fields that none of its fieldsets names: shown after them, never left off the page."""
    listed = {name for _, names in getattr(form, "FIELDSETS", []) for name in names}
    return [form[name] for name in form.fields if name not in listed]
