"""A ``crmstream worker`` child process, for the demo and the end-to-end tests.

Both need a real worker in its own process (the way it runs in production) that is
stopped gracefully and never left behind, whatever happens to the parent.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from prometheus_client.parser import text_string_to_metric_families

from streams.settings import ENV_PREFIX


def crmstream_command() -> list[str]:
    """The installed console script if there is one beside this Python, else the module."""
    script = Path(sys.executable).with_name("crmstream")
    if script.exists():
        return [str(script)]
    found = shutil.which("crmstream")
    return [found] if found else [sys.executable, "-m", "streams.cli"]


class WorkerProcess:
    """Runs ``crmstream worker`` with the given environment, its output in ``log_path``."""

    def __init__(
        self, env: dict[str, str], log_path: Path, *, command: Sequence[str] | None = None
    ) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.command = [*crmstream_command(), "worker"] if command is None else list(command)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal reaches us, we stop the worker
        )

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the process has not been started")
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM for a graceful shutdown (commit, flush); SIGKILL only if it hangs."""
        process = self._process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
        return process.returncode

    def kill(self) -> int:
        """SIGKILL, as ``kill -9`` or the OOM killer would: no shutdown, no last commit or
        flush. For the fault-tolerance tests, which must see what a crash leaves behind."""
        process = self._process
        if process is None:
            raise RuntimeError("the process has not been started")
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: the whole group
        process.wait()
        if self._log is not None:
            self._log.close()
        return process.returncode

    @property
    def ready(self) -> bool:
        """Whether the worker answers 200 on ``/ready``: partitions assigned, tables
        recovered, no rebalance under way."""
        port = self.env.get(f"{ENV_PREFIX}WEB_PORT", "6066")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2):
                return True
        except (OSError, ValueError):  # refused, 503, timed out: not ready (yet)
            return False

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def wait_until_ready(
    workers: Sequence[WorkerProcess], *, timeout: float = 180.0, settle: float = 3.0
) -> None:
    """Wait until every worker is ready and stays so for ``settle`` seconds.

    Workers that start together rebalance more than once while they join; input sent in
    the middle of that meets Faust 0.15's rebalance races (a partition left unconsumed,
    see README "Delivery guarantees today"). Tests and benches about something else wait
    for one settled group first.
    """
    deadline = time.monotonic() + timeout
    ready_since: float | None = None
    while time.monotonic() < deadline:
        for worker in workers:
            if worker.returncode is not None:
                raise RuntimeError(f"a worker exited ({worker.returncode}):\n{worker.log_tail()}")
        if all(worker.ready for worker in workers):
            ready_since = ready_since or time.monotonic()
            if time.monotonic() - ready_since >= settle:
                return
        else:
            ready_since = None
        time.sleep(0.5)
    raise TimeoutError(f"workers not ready within {timeout:g} s")


def scrape_metrics(url: str) -> dict[str, float]:
    """A worker's /metrics as 'name{labels}' -> value, for the demo summary and the tests."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a loopback URL we built
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples
