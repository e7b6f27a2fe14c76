"""Mirage analysis: statistics on the tidy responses table of a visual Turing test.

Pure functions that take the responses table (`analysis.tidy`) and return
tables (pandas DataFrames); `analysis.report.build_report` gathers them into
one JSON-safe report.  No Django, no `generation`.  Command line:
``python -m analysis report|mrmc|export|power ...`` (`analysis.cli`).
"""

from analysis.tidy import AnalysisInputError, read_responses, validate

__version__ = "0.1.0"
__all__ = ["AnalysisInputError", "read_responses", "validate", "__version__"]
