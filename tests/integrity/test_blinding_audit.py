"""Blinding audit: a scripted reader reads a whole study of every design through the reader API, exactly as
the reading page does, and nothing it receives apart from the pixels predicts the truth better than chance.

The pool is built on purpose so that its files give the classes away: real images are noise (high
entropy, large PNGs, busy row filters), synthetic ones smooth (small PNGs). Everything the reader gets is
kept: the reading page's HTML, every JSON body, every image's bytes and headers, each request's time, the
order of the trials and their exposures. Each feature of that (file length, PNG layout, headers, key sets
and value types, exposure, position, the answer and the next exposure, token shapes, latencies) goes
through the held-out classifiers of `leakage.py`; none may beat its chance bound. Practice feedback tells
the class on purpose, so practice is audited for what that feedback would teach: its class (forced
choice: the odd image's position) must not follow the resolution, from one reader to the next. The same audit run
against servers leaking on purpose (the pool's own files, a staircase exposure, a key sent for one class,
a slower image for one class) must flag the leak, so it cannot pass by looking at nothing.
"""
from __future__ import annotations

import json
import random
import re
import struct
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client, override_settings
from PIL import Image

from readerstudy.models import Reader, Study, StudyStatus, Trial
from readerstudy.services import create_reader, save_design

from .leakage import Z, Verdict, digest, pick_accuracy, predictive_power

# What varies from run to run (request times, the letters of random tokens) is audited some twenty times
# in a run; at 4.0 standard errors (one-sided p = 3e-5 each) chance alone fails a run less than once in
# a thousand. Everything else is the same in every run (fixed seeds), so it passes or fails for good.
RANDOM_Z = 4.0

pytestmark = pytest.mark.django_db

RESOLUTIONS = [16, 32]

# Each design read by two readers; every study keeps the defaults not named here.
DESIGNS = {
    "single": dict(design="single", trials_per_resolution=24, practice_trials=4, catch_trials=2, repeat_trials=2),
    "single with confidence": dict(design="single", trials_per_resolution=24, confidence_scale="5",
                                   order="blocked", practice_trials=4),
    "forced choice of 2": dict(design="choice", alternatives=2, trials_per_resolution=16, practice_trials=8),
    "forced choice of 3": dict(design="choice", alternatives=3, trials_per_resolution=16, odd_class="synthetic",
                               practice_trials=6),
    "rating": dict(design="rating", trials_per_resolution=24),
    "rating then real or synthetic": dict(design="rating", trials_per_resolution=24, rating_ask_class=True),
    "fixed exposure": dict(design="single", trials_per_resolution=24, exposure_mode="fixed", exposure_ms=100,
                           practice_trials=2),
    "constant stimuli": dict(design="single", trials_per_resolution=24, exposure_mode="constant",
                             exposure_levels_ms=[50, 100, 200, 400], practice_trials=2),
}
READERS_PER_DESIGN = 2


# ----------------------------------------------------------------------------- a pool that gives itself away

@pytest.fixture(scope="session")
def telltale_pool_dir(tmp_path_factory) -> Path:
    """100 real sources of noise and 100 synthetic smooth ones (and 6 catch images), at 16 and 32 px."""
    from generation.pool import build_pool

    root = tmp_path_factory.mktemp("telltale-src")
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:48, 0:48] / 48
    for cls in ("real", "synthetic", "catch"):
        (root / cls).mkdir()
    for i in range(100):
        noise = rng.integers(0, 256, (48, 48)).astype(np.float64)
        Image.fromarray((0.3 * 255 * x + 0.7 * noise).astype(np.uint8)).save(root / "real" / f"r{i:03d}.png")
        cx, cy, r = rng.uniform(0.3, 0.7, 2).tolist() + [rng.uniform(0.15, 0.4)]
        smooth = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r ** 2))
        Image.fromarray((255 * smooth).astype(np.uint8)).save(root / "synthetic" / f"s{i:03d}.png")
    for i in range(6):
        Image.fromarray(np.full((48, 48), 40 * i, dtype=np.uint8)).save(root / "catch" / f"c{i}.png")
    out = root / "pool"
    build_pool(root / "real", root / "synthetic", out, resolutions=tuple(RESOLUTIONS), seed=5, workers=1,
               generator_name="smooth-blobs", catch_dir=root / "catch")
    return out


