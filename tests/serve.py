"""Start the dashboard as a local server process: test tooling for the browser tests
(``tests/browser_support.py``, ``tests/test_browser_explain.py``) and the browser benchmark
(``bench/browser.py``), kept out of the app package."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
# Debian's chromium, headless, with nothing that reaches for the (closed) network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port(preferred: range = range(0)) -> int:
    """A loopback port nobody listens on: the first free one of ``preferred``, else one the OS picks."""
    for port in [*preferred, 0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free loopback port")


@contextmanager
def dashboard_server(log_path: Path, env: dict[str, str] | None = None, timeout: float = 180,
                     ports: range = range(0)) -> Iterator[tuple[str, int]]:
    """``streamlit run app.py`` on a free loopback port (from ``ports`` if one is free); yields (url, pid)
    once healthy, stops it afterwards."""
    port = free_port(ports)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited early, see {log_path}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise RuntimeError(f"streamlit did not become healthy in {timeout:.0f} s, see {log_path}")
                time.sleep(0.5)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def peak_rss_mb(pid: int) -> float:
    """High-water mark of a process's resident memory (Linux /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
