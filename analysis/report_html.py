"""The study report as one self-contained HTML page (tables, notes, base64-embedded PNG plots).

Plain CSS, no scripts, readable offline; `analysis.report.write_report` writes it as ``report.html``.
"""

from __future__ import annotations

import base64
import html
import json

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.85em}th,td{border:1px solid #ccc;padding:.2em .5em;
text-align:right}th{background:#f3f3f3}td.text{text-align:left}h2{border-bottom:2px solid #ddd}
img{max-width:100%;margin:.5em 0}.notes li{font-size:.85em;color:#555}details{margin:.3em 0 1em}"""


def _cell(value) -> str:
    if value is None:
        return "<td>n/a</td>"
    if isinstance(value, float):
        return f"<td>{value:.4g}</td>"
    if isinstance(value, (int, bool)):
        return f"<td>{value}</td>"
    if isinstance(value, (list, dict)):
        return f"<td class=text>{html.escape(json.dumps(value))[:200]}</td>"
    return f"<td class=text>{html.escape(str(value))}</td>"


def _html_table(rows: list[dict], limit: int = 200) -> str:
    columns = list(dict.fromkeys(key for row in rows[:limit] for key in row))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>" for row in rows[:limit])
    more = f"<p>{len(rows) - limit} more rows in report.json.</p>" if len(rows) > limit else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _html_section(name: str, value, level: int) -> str:
    title = f"<h{level}>{html.escape(name.replace('_', ' '))}</h{level}>"
    if value is None:
        return f"{title}<p>n/a (see notes)</p>"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return title + _html_table(value)
    if isinstance(value, dict):
        scalars = {k: v for k, v in value.items() if not isinstance(v, (dict, list))}
        nested = {k: v for k, v in value.items() if isinstance(v, (dict, list))}
        out = title + (_html_table([scalars]) if scalars else "")
        return out + "".join(_html_section(k, v, min(level + 1, 6)) for k, v in nested.items())
    return f"{title}<p>{html.escape(str(value))}</p>"


def render_html(report: dict, plots_png: dict[str, bytes]) -> str:
    """A self-contained HTML page: tables, notes and base64-embedded PNG plots."""
    images = "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}"><figcaption>{html.escape(name)}</figcaption></figure>'
        for name, png in plots_png.items())
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in report.get("notes", []))
    interim = "<p><strong>Interim report</strong>: the study is still running.</p>" if report.get("interim") else ""
    designs_html = "".join(_html_section(name, part, 2) for name, part in report["designs"].items())
    excluded = report["exclusions"]["excluded"]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Mirage reader study report</title>"
        f"<style>{CSS}</style></head><body><h1>Mirage reader study report</h1>{interim}"
        f"{_html_section('study', report['meta'], 2)}{images}"
        f"<h2>exclusions</h2>{_html_table(excluded) if excluded else '<p>No reader excluded.</p>'}"
        f"{designs_html}<h2>notes</h2><ol class=notes>{notes}</ol></body></html>"
    )
