"""Benchmark one trial of the reading screen, end to end, on loopback.

1. Server: one trial round trip as the reading screen does it -- POST the answer to
   /api/reader/<token>/responses/ (its response already carries the next state), then GET the next
   trial's image(s) -- beside a minimal Django view (a small JSON answer) served by the same gunicorn
   process, through the same middleware, over the same keep-alive connection, interleaved 1:1.
2. Browser: in headless Chromium, the time from a key press to the next image painted (keydown capture
   listener on document -> MutationObserver on #images -> double requestAnimationFrame).

Everything runs in one temporary directory (SQLite database, media, the pool, static files) that is
removed at the end, as is the server, even on error; with --database-url the database is a new PostgreSQL
database, dropped at the end:

    .venv/bin/python bench/trial_latency.py [--trials-per-resolution 56] [--browser-trials 200]
        [--database-url postgres://mirage:mirage@127.0.0.1:5432/mirage]

Prints a markdown table; asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import DatabaseError, create_database, drop_database, redact  # noqa: E402
from gunicorn_server import stop_server, wait_until_healthy  # noqa: E402

RESOLUTIONS = (32, 64, 128, 256)
CHROMIUM = os.environ.get("MIRAGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

# A settings module that is readerstudy.settings with one change: a URLconf that adds the minimal view.
BENCH_SETTINGS = """\
from readerstudy.settings import *  # noqa: F401,F403

ROOT_URLCONF = "mirage_bench_urls"
"""
BENCH_URLS = """\
import os
from pathlib import Path

from django.http import HttpResponse, JsonResponse
from django.urls import include, path


def minimal(request):
    return JsonResponse({"ok": True})


FILES = sorted(Path(os.environ["MIRAGE_BENCH_POOL"]).rglob("*.png"))


def minimal_image(request, n):
    # The floor of an image request: a pool PNG read from disk, with no lookup and no check.
    return HttpResponse(FILES[n % len(FILES)].read_bytes(), content_type="image/png")


