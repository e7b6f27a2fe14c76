"""The quality report as one offline HTML page: figures embedded as data URLs, no scripts, no CDN."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

STYLE = """body{font:14px/1.45 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}table{border-collapse:collapse;
margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}th{background:#f5f5f5}
td:first-child,th:first-child{text-align:left}.warn{background:#fff4e5;border-left:4px solid #e69500;padding:.4em .8em}
figure{margin:1em 0}figcaption{color:#555;font-size:.9em}img{max-width:100%}.note{color:#555}"""


def _f(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _ci(row: dict, centre: str = "median", digits: int = 3) -> str:
    return f"{_f(row.get(centre), digits)} ({_f(row.get('ci_low'), digits)} to {_f(row.get('ci_high'), digits)})"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figures(pictures: dict, section: str) -> str:
    parts = []
    for caption, path in pictures.get(section, []):
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        parts.append(f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{escape(caption)}</figcaption></figure>")
    return "".join(parts)


def render_html(report: dict, pictures: dict) -> str:
    entries = report["resolutions"]
    out = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Mirage quality report</title>"
           f"<style>{STYLE}</style></head><body><h1>Quality of the synthetic images</h1>",
           f"<p class=note>Real: {escape(report['inputs']['real'])} · synthetic: {escape(report['inputs']['synthetic'])}"
           f" · radiomic features: {escape(report['settings']['feature_set'])} · seed {report['settings']['seed']}</p>"]
    out.append(_table(["resolution", "real images", "real patients", "real hold-out", "synthetic images", "labels"],
                      [[f"{e['resolution']} px", _f(e["n_real"]), _f(e["n_real_sources"]), _f(e["n_real_held_out"]),
                        _f(e["n_synthetic"]), escape(", ".join(e["labels"])) if e["labels"] else "–"] for e in entries]))
    for warning in report["warnings"]:
        out.append(f"<p class=warn>{escape(warning)}</p>")
    for note in report["notes"]:
        out.append(f"<p class=note>{escape(note)}</p>")
    if any(e.get("fidelity") for e in entries):
        out.append("<h2>Fidelity: Fréchet Radiomics Distance</h2><p>Lower is closer. The synthetic set is compared "
                   "with half of the real patients, beside the other half: a generator as good as the real data "
                   "stays inside the real-versus-real interval.</p>")
        out.append(_table(["resolution", "real vs synthetic", "real vs real", "difference", "FRD, all images"],
                          [[f"{e['resolution']} px", _ci(e["fidelity"]["real_vs_synthetic"]),
                            _ci(e["fidelity"]["real_vs_real"]), _ci(e["fidelity"]["difference"]),
                            _f(e["fidelity"]["frd_all"])] for e in entries if e.get("fidelity")]))
        for e in entries:
            if e.get("fidelity"):
                out.append(f"<p>{e['resolution']} px, features that differ most (Cohen's d, synthetic minus real):</p>")
                out.append(_table(["feature", "d (95% CI)", "mean real", "mean synthetic"],
                                  [[escape(t["feature"]), _ci({**t, "median": t["cohens_d"]}, digits=2),
                                    _f(t["mean_real"], 4), _f(t["mean_synthetic"], 4)]
                                   for t in e["fidelity"]["top_features"][:8]]))
        out.append(_figures(pictures, "fidelity"))
    if any(e.get("prdc") for e in entries):
        out.append("<h2>Precision, recall, density, coverage</h2><p>On PCA-reduced radiomic features (k = 5). "
                   "Precision and density: are synthetic images realistic; recall and coverage: do they cover the "
                   "real variety.</p>")
        rows = []
        for e in entries:
            if e.get("prdc"):
                for key, text in (("real_vs_synthetic", "real vs synthetic"), ("real_vs_real", "real vs real")):
                    rows.append([f"{e['resolution']} px {text}"] + [_ci(e["prdc"][key][m], digits=2)
                                                                    for m in ("precision", "recall", "density",
                                                                              "coverage")])
        out.append(_table(["", "precision", "recall", "density", "coverage"], rows))
        out.append(_figures(pictures, "prdc"))
    if any(e.get("diversity") for e in entries):
        out.append(f"<h2>Diversity: MS-SSIM within each class</h2><p>Higher means the images resemble each other "
                   f"more. {escape(next(e['diversity']['rule'] for e in entries if e.get('diversity')))}.</p>")
        rows = [[f"{e['resolution']} px", escape(row["label"] or "all images"), _ci({**row["real"], "median":
                row["real"]["mean"]}), _ci({**row["synthetic"], "median": row["synthetic"]["mean"]}),
                 "yes" if row["mode_collapse"] else "no"] for e in entries if e.get("diversity")
                for row in e["diversity"]["rows"]]
        out.append(_table(["resolution", "label", "real", "synthetic", "mode collapse"], rows))
        out.append(_figures(pictures, "diversity"))
    if any(e.get("memorisation") for e in entries):
        rule = next(e["memorisation"]["rule"] for e in entries if e.get("memorisation"))
        out.append(f"<h2>Memorisation</h2><p>Rule: {escape(rule)}. flagged.json lists the flagged synthetic "
                   "sources, for a pool build to leave out.</p>")
        out.append(_table(["resolution", "training images", "held-out real", "threshold", "flagged",
                           "expected by chance"],
                          [[f"{e['resolution']} px", _f(e["memorisation"]["n_training"]),
                            _f(e["memorisation"]["n_held_out"]), _f(e["memorisation"]["threshold"]),
                            _f(e["memorisation"]["n_flagged"]), _f(e["memorisation"]["expected_by_chance"], 1)]
                           for e in entries if e.get("memorisation")]))
        out.append(_figures(pictures, "memorisation"))
    if any(e.get("usefulness") for e in entries):
        out.append("<h2>Usefulness</h2><p>AUC per label of a small CNN trained on real, on synthetic and on both "
                   "(same number of images per label), always tested on real hold-out images the generator never "
                   "saw; paired DeLong tests against training on real.</p>")
        rows = []
        for e in entries:
            for row in (e.get("usefulness") or {}).get("per_label", []):
                if "real" in row:
                    test = row["synthetic_minus_real"]
                    rows.append([f"{e['resolution']} px", escape(row["label"])]
                                + [_ci({**row[s], "median": row[s]["auc"]}, digits=2) for s in ("real", "synthetic",
                                                                                                  "both")]
                                + [f"{test['difference']:+.2f} (p = {test['p_value']:.3f})"])
        out.append(_table(["resolution", "label", "trained on real", "on synthetic", "on both",
                           "synthetic − real"], rows))
        out.append(_figures(pictures, "usefulness"))
    if any(e.get("machine_reader") for e in entries):
        out.append("<h2>Machine reader</h2><p>A small CNN (cross-validated, a patient never split across folds) "
                   "and a 1-nearest-neighbour two-sample test tell real from synthetic; 0.5 is chance. Their answers "
                   "are in machine_reader.csv, a tidy responses table.</p>")
        rows = [[f"{e['resolution']} px", reader, _ci({**m, "median": m["accuracy"], "ci_low": m["accuracy_ci_low"],
                                                       "ci_high": m["accuracy_ci_high"]}, digits=2),
                 _ci({"median": m["auc"], "ci_low": m["auc_ci_low"], "ci_high": m["auc_ci_high"]}, digits=2),
                 _f(m["n"])] for e in entries if e.get("machine_reader") for reader, m in e["machine_reader"].items()]
        out.append(_table(["resolution", "reader", "accuracy", "AUC", "images"], rows))
        out.append(_figures(pictures, "machine"))
    seconds = [[f"{e['resolution']} px"] + [escape(f"{k} {v:.1f} s") for k, v in e["seconds"].items()] for e in entries]
    out.append("<h2>Run</h2>" + "".join(f"<p class=note>{' · '.join(row)}</p>" for row in seconds))
    out.append("</body></html>\n")
    return "\n".join(out)
