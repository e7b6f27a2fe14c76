"""Start and stop the gunicorn server a benchmark measures (shared by bench/load.py and bench/trial_latency.py)."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def wait_until_healthy(server: subprocess.Popen, port: int, log: Path, *, ready: Callable[[], bool] = lambda: True,
                       error: type[Exception] = RuntimeError, seconds: float = 30) -> subprocess.Popen:
    """Return `server` once `ready()` holds and /health/ answers 200; raise `error` with the log's tail if not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise error(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        if ready():
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/health/")
                if connection.getresponse().status == 200:
                    connection.close()
                    return server
            except OSError:
                pass
        time.sleep(0.1)
    raise error(f"gunicorn did not answer on port {port} within {seconds:.0f} s:\n{log.read_text()[-3000:]}")


def stop_server(server: subprocess.Popen | None, *, grace: float = 10) -> None:
    """SIGTERM the server's process group, SIGKILL it after `grace` seconds."""
    if server is None or server.poll() is not None:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    except ProcessLookupError:
        pass