urlpatterns = [
    path("bench/minimal/", minimal),
    path("bench/image/<int:n>/", minimal_image),
    path("", include("readerstudy.urls")),
]
"""

# Installed in the reading page: key press (capture, before the page's own listener) -> the first
# #images img whose src differs from the one before -> two animation frames later (= painted).
PAGE_HOOK = """
() => {
  const box = document.getElementById("images");
  const bench = window.__bench = {keys: [], paints: []};
  const firstSrc = () => { const img = box.querySelector("img"); return img ? img.getAttribute("src") : null; };
  let last = firstSrc();
  document.addEventListener("keydown", (event) => {
    if (!event.repeat) bench.keys.push(performance.now());
  }, true);
  new MutationObserver(() => {
    const src = firstSrc();
    if (!src || src === last) return;
    last = src;
    const keys = bench.keys.length;
    const changed = performance.now();
    requestAnimationFrame(() => {
      const frame = performance.now();
      requestAnimationFrame(() => {
        bench.paints.push({keys, key: bench.keys[keys - 1], changed, frame, painted: performance.now()});
      });
    });
  }).observe(box, {childList: true, subtree: true, attributes: true, attributeFilter: ["src"]});
}
"""
READY = ("() => { const b = document.querySelector('#controls button');"
         " return b && !b.disabled && document.getElementById('halted').hidden; }")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stats(values) -> tuple[float, float]:
    array = np.asarray(values, dtype=float)
    return float(np.median(array)), float(np.percentile(array, 95))


def draw(rng: np.random.Generator, size: int) -> np.ndarray:
    """The same random blob-plus-noise images as tests/conftest.py, at `size` px."""
    y, x = np.mgrid[0:size, 0:size] / size
    cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.35)
    blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r ** 2))
    image = 0.6 * blob + 0.4 * rng.random((size, size))
    return (255 * image / image.max()).astype(np.uint8)


# ----------------------------------------------------------------------------- setup


def environment(tmp: Path, conn_max_age: int | None = None, database_url: str | None = None) -> dict[str, str]:
    modules = tmp / "modules"
    modules.mkdir()
    settings = BENCH_SETTINGS
    if conn_max_age is not None:  # a what-if only: the app's own setting is used unless asked
        settings += f'DATABASES["default"]["CONN_MAX_AGE"] = {int(conn_max_age)}\n'
    (modules / "mirage_bench_settings.py").write_text(settings)
    (modules / "mirage_bench_urls.py").write_text(BENCH_URLS)
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("MIRAGE_") and name != "MIRAGE_CHROMIUM":
            del env[name]
    env.update({
        "DJANGO_SETTINGS_MODULE": "mirage_bench_settings",
        "PYTHONPATH": os.pathsep.join([str(modules), str(REPO)]),
        "MIRAGE_SECRET_KEY": secrets.token_urlsafe(40),
        "MIRAGE_DEBUG": "0",
        "MIRAGE_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url or f"sqlite:///{tmp / 'bench.sqlite3'}",
        "MIRAGE_VAR_DIR": str(tmp / "var"),
        "MIRAGE_MEDIA_ROOT": str(tmp / "media"),
        "MIRAGE_LOG_LEVEL": "WARNING",
        "MIRAGE_BENCH_POOL": str(tmp / "pool"),
    })
    return env


def manage(env: dict[str, str], *arguments: str) -> None:
    subprocess.run([sys.executable, str(REPO / "manage.py"), *arguments], env=env, cwd=REPO, check=True)


def build_study(tmp: Path, env: dict[str, str], args) -> tuple[list[str], int]:
    """A pool built like tests/conftest.py does (random PNGs -> build_pool -> import_pool), one open
    single-image study with blank_ms=0, and two readers. Returns their tokens and trials per reader."""
    for name in [n for n in os.environ if n.startswith("MIRAGE_") and n not in env]:
        del os.environ[name]
    os.environ.update(env)
    sys.path.insert(0, str(tmp / "modules"))
    import django

    django.setup()
    from django.db import connections

    from generation.pool import build_pool
    from readerstudy.models import Study, StudyStatus
    from readerstudy.pools import import_pool
    from readerstudy.services import create_reader

    source = tmp / "source"
    rng = np.random.default_rng(7)
    for cls in ("real", "synthetic"):
        (source / cls).mkdir(parents=True)
        for i in range(args.sources):
            Image.fromarray(draw(rng, max(RESOLUTIONS))).save(source / cls / f"{cls}_{i:03d}.png")
    build_pool(source / "real", source / "synthetic", tmp / "pool", resolutions=RESOLUTIONS, seed=3,
               workers=min(2, os.cpu_count() or 1), generator_name="bench-generator")
    pool, _ = import_pool(tmp / "pool", "Bench pool", copy=False)
    study = Study.objects.create(name="Latency bench", pool=pool, status=StudyStatus.OPEN,
                                 resolutions=list(RESOLUTIONS),
                                 trials_per_resolution=args.trials_per_resolution, blank_ms=0)
    readers = [create_reader(study, name) for name in ("HTTP reader", "Browser reader")]
    counts = {r.trials.count() for r in readers}
    connections.close_all()
    return [r.token for r in readers], min(counts)


def start_server(env: dict[str, str], port: int, args, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "readerstudy.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", str(args.workers), "--threads", str(args.threads), "--keep-alive", "30",
               "--log-level", "warning", "--chdir", str(REPO)]
    with open(log, "wb") as out:
        server = subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    return wait_until_healthy(server, port, log)


# ----------------------------------------------------------------------------- 1. HTTP


class Client:
    """One keep-alive connection, like a browser tab's."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, url: str, body: dict | None = None) -> tuple[int, str, bytes]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.connection.request(method, url, body=data, headers=headers)
        response = self.connection.getresponse()
        payload = response.read()
        if response.getheader("Connection", "").lower() == "close":
            raise RuntimeError(f"the server closed the keep-alive connection after {method} {url}")
        return response.status, response.getheader("Content-Type", ""), payload

    def close(self) -> None:
        self.connection.close()


