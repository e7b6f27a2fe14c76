"""Formatting for statistics in templates: percentages, p-values, and the report's design tables."""
from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def pct(value) -> str:
    if value is None:
        return "—"
    return f"{100 * float(value):.1f}%"


@register.filter
def pvalue(value) -> str:
    if value is None:
        return "—"
    value = float(value)
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def design_rows(report: dict) -> list[tuple[str, list[dict]]]:
    designs = report.get("designs") or {}
    if designs:
        return [(name, body.get("by_resolution", [])) for name, body in designs.items()]
    return [("single", report.get("by_resolution", []))]
