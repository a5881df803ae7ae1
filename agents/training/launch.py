"""Running several trainings side by side on this machine: one process per training, at most
``parallel`` at a time, each with its output in a log file.

Each child runs in a session of its own, so the terminal's Ctrl-C reaches this process only; it
passes the signal on once to every running child (which checkpoints at its next safe point and
exits 130 / 143, as a single run would), starts no new one, and waits for them. A second signal
is passed on too: the children then stop without saving, as a single run does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sige_rl.supervised.tracking import EXIT_SIGNAL

POLL_S = 0.2


@dataclass(frozen=True)
class Job:
    """One training: ``key`` names it in reports, ``command`` runs the job's script, ``args``
    are the job's options, ``log`` takes its output."""

    key: str
    command: list[str]
    args: list[str]
    log: Path

    @property
    def argv(self) -> list[str]:
        return [*self.command, *self.args]


def cores() -> int:
    """The cores this process may use (the scheduler's affinity where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def child_environment(parallel: int) -> dict[str, str]:
    """The children's environment: with several at once, one BLAS / OpenMP thread each (unless
    the caller set its own), so that ``parallel`` trainings do not fight over the cores."""
    env = dict(os.environ)
    if parallel > 1:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
    return env


def run_jobs(
    jobs: Sequence[Job],
    parallel: int,
    on_done: Callable[[Job, int, float], None] | None = None,
) -> tuple[dict[str, int], int | None]:
    """Run ``jobs``, at most ``parallel`` at once, in order; return each started job's exit code
    by key, and the signal that stopped the batch (None if none did). ``on_done(job, code,
    seconds)`` is called as each one ends."""
    pending, running = list(jobs), {}
    codes: dict[str, int] = {}
    stop: list[int] = []
    env = child_environment(parallel)

    def forward(signum, frame):
        stop.append(signum)
        for proc, *_ in running.values():
            if proc.poll() is None:
                proc.send_signal(signum)

    handlers = {s: signal.signal(s, forward) for s in EXIT_SIGNAL}
    try:
        while pending or running:
            if stop:
                pending.clear()
            while pending and len(running) < parallel:
                job = pending.pop(0)
                job.log.parent.mkdir(parents=True, exist_ok=True)
                out = open(job.log, "ab")  # noqa: SIM115 (closed when the job ends)
                proc = subprocess.Popen(
                    job.argv,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
                running[job.key] = (proc, out, time.perf_counter(), job)
            time.sleep(POLL_S)
            for key, (proc, out, started, job) in list(running.items()):
                if proc.poll() is not None:
                    out.close()
                    del running[key]
                    codes[key] = proc.returncode
                    if on_done is not None:
                        on_done(job, proc.returncode, time.perf_counter() - started)
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    return codes, (stop[0] if stop else None)


def python_command(script: str, module: str) -> list[str]:
    """How to run one of our jobs in a child: ``scripts/<script>`` beside the running one when
    this process was started from it, else the package module."""
    here = Path(sys.argv[0])
    if here.name == script and here.is_file():
        return [sys.executable, str(here)]
    sibling = here.with_name(script)
    if here.suffix == ".py" and sibling.is_file():
        return [sys.executable, str(sibling)]
    return [sys.executable, "-m", module]
