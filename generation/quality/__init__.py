"""The quality report: how close are synthetic images to real ones, resolution by resolution?

Stages, one module each: `fidelity` (Fréchet Radiomics Distance with frd-score's features,
beside real versus real), `prdc` (precision, recall, density, coverage), `diversity` (MS-SSIM
within each class), `memorisation` (nearest training images, flagged copies), `usefulness`
(classifiers trained on real, synthetic, both), `machine_reader` (a CNN and a 1-NN test).
`inputs` reads pools and folders, `features` the radiomic features, `report` runs the stages and
writes OUT/quality.json, quality.html, flagged.json and machine_reader.csv.

Command line: `python -m generation quality --real POOL --synthetic POOL --out REPORT`.
"""

from generation.quality.inputs import QualityInputError, load_inputs


def run_report(*args, **kwargs):
    """See generation.quality.report.run_report (imported on first use: it needs torch and pyradiomics)."""
    from generation.quality.report import run_report as run

    return run(*args, **kwargs)


__all__ = ["QualityInputError", "load_inputs", "run_report"]
