"""The tidy responses table (docs/architecture.md): one row per response, for `analysis` and downloads."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from .models import Design, Response, Study

COLUMNS = [
    "study", "reader", "trial", "case", "source", "label", "truth", "answer", "confidence", "resolution", "trial_kind",
    "response_ms", "design", "alternatives", "chosen_position", "correct", "rating", "exposure_ms",
    "exposure_ok", "exposure_mode", "server_response_ms", "block", "repeat_of", "displayed_width", "displayed_height",
    "device_pixel_ratio", "reason", "reader_role", "reader_years_experience", "reader_subspecialty",
    "schedule_seed", "schedule_version", "received_at",
]

DATA_DICTIONARY = {
    "study": "The study's id in Mirage.",
    "reader": "The reader's code in this study (R001, R002... in order of invitation); names stay in Mirage.",
    "trial": "The trial's place in the reader's sequence, from 0 (practice first).",
    "case": "The image judged (for forced choice the odd image): an opaque id of one rendition at one resolution.",
    "source": "The source image the case was rendered from; shared by its renditions at every resolution.",
    "label": "The pool's label of the source (e.g. a finding), empty when unlabelled.",
    "truth": "real or synthetic: the class of the case.",
    "answer": "real, synthetic, or empty when the reader gave no class (forced choice, rating without the "
              "follow-up question, or no answer in time).",
    "confidence": "The reader's confidence on the study's scale (1-5 or 0-100), when asked.",
    "resolution": "The image's resolution in pixels (width = height).",
    "trial_kind": "main, practice, catch (attention check with an obviously synthetic image) or repeat.",
    "response_ms": "Time from the image's onset (or the mask, for a timed exposure) to the answer, in ms, "
                   "measured in the reader's browser.",
    "design": "single (real or synthetic?), choice (find the odd image), rating (realism scale).",
    "alternatives": "Images shown in the trial.",
    "chosen_position": "Forced choice: the position the reader chose, from 0 (left).",
    "correct": "1 if the answer was right, 0 if not; empty for a rating without the follow-up question.",
    "rating": "Realism rating, 1 = the scale's first (most synthetic) label.",
    "exposure_ms": "Requested exposure for a timed trial, in ms; empty when untimed.",
    "exposure_ok": "Whether the browser showed the image within one frame of the requested exposure.",
    "exposure_mode": "How the exposure was chosen: none (untimed), fixed, constant (a few levels in random "
                     "order, the method of constant stimuli) or staircase (adaptive; studies before constant "
                     "stimuli).",
    "server_response_ms": "Time between serving the trial and receiving the answer, measured on the server.",
    "block": "The block (round or resolution block) of the trial in the reader's sequence.",
    "repeat_of": "For a repeat trial, the trial number it repeats.",
    "displayed_width": "Width the image was shown at, in CSS pixels.",
    "displayed_height": "Height the image was shown at, in CSS pixels.",
    "device_pixel_ratio": "The screen's device pixels per CSS pixel.",
    "reason": "The reader's free-text reason, when asked (text starting with = + - or @ gets a leading ', so "
              "that a spreadsheet shows it rather than running it as a formula).",
    "reader_role": "The reader's role from the questionnaire (e.g. radiologist, resident).",
    "reader_years_experience": "Years of experience in image reading, from the questionnaire.",
    "reader_subspecialty": "The reader's subspecialty, from the questionnaire (optional; a leading ' as for "
                           "reason).",
    "schedule_seed": "The reader's schedule seed (the schedule is reproducible from it and the study seed).",
    "schedule_version": "The scheduler's version that made the reader's schedule.",
    "received_at": "When the server stored the answer (ISO 8601, UTC).",
}


def _ms(value):
    """Times as the browser measured them, to 0.1 ms (floating-point noise such as 1446.1999999999998 dropped)."""
    return None if value is None else round(float(value), 1)


# Text people typed (reader names, reasons) may start with a character a spreadsheet reads as a formula;
# opened in Excel or LibreOffice, "=HYPERLINK(...)" in a file of invitation links could send them away.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TYPED_TEXT = ("reason", "reader_subspecialty")


def spreadsheet_safe(value):
    """A typed text value for a CSV cell: one a spreadsheet would run as a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


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
            "reader": trial.reader.code,
            "trial": trial.index,
            "case": target.image.uid,
            "source": target.image.source_id,
            "label": target.image.label,
            "truth": target.image.image_class,
            "answer": r.answer,
            "confidence": r.confidence,
            "resolution": trial.resolution,
            "trial_kind": trial.kind,
            "response_ms": _ms(r.client_response_ms),
            "design": study.design,
            "alternatives": len(images) if study.design == Design.CHOICE else 1,
            "chosen_position": r.chosen_position,
            "correct": None if r.correct is None else int(r.correct),
            "rating": r.rating,
            "exposure_ms": trial.exposure_ms,
            "exposure_ok": r.exposure_ok,
            "exposure_mode": study.exposure_mode if trial.exposure_ms is not None else "none",
            "server_response_ms": _ms(r.server_response_ms),
            "block": trial.block,
            "repeat_of": trial.repeat_of.index if trial.repeat_of_id else None,
            "displayed_width": r.displayed_width,
            "displayed_height": r.displayed_height,
            "device_pixel_ratio": r.device_pixel_ratio,
            "reason": r.reason,
            "reader_role": (trial.reader.questionnaire or {}).get("role"),
            "reader_years_experience": (trial.reader.questionnaire or {}).get("years_experience"),
            "reader_subspecialty": (trial.reader.questionnaire or {}).get("subspecialty"),
            "schedule_seed": trial.reader.seed,
            "schedule_version": trial.reader.schedule_version,
            "received_at": r.received_at.isoformat(),
        }


def data_dictionary_csv() -> str:
    """The columns of the responses export with their meaning, as CSV (column, description)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["column", "description"])
    for column in COLUMNS:
        writer.writerow([column, DATA_DICTIONARY[column]])
    return buffer.getvalue()


def responses_frame(study: Study):
    import pandas as pd

    return pd.DataFrame(list(response_rows(study)), columns=COLUMNS)


def csv_lines(study: Study) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in response_rows(study):
        writer.writerow({**row, **{column: spreadsheet_safe(row[column]) for column in TYPED_TEXT}})
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
