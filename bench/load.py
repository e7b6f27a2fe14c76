"""Load benchmark: many readers answer at once through the HTTP API, on PostgreSQL, while things go wrong.

N simulated readers (threads, one keep-alive connection each, like a browser tab) read one open study served
by gunicorn with several workers. Each starts its invitation, then loops: GET state, GET the current trial's
image(s), think, POST the answer. Some answers are sent twice in a row (a double click), some twice at once
on two connections (two tabs), some on a connection closed before the response is read (a dropped
acknowledgement), then retried; every send is retried until acknowledged, as the reading page does. One
gunicorn worker is killed with SIGKILL mid-run (gunicorn starts another). At the end every acknowledged
answer is compared with the database: one Response per acknowledged trial, with the answer and client key
sent, and none for any other trial.

The bench makes everything it uses in a fresh PostgreSQL database (created, migrated, dropped at the end)
and a temporary folder: the demo pool (`python -m generation demo`), the study and its readers.

    .venv/bin/python bench/load.py [--readers 200] [--workers 3] [--threads 4] [--duration 60]
        [--trials 120] [--think-ms 100-300] [--database-url postgres://mirage:mirage@127.0.0.1:5432/mirage]

The database URL names a role that may create databases (default: $MIRAGE_BENCH_POSTGRES_URL, else
$MIRAGE_TEST_POSTGRES_URL, else the local `mirage` role). Prints answers/s, p50/p95 per request type, the
CPU each part used, and "lost N, duplicated N". Exits 1 if an answer was lost or duplicated (or a request
failed for good), 2 if the bench could not be set up.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import DatabaseError, create_database, drop_database, redact  # noqa: E402
from gunicorn_server import stop_server, wait_until_healthy  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://mirage:mirage@127.0.0.1:5432/mirage"
REQUEST_TIMEOUT_S = 30
GIVE_UP_AFTER_S = 120  # a send still unacknowledged after this long counts as failed


class SetupError(DatabaseError):
    pass


# ----------------------------------------------------------------------------- setup


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]




def environment(tmp: Path, database_url: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("MIRAGE_")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "readerstudy.settings",
        "PYTHONPATH": str(REPO),
        "MIRAGE_SECRET_KEY": secrets.token_urlsafe(40),
        "MIRAGE_DEBUG": "0",
        "MIRAGE_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "MIRAGE_VAR_DIR": str(tmp / "var"),
        "MIRAGE_MEDIA_ROOT": str(tmp / "media"),
        "MIRAGE_LOG_LEVEL": "WARNING",
    })
    return env


def run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        raise SetupError(f"{' '.join(command[1:])} failed:\n{(result.stdout + result.stderr)[-3000:]}")


def build_pool(tmp: Path, env: dict[str, str], trials: int) -> Path:
    """The demo pool, large enough for `trials` per reader (one source per trial per reader)."""
    count = trials // 2 + 40
    run([sys.executable, "-m", "generation", "demo", "--out", str(tmp / "demo"), "--count", str(count)], env)
    return tmp / "demo" / "pool"


def set_up_study(pool_dir: Path, env: dict[str, str], args) -> tuple[int, list[str], int]:
    """Import the pool, open a single-image study over all its resolutions, invite the readers.
    Returns the study's id, the readers' tokens and the trials per reader."""
    for name in [n for n in os.environ if n.startswith("MIRAGE_") and n not in env]:
        del os.environ[name]
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    from readerstudy.models import Study, StudyStatus
    from readerstudy.pools import import_pool
    from readerstudy.scheduling import ScheduleError, check_supply
    from readerstudy.services import create_reader, pool_refs, schedule_spec

    pool, _ = import_pool(pool_dir, "Load bench pool", copy=False)
    resolutions = pool.resolutions()
    per_resolution = max(1, math.ceil(args.trials / len(resolutions)))
    study = Study.objects.create(name="Load bench", pool=pool, status=StudyStatus.OPEN, resolutions=resolutions,
                                 trials_per_resolution=per_resolution, practice_trials=0, blank_ms=0)
    try:
        check_supply(pool_refs(study), schedule_spec(study), study_seed=study.seed)
    except ScheduleError as exc:
        raise SetupError(f"The pool at {pool_dir} is too small for {args.trials} trials per reader: {exc}") from None
    readers = [create_reader(study, f"Load reader {i + 1}") for i in range(args.readers)]
    trials = readers[0].trials.count()
    connections.close_all()
    return study.pk, [r.token for r in readers], trials


def start_server(env: dict[str, str], port: int, args, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "readerstudy.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", str(args.workers), "--threads", str(args.threads), "--keep-alive", "30",
               "--graceful-timeout", "10", "--log-level", "warning", "--chdir", str(REPO)]
    with open(log, "wb") as out:
        server = subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    # Every worker up before timing starts, so start-up CPU is not counted.
    return wait_until_healthy(server, port, log, ready=lambda: len(worker_pids(server.pid)) == args.workers,
                              error=SetupError)


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's child processes (its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == master:
            pids.append(int(entry.name))
    return sorted(pids)


# ----------------------------------------------------------------------------- CPU accounting


class DatabaseCPU:
    """CPU of the local PostgreSQL backends serving one database (their process title names it), sampled
    every half second, so a backend that ends (the killed worker's) still counts up to its last sample.
    PostgreSQL's shared processes (WAL writer, checkpointer) are left out."""

    def __init__(self, database: str):
        self.marker = f" {database} "
        self.baseline = self.sample()
        self.seen = dict(self.baseline)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()

    def sample(self) -> dict[int, float]:
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if entry.joinpath("comm").read_text().strip() != "postgres":
                    continue
                title = entry.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if self.marker in title:
                found[int(entry.name)] = process_cpu_seconds(int(entry.name))
        return found

    def watch(self) -> None:
        while not self.done.wait(0.5):
            for pid, cpu in self.sample().items():
                self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))

    def used(self) -> float | None:
        """CPU seconds since the start, or None where no backend was seen (PostgreSQL on another host)."""
        self.done.set()
        self.thread.join()
        for pid, cpu in self.sample().items():
            self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))
        if not self.seen:
            return None
        return sum(self.seen.values()) - sum(self.baseline.values())


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(values[:8]) - idle) / ticks, sum(values[:8]) / ticks


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU of one live process (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    utime, stime = (int(v) for v in stat[stat.rindex(")") + 2:].split()[11:13])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


class GunicornCPU:
    """CPU of the gunicorn master and its workers over the run, the killed worker's share included."""

    def __init__(self, master: int):
        self.master = master
        self.ended = 0.0  # CPU of workers that were killed, as last read
        self.started = self.now()

    def now(self) -> float:
        return sum(process_cpu_seconds(pid) for pid in [self.master, *worker_pids(self.master)])

    def before_kill(self, pid: int) -> None:
        self.ended += process_cpu_seconds(pid)

    def used(self) -> float:
        return self.now() + self.ended - self.started


def wait_until_idle(master: int, workers: int, limit_s: float = 120) -> None:
    """Until every worker has booted (imported the app) and sits idle, so the run counts no start-up."""
    deadline = time.monotonic() + limit_s
    before = None
    while time.monotonic() < deadline:
        pids = worker_pids(master)
        now = sum(process_cpu_seconds(pid) for pid in pids)
        if before is not None and len(pids) == workers and now - before < 0.03:
            return
        before = now
        time.sleep(0.5)


# ----------------------------------------------------------------------------- readers


class Unavailable(Exception):
    """The server could not answer this try (connection cut, 5xx): send it again."""


@dataclass
class Ack:
    answer: str
    client_key: str
    created: int = 0  # how many sends were told "created" (more than one would be a duplicate)


@dataclass
class Tally:
    """What the readers saw; each reader thread writes its own, merged at the end."""

    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    retries: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    acks: dict[str, Ack] = field(default_factory=dict)


class Connection:
    """One keep-alive HTTP connection, reopened after the server cut it."""

    def __init__(self, port: int):
        self.port = port
        self.http: http.client.HTTPConnection | None = None

    def send(self, method: str, url: str, body: dict | None = None, *, read: bool = True):
        if self.http is None:
            self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.http.request(method, url, body=data, headers=headers)
            if not read:  # a dropped acknowledgement: the request is out, the answer never read
                self.close()
                return None
            response = self.http.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise Unavailable(type(exc).__name__) from None
        if response.will_close:
            self.close()
        if response.status >= 500:
            raise Unavailable(f"HTTP {response.status}")
        return response.status, response.getheader("Content-Type", ""), payload

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
            self.http = None


class SimulatedReader:
    def __init__(self, token: str, port: int, args, rng: random.Random, stop: threading.Event,
                 after_kill: threading.Event):
        self.token, self.port, self.args, self.rng = token, port, args, rng
        self.stop, self.after_kill = stop, after_kill
        self.connection = Connection(port)
        self.tally = Tally()
        self.lock = threading.Lock()  # a race sends from two threads of one reader
        self.finished_at: float | None = None

    # One request, retried until the server answers it (as the reading page retries a lost connection).
    def request(self, kind: str, method: str, url: str, body: dict | None = None,
                connection: Connection | None = None):
        connection = connection or self.connection
        delay, started = 0.05, time.monotonic()
        while True:
            attempt = time.perf_counter()
            try:
                status, content_type, payload = connection.send(method, url, body)
            except Unavailable as exc:
                with self.lock:
                    self.tally.retries[kind] += 1
                    self.tally.events[f"retried after {exc}"] += 1
                    if self.after_kill.is_set():
                        self.tally.events["tries cut after the worker kill"] += 1
                if time.monotonic() - started > GIVE_UP_AFTER_S:
                    raise RuntimeError(f"{method} {url}: no answer after {GIVE_UP_AFTER_S} s ({exc})") from None
                time.sleep(delay * (0.5 + self.rng.random()))
                delay = min(delay * 2, 1.0)
                continue
            with self.lock:
                self.tally.timings[kind].append((time.perf_counter() - attempt) * 1000)
            if status >= 400:
                raise RuntimeError(f"{method} {url}: HTTP {status}: {payload[:300]!r}")
            return status, content_type, payload

    def run(self) -> None:
        try:
            self.read()
        except Exception as exc:  # reported, and counted against the run
            self.tally.failures.append(f"reader {self.token[:6]}…: {exc}")
        finally:
            self.connection.close()
            self.finished_at = time.monotonic()

    def read(self) -> None:
        _, _, body = self.request("start", "POST", f"/api/reader/{self.token}/start/",
                                  {"role": "radiologist", "years_experience": 10})
        responses_url = json.loads(body)["responses_url"]
        while not self.stop.is_set():
            _, _, body = self.request("state", "GET", f"/api/reader/{self.token}/")
            state = json.loads(body)
            if state["finished"] or not state["trials"]:
                self.tally.events["readers who finished every trial"] += 1
                return
            trial = state["trials"][0]
            for image in trial["images"]:
                _, content_type, data = self.request("image", "GET", image["url"])
                if content_type != "image/png" or not data.startswith(b"\x89PNG\r\n\x1a\n"):
                    raise RuntimeError(f"image {image['url']}: {content_type}, {data[:8]!r}")
            time.sleep(self.rng.uniform(*self.args.think_ms) / 1000)
            payload = {"trial": trial["token"], "answer": self.rng.choice(["real", "synthetic"]),
                       "client_key": uuid.uuid4().hex, "client_response_ms": 800.0, "displayed_width": 512,
                       "displayed_height": 512, "device_pixel_ratio": 1}
            self.answer(responses_url, payload)

    def answer(self, url: str, payload: dict) -> None:
        draw = self.rng.random()
        rates = self.args
        if draw < rates.duplicate_rate:
            self.tally.events["duplicates (sent again after the acknowledgement)"] += 1
            self.post(url, payload)
            self.post(url, payload, repeat=True)
        elif draw < rates.duplicate_rate + rates.race_rate:
            self.tally.events["races (two connections at once)"] += 1
            other = Connection(self.port)
            failed: list[Exception] = []

            def second_tab() -> None:
                try:
                    self.post(url, payload, connection=other)
                except Exception as exc:
                    failed.append(exc)

            second = threading.Thread(target=second_tab)
            second.start()
            self.post(url, payload)
            second.join()
            other.close()
            if failed:
                raise failed[0]
            ack = self.tally.acks[payload["trial"]]
            # 0 is right when the storing try was cut (a worker killed) before its answer arrived: every later
            # try is then told "already answered"; the database comparison at the end catches a real loss.
            if ack.created > 1:
                self.tally.failures.append(f"a race on trial {payload['trial'][:6]}… was stored {ack.created} times")
        elif draw < rates.duplicate_rate + rates.race_rate + rates.drop_rate:
            self.tally.events["dropped (connection closed before the response), then retried"] += 1
            dropped = Connection(self.port)
            try:
                dropped.send("POST", url, payload, read=False)
            except Unavailable:
                pass
            self.post(url, payload)
        else:
            self.post(url, payload)

    def post(self, url: str, payload: dict, *, repeat: bool = False, connection: Connection | None = None) -> None:
        status, _, body = self.request("answer", "POST", url, payload, connection=connection)
        ack = json.loads(body)
        trial = payload["trial"]
        if not ack.get("stored") or ack.get("trial") != trial:
            self.tally.failures.append(f"trial {trial[:6]}…: acknowledgement {ack!r:.200}")
            return
        if ack["created"] != (status == 201):
            self.tally.failures.append(f"trial {trial[:6]}…: HTTP {status} with created={ack['created']}")
        if not ack["created"] and not ack.get("same_client"):
            self.tally.failures.append(f"trial {trial[:6]}…: the stored answer is not the one this reader sent")
        if repeat and ack["created"]:
            self.tally.failures.append(f"trial {trial[:6]}…: a repeated answer was stored again")
        with self.lock:
            record = self.tally.acks.setdefault(trial, Ack(payload["answer"], payload["client_key"]))
            record.created += int(ack["created"])


def kill_a_worker(master: int, workers: int, when, log: list[str], after_kill: threading.Event,
                  stop: threading.Event, started: float, cpu: GunicornCPU) -> None:
    """SIGKILL one gunicorn worker once `when()` says so; note when gunicorn has replaced it."""
    while not stop.is_set() and not when():
        time.sleep(0.05)
    if stop.is_set():
        log.append("no worker was killed: the readers had stopped first")
        return
    before = worker_pids(master)
    victim = before[0]
    cpu.before_kill(victim)
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    after_kill.set()
    while time.monotonic() - killed < 30:
        now = worker_pids(master)
        if victim not in now and len(now) == workers:
            log.append(f"worker {victim} killed with SIGKILL {killed - started:.1f} s into the run, while readers "
                       f"were reading; gunicorn had a new worker {time.monotonic() - killed:.1f} s later")
            return
        time.sleep(0.05)
    log.append(f"worker {victim} killed with SIGKILL; gunicorn had not replaced it after 30 s")


# ----------------------------------------------------------------------------- checking


def compare_with_database(study_id: int, acks: dict[str, Ack]) -> dict[str, list[str]]:
    """Every acknowledged answer against the Response rows of the study."""
    from django.db import connections
    from django.db.models import Count

    from readerstudy.models import Response

    rows = list(Response.objects.filter(trial__reader__study_id=study_id)
                .values_list("trial__token", "answer", "client_key"))
    per_trial = Counter(token for token, _, _ in rows)
    stored = {token: (answer, key) for token, answer, key in rows}
    problems: dict[str, list[str]] = {"lost": [], "duplicated": []}
    for token, ack in acks.items():
        if token not in stored:
            problems["lost"].append(f"trial {token[:6]}…: acknowledged, no Response")
        elif stored[token] != (ack.answer, ack.client_key):
            problems["lost"].append(f"trial {token[:6]}…: stored {stored[token]}, sent "
                                    f"{(ack.answer, ack.client_key)}")
        if ack.created > 1:
            problems["duplicated"].append(f"trial {token[:6]}…: the server said 'created' {ack.created} times")
    for token, n in per_trial.items():
        if n > 1:
            problems["duplicated"].append(f"trial {token[:6]}…: {n} Response rows")
        if token not in acks:
            problems["duplicated"].append(f"trial {token[:6]}…: a Response no reader was told of")
    doubled = (Response.objects.filter(trial__reader__study_id=study_id).values("trial")
               .annotate(n=Count("id")).filter(n__gt=1).count())
    if doubled:
        problems["duplicated"].append(f"{doubled} trials with more than one Response (by the database's count)")
    connections.close_all()
    return problems


# ----------------------------------------------------------------------------- report


def percentiles(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=float)
    return float(np.percentile(array, 50)), float(np.percentile(array, 95))


def machine() -> str:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{os.cpu_count()} cores{', ' + model if model else ''}; {platform.platform()}"


def think_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        values = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give milliseconds, e.g. 200 or 100-300") from None
    if not 0 <= values[0] <= values[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 <= low <= high")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--duration", type=float, default=60, help="seconds the readers read (at most)")
    parser.add_argument("--trials", type=int, default=120, help="trials per reader (a reader stops at the last)")
    parser.add_argument("--think-ms", type=think_range, default=(100.0, 300.0),
                        help="a reader's pause before each answer, uniform in LOW-HIGH ms (default 100-300)")
    parser.add_argument("--duplicate-rate", type=float, default=0.05, help="share of answers sent twice in a row")
    parser.add_argument("--race-rate", type=float, default=0.05, help="share sent twice at once")
    parser.add_argument("--drop-rate", type=float, default=0.05, help="share first sent on a dropped connection")
    parser.add_argument("--no-kill", action="store_true", help="do not kill a gunicorn worker mid-run")
    parser.add_argument("--database-url", default=os.environ.get("MIRAGE_BENCH_POSTGRES_URL")
                        or os.environ.get("MIRAGE_TEST_POSTGRES_URL") or DEFAULT_DATABASE_URL,
                        help="PostgreSQL URL of a role allowed to create databases")
    parser.add_argument("--pool", type=Path, help="a pool built by `python -m generation` (default: build the demo)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the bench database and folder")
    args = parser.parse_args()
    if args.readers < 1 or args.workers < 1 or args.threads < 1 or args.trials < 1 or args.duration <= 0:
        parser.error("--readers, --workers, --threads, --trials and --duration must be positive")
    if not urlsplit(args.database_url).scheme.startswith("postgres"):
        parser.error("--database-url must be a postgres:// URL")

    tmp = Path(tempfile.mkdtemp(prefix="mirage-load-"))
    server, database_url = None, None
    previous = {sig: signal.signal(sig, lambda *_: sys.exit(130)) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        setup_started = time.monotonic()
        database_url = create_database(args.database_url)
        env = environment(tmp, database_url)
        run([sys.executable, str(REPO / "manage.py"), "migrate", "--noinput", "-v0"], env)
        pool_dir = args.pool or build_pool(tmp, env, args.trials)
        study_id, tokens, trials = set_up_study(pool_dir, env, args)
        port = free_port()
        server = start_server(env, port, args, tmp / "gunicorn.log")
        wait_until_idle(server.pid, args.workers)
        print(f"Set up in {time.monotonic() - setup_started:.0f} s: {len(tokens)} readers x {trials} trials, "
              f"gunicorn --workers {args.workers} --threads {args.threads} on 127.0.0.1:{port}, database "
              f"{redact(database_url)}.", flush=True)
        outcome = drive(args, port, server.pid, tokens, trials, urlsplit(database_url).path.lstrip("/"))
        stop_server(server, grace=20)
        problems = compare_with_database(study_id, outcome["acks"])
        log = (tmp / "gunicorn.log").read_text(errors="replace")
        return report(args, outcome, problems, trials, log)
    except DatabaseError as exc:  # SetupError too
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        stop_server(server, grace=20)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if args.keep:
            print(f"Kept {tmp} and the database {redact(database_url or '')}.")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if database_url:
                try:
                    from django.db import connections

                    connections.close_all()
                except Exception:
                    pass
                drop_database(args.database_url, database_url)


def drive(args, port: int, master: int, tokens: list[str], trials: int, database: str) -> dict:
    rng = random.Random(args.seed)
    stop, after_kill = threading.Event(), threading.Event()
    readers = [SimulatedReader(token, port, args, random.Random(rng.getrandbits(64)), stop, after_kill)
               for token in tokens]
    kill_log: list[str] = []
    started = time.monotonic()
    expected = len(tokens) * trials

    def acknowledged() -> int:
        return sum(len(r.tally.acks) for r in readers)

    def kill_now() -> bool:  # 40% into the run, or 40% of every trial answered, whichever comes first
        return time.monotonic() - started >= 0.4 * args.duration or acknowledged() >= 0.4 * expected

    cpu = GunicornCPU(master)
    busy_before, _ = machine_busy_seconds()
    wall_before = time.monotonic()
    database_cpu, client_before = DatabaseCPU(database), time.process_time()
    load_before = os.getloadavg()
    threads = []
    stagger = min(2.0, args.duration / 10)
    for i, reader in enumerate(readers):
        thread = threading.Thread(target=reader.run, name=f"reader-{i}", daemon=True)
        threads.append(thread)
    killer = None
    if not args.no_kill:
        killer = threading.Thread(target=kill_a_worker, args=(master, args.workers, kill_now, kill_log, after_kill,
                                                              stop, started, cpu), daemon=True)
        killer.start()
    for i, thread in enumerate(threads):
        thread.start()
        time.sleep(stagger / len(threads))
    deadline = started + args.duration
    while time.monotonic() < deadline and any(t.is_alive() for t in threads):
        time.sleep(0.1)
    stop.set()  # readers finish the answer they are sending (until acknowledged), then stop
    for thread in threads:
        thread.join(GIVE_UP_AFTER_S + REQUEST_TIMEOUT_S)
    ended = max([r.finished_at or time.monotonic() for r in readers])
    if killer is not None:
        killer.join(35)
    busy_after, _ = machine_busy_seconds()
    wall = time.monotonic() - wall_before
    cpu_app = cpu.used()
    tally = Tally()
    for reader in readers:
        for kind, values in reader.tally.timings.items():
            tally.timings[kind].extend(values)
        tally.retries.update(reader.tally.retries)
        tally.events.update(reader.tally.events)
        tally.failures.extend(reader.tally.failures)
        tally.acks.update(reader.tally.acks)
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        tally.failures.append(f"{len(stuck)} readers still waiting on the server at the end")
    return {
        "tally": tally, "acks": tally.acks, "seconds": ended - started, "kill": kill_log, "cpu_app": cpu_app,
        "cpu_postgres": database_cpu.used(), "cpu_client": time.process_time() - client_before,
        "machine_busy_cores": (busy_after - busy_before) / wall,
        "load_before": load_before, "load_after": os.getloadavg(),
    }


def report(args, outcome: dict, problems: dict[str, list[str]], trials: int, log: str) -> int:
    tally: Tally = outcome["tally"]
    seconds = outcome["seconds"]
    answers = len(outcome["acks"])
    requests = sum(len(v) for v in tally.timings.values())
    print()
    print("| request | n | p50 ms | p95 ms | tries cut and retried |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("state", "image", "answer"):
        values = tally.timings.get(kind, [])
        p50, p95 = percentiles(values) if values else (float("nan"), float("nan"))
        print(f"| {kind} | {len(values)} | {p50:.1f} | {p95:.1f} | {tally.retries.get(kind, 0)} |")
    print()
    print(f"Answers: {answers} acknowledged in {seconds:.1f} s = {answers / seconds:.1f} answers/s "
          f"({requests / seconds:.0f} requests/s) from {args.readers} readers, think {args.think_ms[0]:g}-"
          f"{args.think_ms[1]:g} ms, {trials} trials each; gunicorn --workers {args.workers} --threads "
          f"{args.threads}.")
    for event, n in sorted(tally.events.items()):
        print(f"  {event}: {n}")
    for line in outcome["kill"]:
        print(f"  {line}")
    app, pg, client = outcome["cpu_app"], outcome["cpu_postgres"], outcome["cpu_client"]
    per_answer = 1000 / max(answers, 1)
    used = [f"gunicorn {app:.1f} core-s = {app * per_answer:.1f} ms per answer, "
            f"{app * 1000 / max(requests, 1):.2f} ms per request (the new worker's start-up included)"]
    if pg is not None:
        used.append(f"PostgreSQL's backends {pg:.1f} core-s = {pg * per_answer:.1f} ms per answer")
    used.append(f"the simulated readers {client:.1f} core-s")
    print(f"CPU: {'; '.join(used)}. The whole machine was {outcome['machine_busy_cores']:.2f} of "
          f"{os.cpu_count()} cores busy, other work included.")
    if answers and app:
        together = f", {answers / (app + pg):.0f} for gunicorn and PostgreSQL together" if pg else ""
        print(f"  => answers/s per core: {answers / app:.0f} for gunicorn{together}.")
    load_before, load_after = outcome["load_before"], outcome["load_after"]
    print(f"Machine: {machine()}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after.")
    failures = tally.failures
    if failures:
        print(f"\nFAILED requests or acknowledgements ({len(failures)}):")
        for line in failures[:20]:
            print(f"  {line}")
    # gunicorn's own line about the killed worker is expected; anything else at error level is shown.
    unexpected = [line for line in log.splitlines()
                  if ("Traceback" in line or "[ERROR]" in line) and "was sent SIGKILL" not in line]
    if unexpected:
        print("\nServer log (errors):")
        for line in unexpected[:20]:
            print(f"  {line}")
    lost, duplicated = problems["lost"], problems["duplicated"]
    print(f"\nlost {len(lost)}, duplicated {len(duplicated)}")
    for line in (lost + duplicated)[:20]:
        print(f"  {line}")
    if lost or duplicated or failures:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