def bench_http(port: int, token: str, warmup: int) -> dict[str, list[float]]:
    client = Client(port)
    timings: dict[str, list[float]] = {"minimal": [], "round": [], "post": [], "images": [], "floor": []}
    try:
        for _ in range(20):
            client.request("GET", "/bench/minimal/")
        # A scripted reader answers the questionnaire first, as the invitation page would.
        status, _, body = client.request("POST", f"/api/reader/{token}/start/",
                                         {"role": "radiologist", "years_experience": 10})
        if status != 200:
            raise RuntimeError(f"reader start: HTTP {status}: {body[:300]!r}")
        status, _, body = client.request("GET", f"/api/reader/{token}/")
        if status != 200:
            raise RuntimeError(f"reader state: HTTP {status}: {body[:300]!r}")
        state = json.loads(body)
        responses_url = state["responses_url"]
        done = 0
        while state["trials"]:
            trial = state["trials"][0]
            # The minimal view, the floor and the round trip, in turn: all see the same server state.
            started = time.perf_counter()
            status, _, body = client.request("GET", "/bench/minimal/")
            minimal = time.perf_counter() - started
            if status != 200 or json.loads(body) != {"ok": True}:
                raise RuntimeError(f"minimal view: HTTP {status}: {body[:300]!r}")
            # The floor of any two-request round trip: the minimal view, then a pool PNG with no lookup.
            started = time.perf_counter()
            client.request("GET", "/bench/minimal/")
            status, kind, data = client.request("GET", f"/bench/image/{done}/")
            floor = time.perf_counter() - started
            if status != 200 or kind != "image/png" or not data.startswith(b"\x89PNG"):
                raise RuntimeError(f"floor image: HTTP {status} {kind}")

            started = time.perf_counter()
            status, _, body = client.request("POST", responses_url, {
                "trial": trial["token"], "answer": "real" if done % 2 else "synthetic",
                "client_key": uuid.uuid4().hex, "client_response_ms": 800.0, "displayed_width": 512,
                "displayed_height": 512, "device_pixel_ratio": 1})
            posted = time.perf_counter()
            if status != 201:
                raise RuntimeError(f"POST answer: HTTP {status}: {body[:300]!r}")
            state = json.loads(body)["state"]
            for image in (state["trials"][0]["images"] if state["trials"] else []):
                status, kind, data = client.request("GET", image["url"])
                if status != 200 or kind != "image/png" or not data.startswith(b"\x89PNG"):
                    raise RuntimeError(f"GET image: HTTP {status} {kind}")
            ended = time.perf_counter()
            done += 1
            if done > warmup and state["trials"]:  # the last answer has no next image to fetch
                timings["minimal"].append(minimal * 1000)
                timings["floor"].append(floor * 1000)
                timings["round"].append((ended - started) * 1000)
                timings["post"].append((posted - started) * 1000)
                timings["images"].append((ended - posted) * 1000)
    finally:
        client.close()
    return timings


# ----------------------------------------------------------------------------- 2. browser


def bench_browser(base: str, token: str, count: int, pause_ms: int) -> tuple[dict[str, list[float]], str]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            version = browser.version
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(f"{base}/r/{token}/")
            page.select_option("#id_role", "radiologist")
            page.fill("#id_years_experience", "12")
            page.click("text=Start reading")
            page.wait_for_url(re.compile(r"/read/$"))
            page.wait_for_function(READY)
            page.evaluate(PAGE_HOOK)
            page.wait_for_timeout(pause_ms)
            for n in range(1, count + 1):
                page.wait_for_function(READY)
                page.keyboard.press("r")
                page.wait_for_function("n => window.__bench.paints.length >= n", arg=n, timeout=10_000)
                page.wait_for_timeout(pause_ms)  # past the page's 150 ms double-press guard
            paints = page.evaluate("() => window.__bench.paints")
            keys = page.evaluate("() => window.__bench.keys.length")
        finally:
            browser.close()
    if keys != count or [p["keys"] for p in paints] != list(range(1, count + 1)):
        raise RuntimeError(f"expected one new image per key press: {keys} keys, "
                           f"{[p['keys'] for p in paints][:20]}... paints")
    return {
        "painted": [p["painted"] - p["key"] for p in paints],
        "frame": [p["frame"] - p["key"] for p in paints],
        "changed": [p["changed"] - p["key"] for p in paints],
    }, version


# ----------------------------------------------------------------------------- report


def machine() -> str:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{os.cpu_count()} cores ({usable} usable){', ' + model if model else ''}; {platform.platform()}"


