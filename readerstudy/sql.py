"""Statements of the reading screen's hot path, written out in SQL.

Every answer and every image request runs these. Built by the ORM, each cost 0.3 to 0.9 ms of query
compilation on the 2-core benchmark machine; written out, 20 to 40 µs (docs/architecture.md, "Hot path").
Where they return model instances, every column goes through the same converters the ORM applies
(`_instance`), so values are exactly what a queryset would give. The same text runs on SQLite and
PostgreSQL (the reader tests run on both). Table and column names come from the models' metadata, so a
renamed field breaks here loudly rather than silently.
"""
from __future__ import annotations

from functools import cache
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from .models import Pool, PoolImage, Reader, Response, Study, Trial, TrialImage, TrialKind


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model, field: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field).column)


def _columns(model, alias: str) -> str:
    return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)


def _converters(model, ops) -> tuple:
    """Per column of `model`: (column, converters) as the SQL compiler collects them, for one connection.

    Kept on the connection's operations object itself: the converters are its bound methods, so the cache
    lives and dies with the connection (a module-level cache keyed by it would keep every connection alive).
    """
    per_model = ops.__dict__.setdefault("_mirage_converters", {})
    if model not in per_model:
        columns = []
        for field in model._meta.concrete_fields:
            column = field.get_col(model._meta.db_table)
            columns.append((column, tuple(ops.get_db_converters(column) + field.get_db_converters(ops.connection))))
        per_model[model] = tuple(columns)
    return per_model[model]


def _instance(model, values):
    """A model instance from one row of all its concrete columns, converted as the ORM converts them."""
    converted = []
    for (column, converters), value in zip(_converters(model, connection.ops), values):
        for converter in converters:
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, None, converted)


@cache
def _reader_sql() -> str:
    r, st = Reader, Study
    return (f"SELECT {_columns(r, 'r')}, {_columns(st, 's')} FROM {_table(r)} r "
            f"JOIN {_table(st)} s ON s.{_column(st, 'id')} = r.{_column(r, 'study')} "
            f"WHERE r.{_column(r, 'token')} = %s")


def reader_with_study(token: str) -> Reader | None:
    """The reader an invitation token belongs to, with `reader.study` loaded (one statement)."""
    with connection.cursor() as cursor:
        cursor.execute(_reader_sql(), [token])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(Reader._meta.concrete_fields)
    reader = _instance(Reader, row[:split])
    reader.study = _instance(Study, row[split:])
    return reader


class ShownImage(NamedTuple):
    """One image of a pending trial. `image_class` stays on the server (correctness); the page gets the rest."""

    position: int
    token: str
    image_class: str


class PendingTrial(NamedTuple):
    trial: Trial
    images: list[ShownImage]

    @property
    def truth(self) -> str:
        """As Trial.truth: the single image's class, or the odd image's class in forced choice."""
        odd = self.trial.odd_position
        return self.images[odd if odd is not None else 0].image_class


@cache
def _pending_sql() -> str:
    t, ti, pi, a = Trial, TrialImage, PoolImage, Response
    return (
        f"SELECT {_columns(t, 't')}, ti.{_column(ti, 'position')}, ti.{_column(ti, 'token')}, "
        f"pi.{_column(pi, 'image_class')} "
        f"FROM {_table(t)} t "
        f"JOIN {_table(ti)} ti ON ti.{_column(ti, 'trial')} = t.{_column(t, 'id')} "
        f"JOIN {_table(pi)} pi ON pi.{_column(pi, 'id')} = ti.{_column(ti, 'image')} "
        # NOT EXISTS, not LEFT JOIN ... IS NULL: PostgreSQL then walks the reader's trials in order and
        # probes the answers' unique index on trial, stopping at the first unanswered ones, where the join
        # had it hash every answer in the table (its cost grew with the whole study's answers).
        f"WHERE t.{_column(t, 'id')} IN ("
        f"SELECT u.{_column(t, 'id')} FROM {_table(t)} u "
        f"WHERE u.{_column(t, 'reader')} = %s AND NOT EXISTS (SELECT 1 FROM {_table(a)} a "
        f"WHERE a.{_column(a, 'trial')} = u.{_column(t, 'id')}) "
        f"ORDER BY u.{_column(t, 'index')} LIMIT %s) "
        f"ORDER BY t.{_column(t, 'index')}, ti.{_column(ti, 'position')}"
    )


def pending_trials(reader_id: int, limit: int) -> list[PendingTrial]:
    """The reader's first `limit` unanswered trials in order, each with its images (one statement)."""
    with connection.cursor() as cursor:
        cursor.execute(_pending_sql(), [reader_id, limit])
        rows = cursor.fetchall()
    split = len(Trial._meta.concrete_fields)
    pending: list[PendingTrial] = []
    for row in rows:
        if not pending or pending[-1].trial.pk != row[0]:
            pending.append(PendingTrial(_instance(Trial, row[:split]), []))
        pending[-1].images.append(ShownImage(*row[split:]))
    return pending