def make_study(pool, name: str, seed: int, **overrides) -> Study:
    fields = dict(name=name, pool=pool, status=StudyStatus.OPEN, resolutions=RESOLUTIONS, blank_ms=0, seed=seed)
    fields.update(overrides)
    return Study.objects.create(**fields)


def invite_readers(study: Study, n: int) -> list[Reader]:
    """`n` readers with fixed seeds, so every run reads the same schedules (only tokens and timing vary)."""
    readers = [create_reader(study, f"Reader {i}") for i in range(n)]
    for i, reader in enumerate(readers):
        Reader.objects.filter(pk=reader.pk).update(seed=1000 * study.seed + i)
    save_design(Study.objects.get(pk=study.pk))  # rebuilds each schedule from the reader's stored seed
    return list(Reader.objects.filter(study=study).order_by("ordinal"))


# ----------------------------------------------------------------------------- what the reader receives

@dataclass
class ServedImage:
    position: int
    url: str
    data: bytes
    headers: tuple
    ms: float
    image_class: str = ""
    uid: str = ""
    resolution: int = 0


@dataclass
class SeenTrial:
    """One trial as the scripted reader met it, then (after reading) what the server knew about it."""
    design: str
    reader: int
    order: int                       # trials answered before it
    token: str
    payload: dict                    # the trial as the state gave it when current
    preview: dict | None             # the trial as the state before gave it, as the next one
    state: dict                      # the whole state it came in
    state_ms: float
    html: str                        # the reading page, loaded while this trial was current
    html_ms: float
    images: list[ServedImage]
    answer: dict
    ack: dict
    ack_ms: float
    kind: str = ""
    truth: str = ""
    odd_position: int | None = None
    correct: bool | None = None      # as the server scored my answer (None: a rating has no right answer)
    uids: tuple = ()
    masked: dict = field(default_factory=dict)


JSON_SCRIPT = re.compile(r'<script id="([\w-]+)" type="application/json">(.*?)</script>', re.S)
CSRF = re.compile(r'(id="csrf-token" value=")[^"]*(")')


def page_json(html: str) -> dict[str, dict]:
    return {name: json.loads(body) for name, body in JSON_SCRIPT.findall(html)}


def choose(display: dict, trial: dict, rng: random.Random) -> dict:
    """A chance-level reader's answer, with the fields the page sends for this design."""
    answer: dict = {}
    if display["design"] == "single":
        answer["answer"] = rng.choice(["real", "synthetic"])
    elif display["design"] == "choice":
        answer["chosen_position"] = rng.randrange(len(trial["images"]))
    else:
        answer["rating"] = rng.randint(1, len(display["rating_labels"]))
        if display["rating_ask_class"]:
            answer["answer"] = rng.choice(["real", "synthetic"])
    if display["confidence_scale"] != "off" and trial["kind"] != "practice":
        answer["confidence"] = rng.randint(1, 5) if display["confidence_scale"] == "5" else rng.randint(0, 100)
    return answer


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - start) * 1000


def read_study(client: Client, design: str, reader: Reader, seed: int) -> list[SeenTrial]:
    """Read every trial of `reader` as the page does: questionnaire, page, state, images, answers."""
    rng = random.Random(seed)
    base = f"/api/reader/{reader.token}"
    started = client.post(f"{base}/start/", {"role": "radiologist", "years_experience": 7, "consent": True},
                          content_type="application/json")
    assert started.status_code == 200, started.content
    fetched: dict[str, ServedImage] = {}
    seen: list[SeenTrial] = []
    preview: dict[str, dict] = {}
    while True:
        page, html_ms = timed(lambda: client.get(f"/r/{reader.token}/read/"))
        if page.status_code == 302:
            assert page["Location"].endswith("/done/"), page["Location"]
            break
        assert page.status_code == 200
        html = page.content.decode()
        display = page_json(html)["reader-display"]
        response, state_ms = timed(lambda: client.get(f"{base}/"))
        state = response.json()
        trial = state["trials"][0]
        for shown in state["trials"]:  # the page preloads the next trial's images too
            for image in shown["images"]:
                if image["url"] not in fetched:
                    got, ms = timed(lambda: client.get(image["url"]))
                    assert got.status_code == 200, got.content
                    fetched[image["url"]] = ServedImage(image["position"], image["url"], got.content,
                                                        tuple(sorted(got.items())), ms)
        answer = choose(display, trial, rng)
        body = {"trial": trial["token"], "client_key": f"key-{len(seen)}", "timed_out": False,
                "client_response_ms": 900.0, "displayed_width": 512.0, "displayed_height": 512.0,
                "device_pixel_ratio": 1.0, **answer}
        if trial["exposure_ms"]:
            body.update(client_exposure_ms=float(trial["exposure_ms"]), requested_exposure_ms=trial["exposure_ms"])
        ack, ack_ms = timed(lambda: client.post(f"{base}/responses/", body, content_type="application/json"))
        assert ack.status_code == 201, ack.content
        seen.append(SeenTrial(design, reader.ordinal, len(seen), trial["token"], trial, preview.get(trial["token"]),
                              state, state_ms, html, html_ms, [fetched[i["url"]] for i in trial["images"]],
                              answer, ack.json(), ack_ms))
        for shown in state["trials"][1:]:
            preview[shown["token"]] = shown
    _add_truth(seen, reader)
    return seen