def report(http_t, browser_t, chromium_version, args, trials_per_reader, seconds) -> None:
    import django
    import gunicorn

    def row(metric, values, goal="", met=""):
        median, p95 = stats(values)
        return f"| {metric} | {median:.2f} | {p95:.2f} | {goal} | {met} |"

    lines = ["| metric | median ms | p95 ms | goal | met? |", "|---|---:|---:|---|---|"]
    round_median, round_p95 = stats(http_t["round"])
    minimal_median, minimal_p95 = stats(http_t["minimal"])
    ratio_median, ratio_p95 = round_median / minimal_median, round_p95 / minimal_p95
    n = len(http_t["round"])
    lines.append(row(f"trial round trip: POST answer + GET next image (n={n})", http_t["round"],
                     "≤ 2× minimal view", "yes" if ratio_median <= 2 else "no"))
    lines.append(row(f"minimal Django view, GET small JSON (n={n})", http_t["minimal"], "baseline", ""))
    floor_median, floor_p95 = stats(http_t["floor"])
    lines.append(row("floor of any two-request round trip: minimal view + a pool PNG with no lookup",
                     http_t["floor"], "", ""))
    lines.append(row("  of which: POST answer (response carries next state)", http_t["post"]))
    lines.append(row("  of which: GET next image", http_t["images"]))
    lines.append(f"| ratio round trip / minimal view | {ratio_median:.2f}× | {ratio_p95:.2f}× | ≤ 2× | "
                 f"{'yes' if ratio_median <= 2 else 'no'} |")
    lines.append(f"| ratio floor / minimal view (what no two-request round trip can beat) | "
                 f"{floor_median / minimal_median:.2f}× | {floor_p95 / minimal_p95:.2f}× | | |")
    lines.append(f"| ratio round trip / floor (the work Mirage adds) | {round_median / floor_median:.2f}× | "
                 f"{round_p95 / floor_p95:.2f}× | | |")
    if browser_t:
        m = len(browser_t["painted"])
        _, paint_p95 = stats(browser_t["painted"])
        lines.append(row(f"key press → next image painted, double rAF (n={m})", browser_t["painted"],
                         "p95 < 50 ms", "yes" if paint_p95 < 50 else "no"))
        lines.append(row("  key press → first frame with the new image (single rAF)", browser_t["frame"]))
        lines.append(row("  key press → new image in the DOM", browser_t["changed"]))
    print("\n".join(lines))
    print()
    print(f"Machine: {machine()}.")
    print(f"Python {platform.python_version()}, Django {django.get_version()}, gunicorn {gunicorn.__version__} "
          f"(--workers {args.workers} --threads {args.threads}, keep-alive), "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}"
          f"{'' if args.conn_max_age is None else f' with CONN_MAX_AGE overridden to {args.conn_max_age}'}; "
          f"Chromium {chromium_version or 'not run'} headless.")
    print(f"Both measured in the same run against the same server process on 127.0.0.1: {trials_per_reader} "
          f"trials per reader ({args.trials_per_resolution} × {len(RESOLUTIONS)} resolutions "
          f"{'/'.join(map(str, RESOLUTIONS))} px), pool of {args.sources} sources per class; HTTP: one "
          f"keep-alive http.client connection, minimal view and round trip interleaved 1:1 after "
          f"{args.warmup} warm-up trials; browser: blank_ms=0, {args.pause_ms} ms wait after each paint. "
          f"Wall time {seconds:.0f} s.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials-per-resolution", type=int, default=56)
    parser.add_argument("--sources", type=int, default=128, help="source images per class in the pool")
    parser.add_argument("--warmup", type=int, default=10, help="HTTP round trips not counted")
    parser.add_argument("--browser-trials", type=int, default=200)
    parser.add_argument("--pause-ms", type=int, default=200, help="wait after each paint before the next key")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--conn-max-age", type=int, default=None,
                        help="what-if: override the database CONN_MAX_AGE (default: the app's setting)")
    parser.add_argument("--database-url", metavar="postgres://ROLE:PASSWORD@HOST/DB",
                        help="measure on PostgreSQL: a role that may create databases (the bench makes its own "
                             "and drops it); default SQLite in a temporary folder")
    args = parser.parse_args()
    if args.sources * 2 < args.trials_per_resolution * len(RESOLUTIONS) + 8:
        parser.error("the pool is too small for that many trials (one source per trial per reader)")

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="mirage-trial-latency-"))
    server = None
    database_url = None
    previous = {sig: signal.signal(sig, lambda *_: sys.exit(130)) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        if args.database_url:
            try:
                database_url = create_database(args.database_url)
            except DatabaseError as exc:
                parser.error(str(exc))
            print(f"Database: a new PostgreSQL database, {redact(database_url)}.", flush=True)
        env = environment(tmp, args.conn_max_age, database_url)
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "collectstatic", "--noinput", "-v0")
        (token_http, token_browser), trials_per_reader = build_study(tmp, env, args)
        if args.browser_trials >= trials_per_reader:
            parser.error(f"--browser-trials must be below the {trials_per_reader} trials per reader")
        port = free_port()
        server = start_server(env, port, args, tmp / "gunicorn.log")
        http_t = bench_http(port, token_http, args.warmup)
        browser_t, chromium_version = None, None
        if args.no_browser:
            print("NOTICE: --no-browser: the key-to-paint measurement was skipped.")
        elif not os.path.exists(CHROMIUM):
            print(f"NOTICE: no Chromium at {CHROMIUM}; the key-to-paint measurement was skipped.")
        else:
            browser_t, chromium_version = bench_browser(f"http://127.0.0.1:{port}", token_browser,
                                                        args.browser_trials, args.pause_ms)
        stop_server(server)
        report(http_t, browser_t, chromium_version, args, trials_per_reader, time.perf_counter() - started)
        errors = (tmp / "gunicorn.log").read_text().strip()
        if errors:
            print("\nServer log:\n" + textwrap.indent(errors[-2000:], "    "))
    finally:
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)
        if database_url:
            from django.db import connections

            connections.close_all()
            drop_database(args.database_url, database_url)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
