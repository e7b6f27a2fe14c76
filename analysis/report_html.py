"""The study report as one self-contained HTML page: the headline first, then every table and the notes.

It leads with the headline (can readers tell synthetic from real, per resolution, with readers and images
random), then the trend over resolution, the plots, the design-specific tables with their titles, the
excluded readers and the notes. Column names are written out, numbers are rounded for reading (the JSON
keeps full precision), the page fits a 1366 px laptop and prints on A4. Plain CSS, no scripts, readable
offline; `analysis.report.write_report` writes it as ``report.html``.
"""

from __future__ import annotations

import base64
import html
import json

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:62em;padding:0 1em;
color:#1f2328;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:2px solid #d0d7de;margin-top:1.8em}
h3{font-size:1.05em;margin:1.4em 0 .3em}p.describes{margin:.1em 0 .4em;color:#57606a;font-size:.9em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.4em 0 1.2em;font-size:.85em}
th,td{border:1px solid #d0d7de;padding:.25em .55em;text-align:right;vertical-align:top}
th{background:#f6f8fa;font-weight:600;text-align:center}td.text{text-align:left}
.headline td.verdict{text-align:left;font-weight:600}.muted{color:#57606a}
figure{margin:1em 0;break-inside:avoid}figure img{max-width:100%;height:auto}
figcaption{font-size:.85em;color:#57606a}ol.notes li{font-size:.88em;margin:.25em 0}
@media print{@page{size:A4;margin:15mm}body{max-width:none;margin:0;font-size:10pt}
.scroll{overflow:visible}table{font-size:8pt;page-break-inside:auto}tr{break-inside:avoid}h2{break-after:avoid}}
"""

HEADERS = {
    "resolution": "Resolution (px)", "measure": "Measure", "estimate": "Estimate", "chance": "Chance",
    "ci_low": "95% CI low", "ci_high": "95% CI high", "p_value": "p", "p_value_holm": "p (Holm)",
    "n_readers": "Readers", "n_cases": "Images", "method": "Method", "n": "Answers", "correct": "Correct",
    "accuracy": "Accuracy", "reader": "Reader", "sensitivity": "Synthetic called synthetic",
    "specificity": "Real called real", "auc": "AUC", "se": "SE", "df": "df", "kappa": "Kappa",
    "n_items": "Images rated by all", "n_raters": "Readers", "n_items_dropped": "Images not rated by all",
    "d_prime": "d'", "criterion": "Criterion c", "hit_rate": "Hit rate", "fa_rate": "False-alarm rate",
    "n_signal": "Synthetic images", "n_noise": "Real images", "case": "Image", "called_real": "Called real",
    "fool_rate": "Fool rate", "slope_per_doubling": "Change per doubling", "resolutions": "Resolutions",
    "exposure_ms": "Exposure (ms)", "fitted": "Fitted", "threshold_ms": "Threshold (ms)",
    "n_real": "Real images", "n_synthetic": "Synthetic images", "mean_real": "Mean rating, real",
    "mean_synthetic": "Mean rating, synthetic", "boot_se": "Bootstrap SE", "position": "Position",
    "n_pairs": "Repeated pairs", "agreement": "Agreement", "hype_infinity": "HYPE-infinity",
    "real_error_rate": "Real called synthetic", "fake_error_rate": "Synthetic called real", "design": "Design",
    "n_trials": "Trials", "sd": "SD", "threshold": "Threshold",
}
DESIGN_NAMES = {"single": "Single image: real or synthetic?", "choice": "Forced choice",
                "rating": "Realism rating"}
PROPORTIONS = {"estimate", "accuracy", "ci_low", "ci_high", "chance", "sensitivity", "specificity", "auc",
               "fool_rate", "hit_rate", "fa_rate", "fitted", "agreement", "hype_infinity", "real_error_rate",
               "fake_error_rate", "slope_per_doubling"}


def _header(column: str) -> str:
    if column in HEADERS:
        return HEADERS[column]
    words = column.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _p(value: float) -> str:
    if value < 0.001:
        return "&lt;0.001"
    return f"{value:.3f}"


def _cell(column: str, value, names: dict) -> str:
    if value is None:
        return "<td class=muted>–</td>"
    if column == "reader":
        return f"<td class=text>{html.escape(str(names.get(str(value), value)))}</td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, float):
        if column.startswith("p_value"):
            return f"<td>{_p(value)}</td>"
        if column in PROPORTIONS or column.endswith(("_ci_low", "_ci_high", "_rate")):
            return f"<td>{value:.3f}</td>"
        if value.is_integer() and abs(value) < 1e9:
            return f"<td>{int(value)}</td>"
        return f"<td>{value:.4g}</td>"
    if isinstance(value, int):
        return f"<td>{value}</td>"
    if isinstance(value, (list, dict)):
        return f"<td class=text>{html.escape(json.dumps(value))[:200]}</td>"
    return f"<td class=text>{html.escape(str(value))}</td>"


def _table(rows: list[dict], *, names: dict, limit: int = 60, css: str = "", skip=()) -> str:
    columns = [c for c in dict.fromkeys(key for row in rows[:limit] for key in row) if c not in skip]
    head = "".join(f"<th>{html.escape(_header(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(c, row.get(c), names) for c in columns) + "</tr>" for row in rows[:limit])
    more = f"<p class=muted>{len(rows) - limit} more rows in report.json.</p>" if len(rows) > limit else ""
    return f'<div class=scroll><table class="{css}"><tr>{head}</tr>{body}</table></div>{more}'


def _verdict(row: dict) -> str:
    if row.get("p_value_holm") is None:
        return "no test (too few readers)"
    if row["p_value_holm"] < 0.05:
        return "better than chance" if row["estimate"] > row["chance"] else "worse than chance"
    return "not shown to differ from chance"


def _headline(report: dict) -> str:
    rows = report.get("headline") or []
    if not rows:
        return "<p>No headline figure could be computed; the notes say why.</p>"
    out = []
    for design in dict.fromkeys(row["design"] for row in rows):
        part = [{**row, "verdict": _verdict(row)} for row in rows if row["design"] == design]
        columns = ["resolution", "measure", "estimate", "ci_low", "ci_high", "chance", "p_value", "p_value_holm",
                   "n_readers", "n_cases", "verdict"]
        head = "".join(f"<th>{html.escape(_header(c) if c != 'verdict' else 'Readers are')}</th>" for c in columns)
        body = "".join("<tr>" + "".join(
            f"<td class=verdict>{html.escape(r['verdict'])}</td>" if c == "verdict" else _cell(c, r.get(c), {})
            for c in columns) + "</tr>" for r in part)
        methods = sorted({r["method"] for r in part})
        out.append(f"<h3>{html.escape(DESIGN_NAMES.get(design, design))}</h3>"
                   f'<div class=scroll><table class=headline><tr>{head}</tr>{body}</table></div>'
                   f"<p class=describes>{html.escape('; '.join(methods))}.</p>")
    trend = report.get("headline_trend") or []
    if trend:
        out.append("<h3>Trend over resolution</h3><p class=describes>Least-squares change of each figure per "
                   "doubling of resolution, readers and images random.</p>"
                   + _table(trend, names={}, skip=("method",)))
    return "".join(out)


def render_html(report: dict, plots_png: dict[str, bytes], *, reader_names: dict | None = None,
                title: str = "Mirage reader study report") -> str:
    """A self-contained HTML page: headline, plots, tables, notes (PNG plots embedded as base64)."""
    names = reader_names or {}
    esc = html.escape
    if report.get("empty"):
        notes = " ".join(esc(n) for n in report.get("notes", []))
        return (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
                f"content='width=device-width,initial-scale=1'><title>{esc(title)}</title><style>{CSS}</style>"
                f"</head><body><h1>{esc(title)}</h1><p>There are no answers to report yet. {notes}</p></body></html>")
    meta = report["meta"]
    captions = {"accuracy_by_resolution.png": "Headline figure by resolution with 95% intervals (readers and "
                                              "images random); the dashed line is chance.",
                "roc.png": "ROC curves of the pooled answers per resolution; the legend gives the reader-averaged "
                           "AUC of the headline."}
    images = "".join(
        f'<figure><img alt="{esc(captions.get(name, name))}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}"><figcaption>{esc(captions.get(name, name.replace("_", " ")[:-4]))}'
        f"</figcaption></figure>" for name, png in plots_png.items())
    interim = ("<p><strong>Interim report</strong>: the study is still running; figures will change.</p>"
               if report.get("interim") else "")
    summary = (f"<p>{meta['n_main_responses']:,} main answers from {meta['n_readers']} readers on "
               f"{meta['n_cases']:,} images at {', '.join(str(r) for r in meta['resolutions'])} px "
               f"({', '.join(DESIGN_NAMES.get(d, d) for d in meta['designs'])}).</p>")
    sections = []
    for design, part in report.get("designs", {}).items():
        titles = report.get("sections", {}).get(design, {})
        block = [f"<h2>{esc(DESIGN_NAMES.get(design, design))}: details</h2>"]
        for key, rows in part.items():
            info = titles.get(key, {"title": key.replace("_", " ").capitalize(), "describes": ""})
            block.append(f"<h3>{esc(info['title'])}</h3>")
            if info.get("describes"):
                block.append(f"<p class=describes>{esc(info['describes'])}</p>")
            block.append(_table(rows, names=names) if rows else "<p class=muted>Not available (see the notes).</p>")
        sections.append("".join(block))
    excluded = report["exclusions"]["excluded"]
    notes = "".join(f"<li>{esc(note)}</li>" for note in report.get("notes", []))
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
        f"content='width=device-width,initial-scale=1'><title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1>{interim}{summary}<h2>Can readers tell synthetic from real?</h2>{_headline(report)}"
        f"{images}{''.join(sections)}<h2>Excluded readers</h2>"
        f"{_table(excluded, names=names) if excluded else '<p>No reader was excluded.</p>'}"
        f"<h2>Notes</h2><ol class=notes>{notes}</ol></body></html>"
    )