def _add_truth(seen: list[SeenTrial], reader: Reader) -> None:
    """What the server knows and the reader must not: each trial's kind, classes and odd image."""
    trials = {t.token: t for t in Trial.objects.filter(reader=reader).select_related("response")
              .prefetch_related("images__image")}
    tokens = [reader.token] + [t.token for t in trials.values()] + [
        ti.token for t in trials.values() for ti in t.images.all()]
    for trial in seen:
        stored = trials[trial.token]
        images = list(stored.images.all())
        trial.kind, trial.truth, trial.odd_position = stored.kind, stored.truth, stored.odd_position
        trial.correct = stored.response.correct
        trial.uids = tuple(sorted(ti.image.uid for ti in images))
        for served, ti in zip(trial.images, images):
            served.image_class, served.uid, served.resolution = ti.image.image_class, ti.image.uid, ti.image.resolution
        trial.masked = {name: _mask(value, tokens) for name, value in (
            ("payload", trial.payload), ("state", {k: v for k, v in trial.state.items() if k != "trials"}),
            ("ack", {k: v for k, v in trial.ack.items() if k != "state"}),
            ("html", CSRF.sub(r"\1<csrf>\2", trial.html)), ("image urls", [i.url for i in trial.images]),
            ("preview", trial.preview))}


def _mask(value, tokens: list[str]):
    """`value` with every invitation, trial and image token replaced by a placeholder."""
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    for token in tokens:
        text = text.replace(token, "<token>")
    return text if isinstance(value, str) else json.loads(text)


# ----------------------------------------------------------------------------- features

