"""Command line: ``python -m analysis report|mrmc|export|power ...``.

Bad input gives one line on stderr and exit status 2 (no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from analysis.tidy import AnalysisInputError

EXPORT_FORMATS = ("imrmc", "csv", "parquet")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


DESCRIPTION = """\
Statistics of a reader study from its responses table: one row per answer, as the Results page of
the web app downloads it (responses.csv; parquet works too). Can readers tell synthetic images from
real ones, at each resolution?"""

RESPONSES_HELP = "the study's responses table (.csv as the Results page downloads it, or .parquet)"


def _parser() -> argparse.ArgumentParser:
    from analysis.exclusions import RULES

    parser = _Parser(prog="python -m analysis", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    report = commands.add_parser(
        "report", help="the full report: one HTML page, every figure as JSON, and the plots",
        description="Write OUT/report.html (one page for people), OUT/report.json (every figure) and the "
                    "plots as PNG files: the headline (per resolution, can readers tell synthetic from real?), "
                    "accuracy per reader and per class, agreement, and the tables each design asks for.")
    report.add_argument("--responses", required=True, type=Path, metavar="FILE", help=RESPONSES_HELP)
    report.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="folder for the report (created if missing)")
    report.add_argument("--n-boot", type=int, default=2000, metavar="N",
                        help="resamplings of readers and images for the bootstrap interval (default 2000)")
    report.add_argument("--seed", type=int, default=0, help="seed of the resampling (default 0)")
    report.add_argument("--exclude", nargs="*", default=[], metavar="RULE",
                        help="leave out the readers who break a rule fixed before the study, such as "
                             "failed_catch:0.8 (catch-trial accuracy below 0.8) or too_fast:300 (median answer "
                             "under 300 ms); rules: " + ", ".join(RULES) + ". The report lists who was left "
                             "out and why")
    report.add_argument("--interim", action="store_true",
                        help="mark the report as an interim look while the study is still running (its "
                             "p-values are not adjusted for repeated looks)")

    mrmc = commands.add_parser(
        "mrmc", help="reader-averaged AUC per resolution, readers and images random (Obuchowski-Rockette)",
        description="The multi-reader multi-case analysis of the AUC (or percent correct): each resolution's "
                    "reader-averaged figure, the differences between resolutions and their test, with readers "
                    "and images random (Obuchowski-Rockette with Hillis's degrees of freedom), then with "
                    "either held fixed. "
                    "It needs every reader to read every image at every resolution; otherwise give --modality.")
    mrmc.add_argument("--ratings", required=True, type=Path, metavar="FILE",
                      help="the study's responses table, or a csv with the columns reader, case, modality, "
                           "truth (0/1) and score")
    mrmc.add_argument("--json", action="store_true", help="print JSON instead of the table")
    mrmc.add_argument("--fom", choices=("auc", "pc"), default="auc",
                      help="figure of merit: auc (area under the ROC curve, default) or pc (percent correct)")
    mrmc.add_argument("--modality", metavar="RESOLUTION",
                      help="analyse one resolution (modality) only, e.g. when each resolution shows "
                           "different images")

    export = commands.add_parser("export", help="write the responses for other software: iMRMC, csv or parquet")
    export.add_argument("--responses", required=True, type=Path, metavar="FILE", help=RESPONSES_HELP)
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS,
                        help="imrmc: the input file of the FDA's iMRMC (synthetic as the signal, resolution as "
                             "the modality); csv or parquet: the table as it is")
    export.add_argument("--out", required=True, type=Path, metavar="FILE", help="file to write")

    power = commands.add_parser(
        "power", help="how many readers and images a study needs",
        description="Readers needed per resolution for each number of images, for the headline test (readers "
                    "and images random) to reach the asked power. Give the accuracy you expect, or a pilot "
                    "study's responses (--pilot) to take the spread of readers and images from.")
    power.add_argument("--accuracy", type=float, help="expected accuracy of the typical reader, e.g. 0.6")
    power.add_argument("--design", choices=("single", "choice"), default="single",
                       help="single: one image, real or synthetic? (default); choice: find the synthetic "
                            "image among several")
    power.add_argument("--alternatives", type=int, default=2, metavar="M",
                       help="images per forced-choice trial, so chance is 1/M (default 2)")
    power.add_argument("--groups", type=int, default=1,
                       help="reader groups: the number of resolutions for a shared case set (each group reads "
                            "each image at one resolution); 1 when every reader reads every image (default 1)")
    power.add_argument("--power", type=float, default=0.8, help="the chance of detecting the effect (default 0.8)")
    power.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    power.add_argument("--reader-sd", type=float, default=0.5, metavar="SD",
                       help="how much readers differ in skill, as an SD on the probit scale (default 0.5)")
    power.add_argument("--image-sd", type=float, default=0.5, metavar="SD",
                       help="how much images differ in difficulty, as an SD on the probit scale (default 0.5)")
    power.add_argument("--pilot", type=Path, metavar="FILE",
                       help="a pilot study's responses table: the spread of readers and images is taken from it")
    power.add_argument("--images", type=int, nargs="+", default=[20, 40, 60, 100, 200, 400], metavar="N",
                       help="numbers of images per resolution to tabulate (default 20 40 60 100 200 400)")
    power.add_argument("--json", action="store_true", help="print JSON instead of the table")
    return parser


def _report(args) -> int:
    from analysis.report import build_report, write_report
    from analysis.tidy import read_responses

    if args.n_boot < 1:
        raise AnalysisInputError(f"--n-boot must be at least 1, got {args.n_boot}.")
    df = read_responses(args.responses)
    report = build_report(df, exclusions=args.exclude, n_boot=args.n_boot, seed=args.seed, interim=args.interim)
    paths = write_report(report, df, args.out)
    print(f"wrote {len(paths)} files to {args.out}: {', '.join(sorted(paths))}")
    for note in report["notes"]:
        print(f"note: {note}")
    return 0


def _read_ratings(path: Path) -> pd.DataFrame:
    from analysis.export import mrmc_scores
    from analysis.tidy import read_responses

    if not path.is_file():
        raise AnalysisInputError(f"ratings file {str(path)!r} does not exist.")
    if path.suffix.lower() != ".csv":
        return mrmc_scores(read_responses(path))
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise AnalysisInputError(f"cannot read {str(path)!r}: {error}") from error
    table = table.rename(columns={"treatment": "modality", "rating": "score"})
    if {"reader", "case", "modality", "truth", "score"} <= set(table.columns):
        return table
    if "answer" in table.columns or "correct" in table.columns:
        return mrmc_scores(read_responses(path))
    raise AnalysisInputError(f"{str(path)!r} needs columns reader, case, modality, truth, score "
                             f"(or a tidy responses table); it has {', '.join(map(str, table.columns))}.")


def _mrmc(args) -> int:
    from analysis.mrmc import format_table, or_analysis
    from analysis.report import json_safe

    ratings = _read_ratings(args.ratings)
    if args.modality is not None:
        ratings = ratings[ratings["modality"].astype(str) == args.modality]
        if ratings.empty:
            raise AnalysisInputError(f"no ratings with modality {args.modality!r} in {str(args.ratings)!r}.")
    try:
        result = or_analysis(ratings, fom=args.fom)
    except ValueError as error:
        if "not fully crossed" in str(error) and args.modality is None:
            raise AnalysisInputError(f"{error} If each resolution shows its own images, analyse one at a "
                                     "time with --modality.") from error
        raise
    if args.json:
        print(json.dumps(json_safe(result.to_dict()), indent=1, allow_nan=False))
    else:
        print(format_table(result))
    return 0


def _export(args) -> int:
    from analysis import export
    from analysis.tidy import read_responses

    df = read_responses(args.responses)
    if args.format == "imrmc":
        args.out.write_text(export.to_imrmc(df))
    elif args.format == "csv":
        export.to_csv(df, args.out)
    else:
        export.to_parquet(df, args.out)
    print(f"wrote {args.out}")
    return 0


def _power(args) -> int:
    from analysis.planning import components_from_model, components_from_responses, design_table
    from analysis.report import json_safe
    from analysis.tidy import main_trials, read_responses

    chance = 1.0 / args.alternatives if args.design == "choice" else 0.5
    if args.pilot is not None:
        components = components_from_responses(main_trials(read_responses(args.pilot)))
    elif args.accuracy is None:
        raise AnalysisInputError("give --accuracy (the expected accuracy) or --pilot (a responses table).")
    else:
        components = components_from_model(args.accuracy, alternatives=args.alternatives, design=args.design,
                                           reader_sd=args.reader_sd, image_sd=args.image_sd)
    table = design_table(components, chance=chance, groups=args.groups, power=args.power, alpha=args.alpha,
                         images=args.images)
    if args.json:
        print(json.dumps(json_safe({**table.attrs, "rows": table.to_dict(orient="records")}), indent=1))
    else:
        c = components
        print(f"accuracy {c.accuracy:.3g} vs chance {chance:.3g}, power {args.power:g}, alpha {args.alpha:g} "
              f"(two-sided), {args.groups} reader group(s); variance components ({c.source}): readers "
              f"{c.reader:.2e}, images {c.image:.2e}, residual {c.residual:.2e}")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="more than 200"))
    return 0


COMMANDS = {"report": _report, "mrmc": _mrmc, "export": _export, "power": _power}


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 2 bad input)."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (AnalysisInputError, ValueError, OSError) as error:
        message = " ".join(str(error).split())
        print(f"python -m analysis {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
