"""The tidy responses table (docs/architecture.md): one row per response, for `analysis` and downloads."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from .models import Design, Response, Study

COLUMNS = [
    "study", "reader", "trial", "case", "source", "label", "truth", "answer", "confidence", "resolution", "trial_kind",
    "response_ms", "design", "alternatives", "chosen_position", "correct", "rating", "exposure_ms",
    "exposure_ok", "server_response_ms", "block", "repeat_of", "displayed_width", "displayed_height",
    "device_pixel_ratio", "reason", "schedule_seed", "schedule_version", "received_at",
]


def response_rows(study: Study) -> Iterator[dict]:
    """Yield tidy rows, streaming from the database in chunks (large studies never sit in memory whole)."""
    responses = (
        Response.objects.filter(trial__reader__study=study)
        .select_related("trial", "trial__reader", "trial__repeat_of")
        .prefetch_related("trial__images__image")
        .order_by("trial__reader_id", "trial__index")
    )
    for r in responses.iterator(chunk_size=2000):
        trial = r.trial
        images = sorted(trial.images.all(), key=lambda ti: ti.position)
        target = images[trial.odd_position] if trial.odd_position is not None else images[0]
        yield {
            "study": study.pk,
            "reader": trial.reader_id,
            "trial": trial.index,
            "case": target.image.uid,
            "source": target.image.source_id,
            "label": target.image.label,
            "truth": target.image.image_class,
            "answer": r.answer,
            "confidence": r.confidence,
            "resolution": trial.resolution,
            "trial_kind": trial.kind,
            "response_ms": r.client_response_ms,
            "design": study.design,
            "alternatives": len(images) if study.design == Design.CHOICE else 1,
            "chosen_position": r.chosen_position,
            "correct": None if r.correct is None else int(r.correct),
            "rating": r.rating,
            "exposure_ms": trial.exposure_ms,
            "exposure_ok": r.exposure_ok,
            "server_response_ms": r.server_response_ms,
            "block": trial.block,
            "repeat_of": trial.repeat_of.index if trial.repeat_of_id else None,
            "displayed_width": r.displayed_width,
            "displayed_height": r.displayed_height,
            "device_pixel_ratio": r.device_pixel_ratio,
            "reason": r.reason,
            "schedule_seed": trial.reader.seed,
            "schedule_version": trial.reader.schedule_version,
            "received_at": r.received_at.isoformat(),
        }


def responses_frame(study: Study):
    import pandas as pd

    return pd.DataFrame(list(response_rows(study)), columns=COLUMNS)


def csv_lines(study: Study) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in response_rows(study):
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