def shape(value):
    """Key sets and value types, recursively (list lengths included): what a body looks like, not says."""
    if isinstance(value, dict):
        return tuple(sorted((key, shape(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("list", tuple(shape(item) for item in value))
    return type(value).__name__


def leaves(value, path: str = "") -> dict[str, object]:
    """Every scalar of a body by its path (images[1].position), for one lookup each."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in leaves(item, f"{path}.{key}" if path else key).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in leaves(item, f"{path}[{i}]").items()}
    return {path: value}


def png_parts(data: bytes) -> tuple[list, bytes, bytes]:
    """A PNG's chunks (type, length, IHDR body), its zlib stream's header and every row's filter byte."""
    chunks, position, idat = [], 8, b""
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        chunks.append((kind, length, body if kind == b"IHDR" else b""))
        idat += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height = struct.unpack(">II", chunks[0][2][:8])
    rows = zlib.decompress(idat)
    return chunks, idat[:2], bytes(rows[i * (width + 1)] for i in range(height))


def png_layout(data: bytes) -> str:
    """All of a PNG but its pixels and checksums, as one value: chunks, IHDR, zlib header, row filters."""
    chunks, header, filters = png_parts(data)
    return digest((data[:8], chunks, header, filters))


def png_filter_mix(data: bytes) -> float:
    """The share of rows that use the commonest row filter (all rows, 1.0, for a canonical PNG): an
    adaptive encoder picks Paeth for nearly every row of a smooth image and mixes filters in a busy one."""
    filters = png_parts(data)[2]
    return max(Counter(filters).values()) / len(filters)


def header_values(image: ServedImage) -> str:
    return digest([(name, value) for name, value in image.headers if name != "Content-Length"])


def content_length(image: ServedImage) -> int:
    return int(dict(image.headers).get("Content-Length", -1))


def token_shape(token: str) -> tuple:
    return (len(token), "-" in token, "_" in token, token[:1].isdigit(), token[:1].isupper())


def audit_trials(seen: list[SeenTrial], *, with_random: bool) -> list[Verdict]:
    """Every protocol and file feature of these trials against the truth (the class; the odd image's
    position in forced choice). Practice trials are left out: their feedback tells the class on purpose.

    `with_random` adds the features that vary from run to run (times, token letters); they are audited
    over many trials at once, so that chance alone flags them about once in 2,000 runs.
    """
    trials = [t for t in seen if t.kind != "practice"]
    if not trials:
        return []
    choice = trials[0].odd_position is not None
    labels = [t.odd_position if choice else t.truth for t in trials]
    groups = [t.uids for t in trials]
    design = [t.design for t in trials]
    first = [t.images[0] for t in trials]
    verdicts = []

    def check(name, values, kind="lookup", strata=None, z=Z):
        strata = [(d, s) for d, s in zip(design, strata)] if strata is not None else design
        verdicts.append(predictive_power(name, values, labels, kind=kind, groups=groups, strata=strata, z=z))

    check("nothing at all (the classes' base rates)", [0] * len(trials))
    check("trial: as sent (tokens masked)", [digest(t.masked["payload"]) for t in trials])
    check("trial: key set and value types", [digest(shape(t.payload)) for t in trials])
    paths = sorted({path for t in trials for path in leaves(t.masked["payload"])})
    for path in paths:
        check(f"trial: {path}", [repr(leaves(t.masked["payload"]).get(path)) for t in trials])
    check("trial: as previewed the trial before", [digest(t.masked["preview"]) for t in trials])
    check("exposure_ms", [t.payload["exposure_ms"] or 0 for t in trials], kind="threshold")
    check("position in the sequence", [t.order for t in trials], kind="threshold")
    check("state around the trial (tokens masked)", [digest(t.masked["state"]) for t in trials])
    check("state: key set and value types", [digest(shape(t.state)) for t in trials])
    check("reading page HTML (tokens masked)", [digest(t.masked["html"]) for t in trials])
    check("reading page HTML length", [len(t.masked["html"]) for t in trials], kind="threshold")
    check("the acknowledgement (tokens masked)", [digest(t.masked["ack"]) for t in trials])
    # What follows an answer must not tell whether it was right: that and the answer give the truth.
    nxt = {(t.design, t.reader, t.order): t for t in seen}
    scored = [t for t in trials if t.correct is not None]

    def check_right(name, values, kind="lookup", z=Z):
        verdicts.append(predictive_power(name, values, [t.correct for t in scored], kind=kind,
                                         groups=[t.uids for t in scored], strata=[t.design for t in scored], z=z))

    check_right("the next exposure, against my answer being right", [
        _next_exposure(t, nxt) - (t.payload["exposure_ms"] or 0) for t in scored])
    check_right("the acknowledgement, against my answer being right", [digest(t.masked["ack"]) for t in scored])
    check_right("the next trial, against my answer being right", [
        digest(_next(t, nxt) and _next(t, nxt).masked["payload"]) for t in scored])
    check("image URLs (tokens masked)", [digest(t.masked["image urls"]) for t in trials])
    if not choice:
        check("image bytes: length", [len(i.data) for i in first], "threshold", [i.resolution for i in first])
        check("image: PNG layout", [png_layout(i.data) for i in first])
        check("image: PNG row filter mix", [png_filter_mix(i.data) for i in first], "threshold",
              [i.resolution for i in first])
        check("image: response headers", [header_values(i) for i in first])
        check("image: Content-Length", [content_length(i) for i in first], "threshold", [i.resolution for i in first])
    if with_random:
        check("trial token: length and letters", [token_shape(t.token) for t in trials], z=RANDOM_Z)
        check("state request time", [t.state_ms for t in trials], "threshold", [0] * len(trials), RANDOM_Z)
        check_right("answer request time, against my answer being right", [t.ack_ms for t in scored],
                    "threshold", RANDOM_Z)
        check("reading page time", [t.html_ms for t in trials], "threshold", [0] * len(trials), RANDOM_Z)
        if not choice:
            check("image token: length and letters", [token_shape(i.url.rstrip("/").rsplit("/", 1)[1]) for i in first],
                  z=RANDOM_Z)
            check("image request time", [i.ms for i in first], "threshold", [i.resolution for i in first], RANDOM_Z)
    if choice:
        verdicts += audit_picks(trials, with_random=with_random)
    return verdicts


def _next(trial: SeenTrial, by_order: dict) -> SeenTrial | None:
    return by_order.get((trial.design, trial.reader, trial.order + 1))


def _next_exposure(trial: SeenTrial, by_order: dict) -> int:
    following = _next(trial, by_order)
    return (following.payload["exposure_ms"] or 0) if following else -1


def audit_picks(trials: list[SeenTrial], *, with_random: bool) -> list[Verdict]:
    """Forced choice: picking an image by a file feature must find the odd one at chance (1/m)."""
    features = {"image bytes: length": (lambda i: len(i.data), ("smallest", "largest"), Z),
                "image: PNG layout": (lambda i: png_layout(i.data), ("odd one out",), Z),
                "image: PNG row filter mix": (lambda i: png_filter_mix(i.data), ("smallest", "largest"), Z),
                "image: response headers": (header_values, ("odd one out",), Z),
                "image: Content-Length": (content_length, ("smallest", "largest"), Z)}
    if with_random:
        features.update({"image request time": (lambda i: i.ms, ("smallest", "largest"), RANDOM_Z),
                         "image token": (lambda i: i.url, ("smallest", "largest"), RANDOM_Z)})
    verdicts = []
    for name, (value, rules, z) in features.items():
        for rule in rules:
            verdicts.append(pick_accuracy(name, [([value(i) for i in t.images], t.odd_position) for t in trials],
                                          rule, z))
    return verdicts


def audit_images(seen: list[SeenTrial], *, with_random: bool) -> list[Verdict]:
    """Every image served, whatever the design, against its own class."""
    images = {}
    for trial in seen:
        if trial.kind != "practice":
            for image in trial.images:
                images[(trial.design, trial.reader, image.url)] = image
    served = list(images.values())
    labels = [i.image_class for i in served]
    groups = [i.uid for i in served]
    res = [i.resolution for i in served]
    verdicts = [
        predictive_power("every image: byte length", [len(i.data) for i in served], labels, kind="threshold",
                         groups=groups, strata=res),
        predictive_power("every image: PNG layout", [png_layout(i.data) for i in served], labels, groups=groups),
        predictive_power("every image: PNG row filter mix", [png_filter_mix(i.data) for i in served], labels,
                         kind="threshold", groups=groups, strata=res),
        predictive_power("every image: response headers", [header_values(i) for i in served], labels,
                         groups=groups),
        predictive_power("every image: Content-Length", [content_length(i) for i in served], labels,
                         kind="threshold", groups=groups, strata=res),
    ]
    if with_random:
        verdicts.append(predictive_power("every image: request time", [i.ms for i in served], labels,
                                         kind="threshold", groups=groups, strata=res, z=RANDOM_Z))
    return verdicts


def audit_practice(seen: list[SeenTrial]) -> list[Verdict]:
    """What practice feedback would teach: the class (forced choice of m: the odd position) from the resolution.

    Held out by reader: a rule the practice of some readers teaches must not hold for the others' practice.
    """
    practice = [t for t in seen if t.kind == "practice"]
    kinds = {"class": [t for t in practice if t.odd_position is None]}
    for m in sorted({len(t.images) for t in practice if t.odd_position is not None}):
        kinds[f"odd position of {m}"] = [t for t in practice if t.odd_position is not None and len(t.images) == m]
    return [predictive_power(f"practice: {name} from the resolution", [t.images[0].resolution for t in trials],
                             [t.truth if t.odd_position is None else t.odd_position for t in trials],
                             groups=[(t.design, t.reader) for t in trials])
            for name, trials in kinds.items() if trials]


def leaks(verdicts: list[Verdict]) -> list[str]:
    return [str(v) for v in verdicts if v.leaks]


def report(verdicts: list[Verdict]) -> str:
    return "\n".join(str(v) for v in verdicts)


# ----------------------------------------------------------------------------- reading every design

@pytest.fixture(scope="module")
def transcripts(django_db_setup, django_db_blocker, telltale_pool_dir, tmp_path_factory) -> dict[str, list[SeenTrial]]:
    """Every design read to the end by its readers; the database is rolled back afterwards."""
    from readerstudy.pools import import_pool

    media = tmp_path_factory.mktemp("audit-media")
    read: dict[str, list[SeenTrial]] = {}
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media, POOL_ROOT=media / "pools"):
        cache.clear()
        assert "test" in connection.settings_dict["NAME"], "not the test database"
        with transaction.atomic():
            pool, _ = import_pool(telltale_pool_dir, "Telltale pool", copy=False)
            client = Client()
            for number, (design, overrides) in enumerate(DESIGNS.items()):
                study = make_study(pool, design, seed=101 + number, **overrides)
                read[design] = [trial for reader in invite_readers(study, READERS_PER_DESIGN)
                                for trial in read_study(client, design, reader, seed=reader.seed)]
            transaction.set_rollback(True)
    return read


def test_the_pool_files_themselves_tell_the_classes_apart(telltale_pool_dir):
    """The fixture leaks at the file level on purpose: only what the server sends protects the blinding."""
    manifest = json.loads((telltale_pool_dir / "manifest.json").read_bytes())
    entries = [e for e in manifest["images"] if e.get("role", "main") == "main"]
    sizes = [(telltale_pool_dir / e["file"]).stat().st_size for e in entries]
    verdict = predictive_power("pool file length", sizes, [e["class"] for e in entries], kind="threshold",
                               groups=[e["source_id"] for e in entries], strata=[e["resolution"] for e in entries])
    assert verdict.accuracy > 0.95, verdict
    mix = [png_filter_mix((telltale_pool_dir / e["file"]).read_bytes()) for e in entries]
    assert predictive_power("pool PNG row filter mix", mix, [e["class"] for e in entries], kind="threshold",
                            groups=[e["source_id"] for e in entries], strata=[e["resolution"] for e in entries]).leaks


@pytest.mark.parametrize("design", DESIGNS)
def test_nothing_a_reader_of_this_design_receives_predicts_the_truth(transcripts, design):
    seen = transcripts[design]
    assert len([t for t in seen if t.kind != "practice"]) >= 60, "too few trials to audit"
    if DESIGNS[design].get("exposure_mode") == "constant":
        assert {t.payload["exposure_ms"] for t in seen if t.kind != "practice"} == {50, 100, 200, 400}
        # Timed practice, the longest levels first, is read (and sends its exposure) like any trial.
        assert [t.payload["exposure_ms"] for t in seen if t.kind == "practice"] == [400, 200] * READERS_PER_DESIGN
    if DESIGNS[design].get("exposure_mode") == "fixed":
        assert {t.payload["exposure_ms"] for t in seen} == {100}
    verdicts = audit_trials(seen, with_random=False)
    assert not leaks(verdicts), report(verdicts)


def test_across_every_design_no_feature_of_the_trials_or_their_timing_predicts_the_truth(transcripts):
    single = [t for design, seen in transcripts.items() if DESIGNS[design]["design"] != "choice" for t in seen]
    choice = [t for design, seen in transcripts.items() if DESIGNS[design]["design"] == "choice" for t in seen]
    verdicts = audit_trials(single, with_random=True) + audit_trials(choice, with_random=True)
    assert not leaks(verdicts), report(verdicts)


def test_no_image_served_in_any_design_predicts_its_own_class(transcripts):
    everything = [t for seen in transcripts.values() for t in seen]
    verdicts = audit_images(everything, with_random=True)
    assert all(v.n >= 500 for v in verdicts)
    assert not leaks(verdicts), report(verdicts)


def test_practice_feedback_teaches_no_rule_from_the_resolution(transcripts):
    everything = [t for seen in transcripts.values() for t in seen]
    verdicts = audit_practice(everything)
    assert [v.feature for v in verdicts] == ["practice: class from the resolution",
                                             "practice: odd position of 2 from the resolution",
                                             "practice: odd position of 3 from the resolution"]
    assert all(v.n >= 12 for v in verdicts)
    assert not leaks(verdicts), report(verdicts)


def test_catch_and_repeated_trials_reach_the_reader_as_main_trials(transcripts):
    seen = transcripts["single"]
    assert {t.kind for t in seen} == {"practice", "main", "catch", "repeat"}
    assert {t.payload["kind"] for t in seen if t.kind != "practice"} == {"main"}


# ----------------------------------------------------------------------------- the audit catches leaks

@pytest.fixture
def audit_pool(db, telltale_pool_dir, media_root):
    from readerstudy.pools import import_pool

    return import_pool(telltale_pool_dir, "Telltale pool", copy=False)[0]


def read_design(client, pool, design: str, overrides: dict | None = None, readers: int = 2) -> list[SeenTrial]:
    study = make_study(pool, design, seed=77, **(overrides if overrides is not None else DESIGNS[design]))
    return [t for reader in invite_readers(study, readers) for t in read_study(client, design, reader, reader.seed)]


def flagged(verdicts: list[Verdict]) -> set[str]:
    return {v.feature for v in verdicts if v.leaks}


def test_the_audit_flags_a_server_that_sends_the_pools_own_files(client, audit_pool, monkeypatch):
    monkeypatch.setattr("readerstudy.api.reader.canonical_bytes", lambda path: Path(path).read_bytes())
    single = read_design(client, audit_pool, "single")
    assert {"image bytes: length", "image: PNG row filter mix", "image: Content-Length"} <= flagged(
        audit_trials(single, with_random=False))
    choice = read_design(client, audit_pool, "forced choice of 2", readers=1)
    assert {"image bytes: length (smallest)", "image bytes: length (largest)", "image: PNG row filter mix (largest)",
            "image: Content-Length (largest)"} & flagged(audit_picks(choice, with_random=False))
    assert {"every image: byte length", "every image: PNG row filter mix", "every image: Content-Length"} <= flagged(
        audit_images(single + choice, with_random=False))


def test_the_audit_flags_an_exposure_that_follows_the_last_answer(client, audit_pool):
    # The adaptive staircase, kept for old studies: each exposure follows the last answer's correctness.
    staircase = read_design(client, audit_pool, "staircase", dict(design="single", trials_per_resolution=24,
                                                                   exposure_mode="staircase", exposure_ms=200))
    assert "the next exposure, against my answer being right" in flagged(audit_trials(staircase, with_random=False))


def test_the_audit_flags_a_key_sent_for_one_class_only(client, audit_pool, monkeypatch):
    from readerstudy import readerstate

    def payload_with_a_hint(pending, reader, url_for_image, *, current):
        payload = trial_payload(pending, reader, url_for_image, current=current)
        if pending.truth == "synthetic":
            payload["cached"] = True
        return payload

    trial_payload = readerstate.trial_payload
    monkeypatch.setattr(readerstate, "trial_payload", payload_with_a_hint)
    seen = read_design(client, audit_pool, "rating")
    assert {"trial: key set and value types", "trial: as sent (tokens masked)"} <= flagged(
        audit_trials(seen, with_random=False))


def test_the_audit_flags_an_image_that_takes_longer_for_one_class(client, audit_pool, monkeypatch):
    from readerstudy.api import reader as reader_api

    real = {str(image.path) for image in audit_pool.images.filter(image_class="real")}
    canonical_bytes = reader_api.canonical_bytes

    def slow_for_real(path):
        if str(path) in real:
            time.sleep(0.025)  # well above the noise of a busy machine
        return canonical_bytes(path)

    monkeypatch.setattr(reader_api, "canonical_bytes", slow_for_real)
    seen = read_design(client, audit_pool, "single", readers=1)
    assert "image request time" in flagged(audit_trials(seen, with_random=True))


def test_the_audit_flags_practice_whose_class_follows_the_resolution(client, audit_pool, monkeypatch):
    # Schedule version 2 alternated the practice class with the resolutions: with two resolutions, every
    # reader's larger practice images were real and the smaller ones synthetic.
    from readerstudy import services

    monkeypatch.setattr(services, "SCHEDULE_VERSION", "2")
    seen = read_design(client, audit_pool, "old practice", dict(design="single", trials_per_resolution=2,
                                                                 practice_trials=8))
    assert "practice: class from the resolution" in flagged(audit_practice(seen))