@cache
def _mark_served_sql(with_exposure: bool) -> str:
    t = Trial
    exposure = f", {_column(t, 'exposure_ms')} = %s" if with_exposure else ""
    return (f"UPDATE {_table(t)} SET {_column(t, 'first_served_at')} = %s{exposure} "
            f"WHERE {_column(t, 'id')} = %s AND {_column(t, 'first_served_at')} IS NULL")


def mark_served(trial_id: int, exposure_ms: int | None):
    """Set a trial's first-served time (and its staircase exposure) unless already set; returns the time
    set, or None where an earlier serve had set it."""
    now = timezone.now()
    params = [connection.ops.adapt_datetimefield_value(now)]
    if exposure_ms is not None:
        params.append(exposure_ms)
    with connection.cursor() as cursor:
        cursor.execute(_mark_served_sql(exposure_ms is not None), [*params, trial_id])
        return now if cursor.rowcount else None


class ImageFile(NamedTuple):
    directory: str
    file: str
    user_id: int | None  # the reader's: an invitation made for an account
    revoked: bool
    excluded: bool
    started: bool  # the reader has answered the questionnaire
    study_status: str
    account_bound: bool  # made for an account (refused once that account is gone)


@cache
def _image_file_sql() -> str:
    ti, t, r, st, pi, p = TrialImage, Trial, Reader, Study, PoolImage, Pool
    return (
        f"SELECT p.{_column(p, 'directory')}, pi.{_column(pi, 'file')}, r.{_column(r, 'user_id')}, "
        f"r.{_column(r, 'revoked_at')} IS NOT NULL, r.{_column(r, 'excluded')}, "
        f"r.{_column(r, 'started_at')} IS NOT NULL, s.{_column(st, 'status')}, r.{_column(r, 'account_bound')} "
        f"FROM {_table(ti)} ti "
        f"JOIN {_table(t)} t ON t.{_column(t, 'id')} = ti.{_column(ti, 'trial')} "
        f"JOIN {_table(r)} r ON r.{_column(r, 'id')} = t.{_column(t, 'reader')} "
        f"JOIN {_table(st)} s ON s.{_column(st, 'id')} = r.{_column(r, 'study')} "
        f"JOIN {_table(pi)} pi ON pi.{_column(pi, 'id')} = ti.{_column(ti, 'image')} "
        f"JOIN {_table(p)} p ON p.{_column(p, 'id')} = pi.{_column(pi, 'pool')} "
        f"WHERE ti.{_column(ti, 'token')} = %s AND r.{_column(r, 'token')} = %s"
    )


def image_file(reader_token: str, image_token: str) -> ImageFile | None:
    """Where one image of one invitation's trial lives, and what decides whether it may be sent."""
    with connection.cursor() as cursor:
        cursor.execute(_image_file_sql(), [image_token, reader_token])
        row = cursor.fetchone()
    if row is None:
        return None
    directory, file, user_id, revoked, excluded, started, status, bound = row
    return ImageFile(directory, file, user_id, bool(revoked), bool(excluded), bool(started), status, bool(bound))


@cache
def _trial_counts_sql() -> str:
    t, resp = Trial, Response
    kind, answered = f"t.{_column(t, 'kind')}", f"a.{_column(resp, 'id')} IS NOT NULL"

    def count(condition: str) -> str:
        return f"COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0)"

    return (
        f"SELECT {count(f'{kind} <> %s')}, {count(f'{kind} <> %s AND {answered}')}, "
        f"{count(f'{kind} = %s')}, {count(f'{kind} = %s AND {answered}')} "
        f"FROM {_table(t)} t LEFT JOIN {_table(resp)} a ON a.{_column(resp, 'trial')} = t.{_column(t, 'id')} "
        f"WHERE t.{_column(t, 'reader')} = %s"
    )


def trial_counts(reader_id: int) -> dict[str, int]:
    """A reader's main (non-practice) and practice trials, all and answered."""
    with connection.cursor() as cursor:
        cursor.execute(_trial_counts_sql(), [TrialKind.PRACTICE.value] * 4 + [reader_id])
        total, done, practice_total, practice_done = (int(v) for v in cursor.fetchone())
    return {"total": total, "done": done, "practice_total": practice_total, "practice_done": practice_done}


@cache
def _touch_reader_sql() -> str:
    r, t = Reader, Trial
    finished = _column(r, "finished_at")
    return (
        f"UPDATE {_table(r)} SET {_column(r, 'last_seen_at')} = %s, {finished} = CASE "
        f"WHEN {finished} IS NULL AND NOT EXISTS (SELECT 1 FROM {_table(t)} t "
        f"WHERE t.{_column(t, 'reader')} = %s AND t.{_column(t, 'index')} > %s) THEN %s ELSE {finished} END "
        f"WHERE {_column(r, 'id')} = %s"
    )


def touch_reader(reader_id: int, answered_index: int) -> None:
    """After an answer to trial `answered_index`: the reader was seen now, and has finished if no trial follows.

    Answers come strictly in order, so no trial after the answered one means none is left unanswered.
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_touch_reader_sql(), [now, reader_id, answered_index, now, reader_id])
