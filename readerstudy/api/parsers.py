"""Request bodies the API accepts: JSON, form and multipart, refusing with a 400 what cannot be stored.

Two things would otherwise reach the database or the Python parser and fail there with a 500:
JSON nested deeper than Python's parser recurses (about 1,000 levels, a 2 KB body), and the NUL
character (U+0000), which PostgreSQL cannot keep in text. Every string of a body is checked, keys too,
and the error names where it was found (``rating_labels[1]``).
"""
from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32  # Mirage's own bodies are at most 3 deep (a questionnaire, a list of labels)


def body_problem(data: Any, where: str = "", max_depth: int = MAX_DEPTH) -> str | None:
    """What makes parsed JSON unacceptable (too deep, or a NUL in a string or key), naming where it was
    found below `where`; None if nothing. Walks with its own stack, so depth is never a problem here."""
    stack: list[tuple[Any, str, int]] = [(data, where, 1)]
    while stack:
        value, where, depth = stack.pop()
        at = f"{where}: " if where else ""
        if isinstance(value, str):
            if "\x00" in value:
                return f"{at}text may not contain the NUL character (\\u0000)."
        elif isinstance(value, (dict, list)):
            if depth > max_depth:
                return f"{at}JSON may be nested at most {max_depth} levels deep."
            if isinstance(value, dict):
                for key, item in value.items():
                    if "\x00" in key:
                        return f"{at}a key may not contain the NUL character (\\u0000)."
                    stack.append((item, f"{where}.{key}" if where else key, depth + 1))
            else:
                stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
    return None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the nesting depth bounded and NUL refused."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.") from None
        problem = body_problem(data)
        if problem:
            raise ParseError(problem)
        return data


def _form_problem(data) -> str | None:
    for key, values in data.lists():
        if "\x00" in key:
            return "a field name may not contain the NUL character (\\u0000)."
        if any(isinstance(v, str) and "\x00" in v for v in values):
            return f"{key}: text may not contain the NUL character (\\u0000)."
    return None


class FormParser(parsers.FormParser):
    """DRF's form parser, refusing NUL in names and values."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        problem = _form_problem(data)
        if problem:
            raise ParseError(problem)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing NUL in field names and values."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        problem = _form_problem(parsed.data)
        if problem:
            raise ParseError(problem)
        return parsed
