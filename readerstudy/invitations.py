"""Inviting many readers at once: a pasted list or a CSV file, checked whole before anyone is invited.

`parse_reader_list` is pure: text in, rows or every problem with its line number out. `invite_readers` is
the service the page (and any script) calls: all the rows are invited in one transaction or none is, and a
second submission of the same form (a double click) invites nobody twice. One reader at a time goes through
`services.invite_reader`; both share the name rule (unique in a study, case and spaces ignored).
"""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from .models import Reader, Study, StudyStatus
from .scheduling import ScheduleError
from .services import ActionRefused, create_reader, same_name, send_invitation, sent_again

logger = logging.getLogger(__name__)

MAX_READERS = 500  # one list; a larger study is invited in several
EMAIL_LENGTH = Reader._meta.get_field("email").max_length
HEADER_NAMES = {"name": "name", "reader": "name", "code": "name", "email": "email", "e-mail": "email",
                "mail": "email", "account": "account", "username": "account", "user": "account"}


@dataclass(frozen=True)
class InviteRow:
    line: int
    name: str
    email: str = ""
    account: str = ""


class ReaderListError(ValueError):
    """The list cannot be used as it is; `problems` says why, line by line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_reader_list(text: str) -> list[InviteRow]:
    """Rows from a pasted list or a CSV file: one reader per line, `name[, e-mail][, account]`.

    Commas, semicolons or tabs separate the columns (a spreadsheet pastes tabs); `Name <e-mail>` works too. A
    first line naming the columns (name, email, account in any order) is read as a header. Blank lines and
    lines starting with # are skipped. Every problem is reported, not only the first.
    """
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise ReaderListError(["The list is empty: give one reader per line (name, and optionally e-mail and "
                               "account)."])
    sample = "\n".join(line for _, line in lines[:5])
    delimiter = max("\t,;", key=sample.count) if any(c in sample for c in "\t,;") else "\t"
    columns = ["name", "email", "account"]
    first = [cell.strip().casefold() for cell in next(csv.reader([lines[0][1]], delimiter=delimiter))]
    if first and all(cell in HEADER_NAMES for cell in first if cell) and "name" in {HEADER_NAMES.get(c) for c in first}:
        columns = [HEADER_NAMES.get(cell, "") for cell in first]
        lines = lines[1:]
    problems, rows = [], []
    if len(lines) > MAX_READERS:
        raise ReaderListError([f"The list has {len(lines)} readers; invite at most {MAX_READERS} at a time."])
    for number, line in lines:
        cells = [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter))]
        if len(cells) > len(columns):
            problems.append(f"line {number}: {len(cells)} columns; give name, e-mail and account at most")
            continue
        values = dict(zip(columns, cells))
        name, email = " ".join(values.get("name", "").split()), values.get("email", "")
        if "<" in name and name.endswith(">") and not email:  # Ada Lovelace <ada@example.org>
            name, _, email = name[:-1].partition("<")
            name, email = " ".join(name.split()), email.strip()
        if not name:
            problems.append(f"line {number}: no reader name")
            continue
        if len(name) > 200:
            problems.append(f"line {number}: the name is longer than 200 characters")
            continue
        if len(email) > EMAIL_LENGTH:
            problems.append(f"line {number}: the e-mail address is longer than {EMAIL_LENGTH} characters")
            continue
        if email:
            try:
                validate_email(email)
            except ValidationError:
                problems.append(f"line {number}: {email!r} is not an e-mail address")
                continue
        rows.append(InviteRow(number, name, email, values.get("account", "")))
    for i, row in enumerate(rows):
        earlier = next((other for other in rows[:i] if same_name(other.name, row.name)), None)
        if earlier is not None:
            problems.append(f"line {row.line}: {row.name!r} is already on line {earlier.line}")
    if problems:
        raise ReaderListError(problems)
    return rows


def read_reader_file(data: bytes) -> str:
    """The text of an uploaded CSV (UTF-8, with or without a byte-order mark, or Latin-1 from old Excel)."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ReaderListError(["The file is not text (save it as CSV, UTF-8)."])


def invite_readers(study: Study, rows: list[InviteRow], *, link_for=None,
                   shown_at=None) -> tuple[list[Reader], list[str]]:
    """Invite every row, or nobody; returns (readers invited now, e-mail problems).

    Refused as a whole (ActionRefused, nothing changed) when the study is closed, a name is already
    invited, an account does not exist, or the pool cannot supply the readers' schedules. The same list
    sent again since `shown_at` (when the form was shown) invites nobody and returns no readers. E-mails
    go out after the readers are stored; a failed e-mail leaves its reader invited and is reported.
    """
    User = get_user_model()
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        if locked.status == StudyStatus.CLOSED:
            raise ActionRefused("This study is closed; no new readers can join.")
        accounts = {}
        wanted = {row.account for row in rows if row.account}
        if wanted:
            accounts = {user.get_username(): user for user in User.objects.filter(username__in=wanted, is_active=True)}
        if shown_at is not None and rows and all(
                sent_again(locked, shown_at, row.name, row.email, accounts.get(row.account)) for row in rows):
            return [], []  # the same list, sent again from the same page: what the first one invited stands
        existing = list(locked.readers.values_list("name", flat=True))
        problems = [f"line {row.line}: a reader called {row.name!r} is already invited to this study"
                    for row in rows if any(same_name(name, row.name) for name in existing)]
        problems += [f"line {row.line}: no active account is called {row.account!r}"
                     for row in rows if row.account and row.account not in accounts]
        if problems:
            raise ActionRefused("Nobody was invited: " + "; ".join(problems) + ".", 400)
        try:
            readers = [create_reader(locked, row.name, row.email, user=accounts.get(row.account)) for row in rows]
        except ScheduleError as exc:
            raise ActionRefused(f"Nobody was invited: {exc}", 400) from None
    failed = []
    for reader in readers:  # the readers are stored: a failed e-mail is said, and Remind sends the link again
        address = reader.email or (reader.user.email if reader.user else "")
        if address and link_for is not None:
            try:
                send_invitation(locked, reader, address, link_for(reader))
            except ActionRefused as exc:
                failed.append(str(exc))
            except Exception as exc:  # noqa: BLE001 - any mail failure (a header, the server) is reported
                logger.warning("invitation e-mail to reader %s failed: %s", reader.pk, exc)
                failed.append(f"{reader.name} is invited, but the e-mail to {address} could not be sent "
                              f"({type(exc).__name__}); use Remind, or copy their link from the table.")
    return readers, failed
