"""The main job behind ``scripts/train_agent.py``: train any registered agent on any Gymnasium
environment, with progress, TensorBoard, evaluations, atomic checkpoints and exact resume.

The pieces: :mod:`.cli` checks the arguments and plans the run (a bad command exits 2 and
writes nothing), :mod:`.run_setup` records it, :mod:`.observer` evaluates, checkpoints and shows
progress while the agent learns. Ctrl-C or SIGTERM stops at the agent's next safe point, writes
a checkpoint there and exits 130 / 143 with the command that resumes it.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from sige_rl.agents.common import registry
from sige_rl.agents.training import cli, multiseed
from sige_rl.agents.training.evaluation import OptimalityGap
from sige_rl.agents.training.observer import StopNow, Trainer
from sige_rl.agents.training.run_setup import (
    make_eval_env,
    make_train_env,
    record_new_run,
    record_resume,
)
from sige_rl.supervised import Run, seed_everything
from sige_rl.supervised.tracking import EXIT_SIGNAL, point_latest, tensorboard_command

#: Sees an evaluation's row (step, mean_return, ...); True stops the run (pruning).
Listener = Callable[[dict[str, Any]], bool]


def this_command() -> list[str]:
    """How to run this job again: the running interpreter and script when started as
    ``scripts/train_agent.py``, else the package's module."""
    script = Path(sys.argv[0])
    if script.name == "train_agent.py" and script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "sige_rl.agents.training.train"]


def main(argv: list[str] | None = None, listeners: Sequence[Listener] = ()) -> int:
    """Run the job with the command line ``argv``; return its exit code. ``listeners`` see each
    evaluation's row and may stop the run (:class:`~.observer.Trainer`)."""
    parser = cli.build_parser()
    args = parser.parse_args(argv)
    if args.seeds is not None or multiseed.is_group(args.resume):
        return multiseed.main(parser, args)
    if args.list_envs:
        ok, missing = cli.runnable_envs()
        print("\n".join(ok))
        for env_id, why in missing:
            print(f"# not runnable here: {env_id} ({why})")
        return 0
    if args.list_agents:
        for name in registry.names():
            print(f"{name:16s} {cli.agent_summary(registry.agent_class(name))}")
        return 0
    try:
        if args.list_hyperparams:
            env_id = cli.check_env_id(args.env or cli.DEFAULT_ENV)
            print(cli.hyperparameter_table(args.agent or cli.DEFAULT_AGENT, env_id))
            return 0
        plan = cli.plan(args)
        opts = plan.opts
        env = make_train_env(opts["env"], opts["num_envs"], plan.agent_cls, opts.get("env_kwargs"))
        if plan.checkpoint is None:
            agent = plan.agent_cls(env, seed=plan.opts["seed"], config=plan.config)
        else:
            agent = registry.load(plan.checkpoint, env, **plan.load_overrides)
            if plan.opts["stretch_schedules"]:
                agent.schedule_steps = plan.opts["steps"]
    except cli.AlreadyFinished as e:
        print(e)
        return 0
    except cli.errors() as e:
        parser.error(str(e))
    for note in plan.notes:
        print(f"resuming with {note}")
    return train(plan, agent, listeners)


def train(plan: cli.Plan, agent, listeners: Sequence[Listener] = ()) -> int:
    """Run the planned training of ``agent``; return the exit code."""
    opts, run_dir = plan.opts, plan.run_dir
    seed_everything(opts["seed"])  # for code outside the agent's own generators
    run = Run(run_dir, resume_step=plan.checkpoint_step)
    command = shlex.join([sys.executable, *sys.argv])
    if plan.checkpoint is None:
        record_new_run(run, opts, plan.config, command)
        if not plan.explicit_dir:
            point_latest(run_dir)
    else:
        record_resume(run, opts, command)
    eval_env, evaluate_fn = make_eval_env(opts)
    gamma = getattr(plan.config, "gamma", 0.99)
    gap = OptimalityGap.for_env(eval_env, gamma) if isinstance(eval_env, gym.Env) else None
    trainer = Trainer(run, eval_env, opts, gap, evaluate_fn, listeners)
    # Signals reach the main thread only; a run in another thread (a Ray Tune trial) is stopped
    # by its listeners or by its process ending.
    in_main = threading.current_thread() is threading.main_thread()
    handlers = {s: signal.signal(s, trainer.handle_signal) for s in EXIT_SIGNAL} if in_main else {}
    start, start_steps, exit_reason = time.perf_counter(), agent.num_steps, "failed"
    try:
        trainer.start(agent)
        cut_short = False  # stopped mid-episode: the last checkpoint is the resume point
        try:
            agent.learn(opts["steps"], run=run, callback=trainer)
        except StopNow:
            cut_short = True
        stopped = trainer.stop_reason is not None
        # A signal during the last episode arrives after the budget is spent: that run finished.
        if stopped and agent.num_steps < opts["steps"]:
            exit_reason = "pruned" if trainer.stop_signal is None else "interrupted"
            trainer.finish(agent, converged=False)
            if not cut_short and run.latest_checkpoint()[0] != agent.num_steps:
                trainer.checkpoint(agent)
        else:
            trainer.finish(agent, converged=agent.num_steps < opts["steps"] and not stopped)
            evaluated = (
                trainer.last_eval is not None and trainer.last_eval["step"] == agent.num_steps
            )
            if not evaluated and trainer.evaluate(agent) is None:  # stopped during it
                exit_reason = "interrupted"
            if exit_reason == "failed":
                agent.save(run_dir / "final")
                exit_reason = "finished"
            elif run.latest_checkpoint()[0] != agent.num_steps:
                trainer.checkpoint(agent)
    except KeyboardInterrupt:
        exit_reason = "aborted"
        raise
    finally:
        if trainer.bar is not None:
            trainer.bar.close()
        for s, h in handlers.items():
            signal.signal(s, h)
        wall = time.perf_counter() - start
        run.write_json(
            "summary.json",
            {
                "exit_reason": exit_reason,
                "env": opts["env"],
                "agent": opts["agent"],
                "seed": opts["seed"],
                "steps": agent.num_steps,
                "wall_time_s": wall,
                "steps_per_s": (agent.num_steps - start_steps) / wall if wall > 0 else None,
                "final_evaluation": trainer.last_eval,
                "name": opts.get("name", ""),
                "run_dir": str(run_dir),
            },
        )
        run.close()

    if exit_reason in ("interrupted", "pruned"):
        step = run.latest_checkpoint()[0]
        resume = shlex.join([*this_command(), "--resume", str(run_dir)])
        if exit_reason == "pruned":
            print(f"Stopped early at step {agent.num_steps} (pruned); resumable from step {step}")
            return 0
        print(f"Interrupted at step {agent.num_steps}; resumable from step {step}. Resume with:")
        print(f"  {resume}")
        return EXIT_SIGNAL[trainer.stop_signal]
    ev = trainer.last_eval or {}
    gap = f", optimality gap {ev['optimality_gap']:.4g}" if "optimality_gap" in ev else ""
    print(
        f"Final evaluation: mean return {ev.get('mean_return', float('nan')):.4g} "
        f"+/- {ev.get('std_return', float('nan')):.3g} over {ev.get('episodes', 0)} episodes{gap}"
    )
    print(f"Run saved in {run_dir}  |  view it: {tensorboard_command(opts['logdir'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
