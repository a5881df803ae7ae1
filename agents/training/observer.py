"""The training loop's observer: evaluates, checkpoints, shows progress and honours stop signals
while an agent learns (it is the :class:`~sige_rl.agents.common.interface.Callback` that the job
passes to ``agent.learn``)."""

from __future__ import annotations

import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sige_rl.agents.common.interface import Callback
from sige_rl.agents.training.evaluation import Evaluation, Interrupted, OptimalityGap, evaluate
from sige_rl.supervised import Run

KEEP_CHECKPOINTS = 3
#: After a stop signal, how long the agent may take to reach a safe point before the run stops
#: where it is, resumable from its last checkpoint.
STOP_GRACE_S = 5.0
LOG_EVERY_S = 30.0


class StopNow(Exception):
    """A stop signal was not followed by a safe point within :data:`STOP_GRACE_S`."""


class Trainer(Callback):
    """Evaluates every ``eval_every`` steps, checkpoints at the first safe point after every
    ``save_every`` steps (keeping the last :data:`KEEP_CHECKPOINTS`), shows a progress bar or
    periodic log lines, and turns SIGINT / SIGTERM into a stop at the agent's next safe point.

    ``evaluate_fn`` plays the evaluations: :func:`~.evaluation.evaluate` by default, or one with
    its signature (``evaluate_parallel`` for a multi-agent env, whose ``eval_env`` is then its
    ``VecEnv`` adapter). The mean of each of its ``metrics`` is logged as ``eval/<name>`` and
    recorded in evaluations.csv after ``capped``.

    ``listeners`` see each evaluation's row (the dict written to evaluations.csv); one that
    returns True stops the run at the agent's next safe point, as a signal would, with
    :attr:`stop_reason` ``"pruned"`` (how a hyperparameter search ends a trial early)."""

    def __init__(
        self,
        run: Run,
        eval_env: Any,
        opts: dict[str, Any],
        gap: OptimalityGap | None,
        evaluate_fn: Callable[..., Evaluation] = evaluate,
        listeners: Sequence[Callable[[dict[str, Any]], bool]] = (),
    ):
        self.run, self.eval_env, self.opts, self.gap = run, eval_env, opts, gap
        self.evaluate_fn = evaluate_fn
        self.listeners = tuple(listeners)
        self.eval_every, self.save_every = opts["eval_every"], opts["save_every"]
        self.stop_signal: int | None = None
        #: Why the run is stopping: a signal's name ("SIGINT", "SIGTERM"), "pruned", or None.
        self.stop_reason: str | None = None
        self._stop_time = 0.0
        self.last_return: float | None = None
        self.last_eval: dict[str, Any] | None = None
        self.bar = None
        self._shown = 0
        self._bar_every = max(1, min(1000, opts["steps"] // 200))
        self._start_time = self._last_log = time.perf_counter()
        self._start_steps = 0

    # -- Callback hooks ---------------------------------------------------------------------------
    def on_step(self, agent) -> None:
        n = agent.num_steps
        if self.stop_reason is not None:
            if time.perf_counter() - self._stop_time > STOP_GRACE_S:
                raise StopNow
            return
        if n >= self._next_eval:
            self._next_eval = (n // self.eval_every + 1) * self.eval_every
            self.evaluate(agent)
        if n - self._shown >= self._bar_every:
            self._show(agent)

    def on_episode(self, agent, episode_return, episode_length) -> None:
        self.last_return = episode_return

    def at_safe_point(self, agent) -> bool:
        if self.stop_reason is not None:
            return False
        if agent.num_steps >= self._next_save:
            self.checkpoint(agent)
        return True

    # -- actions ----------------------------------------------------------------------------------
    def start(self, agent) -> None:
        self._next_save = (agent.num_steps // self.save_every + 1) * self.save_every
        self._next_eval = (agent.num_steps // self.eval_every + 1) * self.eval_every
        self._shown = self._start_steps = agent.num_steps
        if not self.opts["no_progress"]:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.opts["steps"],
                initial=agent.num_steps,
                unit="step",
                dynamic_ncols=True,
                mininterval=0.5,
                smoothing=0.1,
            )
        if not self.run.checkpoints():  # a stop at any moment leaves something to resume
            self.checkpoint(agent)

    def evaluate(self, agent) -> dict[str, Any] | None:
        """Evaluate, log and record a row; None if a stop signal cut the evaluation short."""
        try:
            result = self.evaluate_fn(
                agent,
                self.eval_env,
                self.opts["eval_episodes"],
                self.opts["seed"] + 10_000,
                epsilon=agent.eval_epsilon,
                should_stop=lambda: self.stop_reason is not None,
            )
        except Interrupted:
            return None
        row = {
            "step": agent.num_steps,
            "mean_return": float(result.returns.mean()),
            "std_return": float(result.returns.std()),
            "episodes": len(result.returns),
            "capped": int(result.capped.sum()),
        }
        for name, values in result.metrics.items():
            row[name] = float(np.mean(values))
        if self.gap is not None:
            row["optimality_gap"] = float(self.gap(agent))
        scalars = {f"eval/{k}": v for k, v in row.items() if k not in ("step", "episodes")}
        self.run.log_scalars(scalars, agent.num_steps)
        self.run.append_row("evaluations", row)
        self.last_eval = row
        if row["capped"]:
            self._say(
                f"step {agent.num_steps}: {row['capped']} of {row['episodes']} evaluation "
                f"episodes hit the step cap without ending (the greedy policy may loop)"
            )
        if self.bar is not None:
            post = {"eval": f"{row['mean_return']:.3g}"}
            if self.last_return is not None:
                post["return"] = f"{self.last_return:.3g}"
            self.bar.set_postfix(post, refresh=False)
        else:
            self._log(agent, force=True)
        if any([listener(row) for listener in self.listeners]) and self.stop_reason is None:
            self.stop_reason, self._stop_time = "pruned", time.perf_counter()
        return row

    def checkpoint(self, agent) -> Path:
        path = self.run.checkpoint_path(agent.num_steps)
        agent.save(path)
        self._next_save = (agent.num_steps // self.save_every + 1) * self.save_every
        for _, old in self.run.checkpoints()[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old, ignore_errors=True)
        return path

    def finish(self, agent, converged: bool) -> None:
        """Bring the bar or log to the agent's final count and close the bar."""
        if self.bar is not None:
            if converged:
                self.bar.total = agent.num_steps
                self.bar.set_postfix_str("converged", refresh=False)
            self._show(agent)
            self.bar.close()
            self.bar = None
        if converged:
            print(
                f"{self.opts['agent']} converged after {agent.num_steps} of "
                f"{self.opts['steps']} steps"
            )

    def handle_signal(self, signum, frame) -> None:
        if self.stop_signal is not None:  # a second signal: stop right now, without saving
            raise KeyboardInterrupt
        self.stop_signal = signum
        self.stop_reason = signal.Signals(signum).name
        self._stop_time = time.perf_counter()
        self._say(
            f"{signal.Signals(signum).name} received: saving a checkpoint at the agent's next "
            "safe point (send it again to abort without saving)"
        )

    # -- progress ---------------------------------------------------------------------------------
    def _show(self, agent) -> None:
        n = agent.num_steps
        if self.bar is not None:
            self.bar.update(n - self._shown)
        else:
            self._log(agent)
        self._shown = n

    def _log(self, agent, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_log < LOG_EVERY_S:
            return
        self._last_log = now
        n, total = agent.num_steps, self.opts["steps"]
        rate = (n - self._start_steps) / max(now - self._start_time, 1e-9)
        parts = [f"step {n}/{total} ({100 * n / total:.0f}%)", f"{rate:.0f} steps/s"]
        if self.last_return is not None:
            parts.append(f"last return {self.last_return:.4g}")
        if self.last_eval is not None:
            parts.append(f"eval {self.last_eval['mean_return']:.4g} @ {self.last_eval['step']}")
        print(" | ".join(parts), flush=True)

    def _say(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)
