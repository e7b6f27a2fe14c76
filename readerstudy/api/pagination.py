"""Paging for the API's lists: ?limit and ?offset are whole numbers, and bounded.

DRF's own class ignores a limit it cannot read (a typo gives the default page, silently) and passes any
size to the database: 2**63 overflows a 64-bit integer on both databases, and a few thousand trials with
their images make SQLite's statement too large. Here a limit is at most MAX_LIMIT, an offset at most the
database's integer range, and anything that is not a whole number in range is a 400 that says so.
"""
from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 500
MAX_INTEGER = 2**63 - 1  # the largest value of a 64-bit integer column, on SQLite and PostgreSQL


def whole_number(name: str, value: str, minimum: int = 0) -> int:
    """`value` read as a whole number of at least `minimum` (a 400 otherwise). Callers bound it: a string
    of thousands of digits reads as MAX_INTEGER + 1 rather than being converted."""
    if not (value.isascii() and value.isdecimal()):
        raise ValidationError({name: f"{name} must be a whole number, got {value!r}."})
    number = int(value) if len(value) <= 100 else MAX_INTEGER + 1
    if number < minimum:
        raise ValidationError({name: f"{name} must be at least {minimum}, got {value!r}."})
    return number


class Pagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_limit(self, request):
        value = request.query_params.get(self.limit_query_param)
        if value is None:
            return self.default_limit
        return min(whole_number(self.limit_query_param, value, 1), self.max_limit)

    def get_offset(self, request):
        value = request.query_params.get(self.offset_query_param)
        if value is None:
            return 0
        return min(whole_number(self.offset_query_param, value, 0), MAX_INTEGER)
