"""The main job behind ``scripts/train_agent.py``: train any registered agent on any Gymnasium
environment, with progress, TensorBoard, evaluations, atomic checkpoints and exact resume.

Every argument is checked before anything is written, so a bad command exits 2 and leaves no
run folder behind. Ctrl-C or SIGTERM asks the agent to stop at its next safe point (between
episodes), writes a checkpoint there and exits 130 / 143 with the command that resumes it.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import gymnasium as gym

from agents import registry
from agents.callbacks import Callback
from agents.config import ConfigError, parse_sets, read_config_file, resolve, tuned_hyperparams
from agents.evaluation import OptimalityGap, evaluate
from supervised import Run, resolve_device, run_name, seed_everything
from supervised.checkpoint import CheckpointError

KEEP_CHECKPOINTS = 3
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train_agent.py",
        description="Train an agent on an environment; logs, checkpoints and evaluations go to "
        "<logdir>/<env>/<agent>/<time>_s<seed>/.",
    )
    p.add_argument(
        "--env", default="sige/GridWorld-v0", help="Gymnasium env id (default: %(default)s)"
    )
    p.add_argument("--agent", default="q_learning", help="agent name (default: %(default)s)")
    p.add_argument("--steps", type=int, help="environment steps to train for (default: 20000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the whole run (default: 0)")
    p.add_argument("--config", metavar="FILE", help="YAML file of hyperparameters")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one hyperparameter (repeatable); wins over --config and tuned values",
    )
    p.add_argument("--logdir", default="runs", help="root of the run folders (default: runs)")
    p.add_argument(
        "--eval-every", type=int, metavar="N", help="evaluate every N steps (default: steps/10)"
    )
    p.add_argument(
        "--eval-episodes", type=int, default=10, metavar="K", help="episodes per evaluation"
    )
    p.add_argument(
        "--save-every", type=int, metavar="N", help="checkpoint every N steps (default: steps/10)"
    )
    p.add_argument(
        "--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint"
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default: auto)")
    p.add_argument(
        "--num-envs",
        type=int,
        default=1,
        metavar="N",
        help="parallel envs, for agents that support them",
    )
    p.add_argument(
        "--list-envs", action="store_true", help="list the registered environments and exit"
    )
    p.add_argument("--list-agents", action="store_true", help="list the agents and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


# -- checking arguments -------------------------------------------------------------------------
def check_env_id(env_id: str) -> str:
    """Import the ``module:`` part of an id if any and make sure the id is registered."""
    module, sep, name = env_id.rpartition(":")
    if sep:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ValueError(f"cannot import module {module!r} of env id {env_id!r}: {e}") from e
    if name not in gym.registry:
        close = difflib.get_close_matches(name, list(gym.registry), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown env {name!r}{hint} (--list-envs shows them all)")
    return name


def positive(name: str, value: int | None, allow_zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def resolve_hyperparams(
    cls: type, agent: str, env_id: str, config_file: str | None, sets: list[str]
):
    layers = [(f"agents/hyperparams/{agent}.yaml", tuned_hyperparams(agent, env_id))]
    if config_file:
        layers.append((config_file, read_config_file(config_file)))
    layers.append(("--set", parse_sets(sets)))
    return resolve(cls.Config, *layers)


def make_train_env(env_id: str, num_envs: int, cls: type):
    """A vector env for agents that take one (the native batched env where the id registers
    one), else a single env."""
    if not getattr(cls, "supports_vector_env", False) or num_envs == 1:
        return gym.make(env_id)  # a vector agent wraps it in its lightest vector env of one
    spec = gym.spec(env_id.rpartition(":")[2])
    if spec.vector_entry_point is not None:
        # Agents reset finished sub-envs with their own seeds (agents/episodes.py): a native
        # vector env serves only if it takes per-env seeds and options["reset_mask"].
        env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
        if env.metadata.get("reset_mask", False):
            return env
        env.close()
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")


# -- what a run records ---------------------------------------------------------------------
def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("sige-rl", "gymnasium", "numpy", "torch", "stable-baselines3", "tensorboard"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def new_run_dir(logdir: str, env_id: str, agent: str, seed: int) -> Path:
    base = Path(logdir) / env_id.replace("/", "_") / agent
    path, n = base / run_name(seed), 1
    while path.exists():
        path, n = base / f"{run_name(seed)}-{n}", n + 1
    return path


# -- the training loop's observer --------------------------------------------------------------
class Trainer(Callback):
    """Evaluates, checkpoints, shows progress and honours stop signals while an agent learns."""

    def __init__(
        self, run: Run, eval_env: gym.Env, opts: dict[str, Any], gap: OptimalityGap | None
    ):
        self.run, self.eval_env, self.opts, self.gap = run, eval_env, opts, gap
        self.eval_every, self.save_every = opts["eval_every"], opts["save_every"]
        self.stop_signal: int | None = None
        self.last_return: float | None = None
        self.last_eval: dict[str, Any] | None = None
        self.bar = None
        self._shown = 0

    # Callback hooks
    def on_step(self, agent) -> None:
        n = agent.num_steps
        if n >= self._next_eval:
            self.evaluate(agent)
            self._next_eval = (n // self.eval_every + 1) * self.eval_every
        if self.bar is not None and n - self._shown >= 1000:
            self.bar.update(n - self._shown)
            self._shown = n

    def on_episode(self, agent, episode_return, episode_length) -> None:
        self.last_return = episode_return

    def at_safe_point(self, agent) -> bool:
        if self.stop_signal is not None:
            return False
        if agent.num_steps >= self._next_save:
            self.checkpoint(agent)
        return True

    # actions
    def start(self, agent, show_progress: bool) -> None:
        self._next_save = (agent.num_steps // self.save_every + 1) * self.save_every
        self._next_eval = (agent.num_steps // self.eval_every + 1) * self.eval_every
        self._shown = agent.num_steps
        if show_progress:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.opts["steps"],
                initial=agent.num_steps,
                unit="step",
                dynamic_ncols=True,
                mininterval=0.5,
                smoothing=0.1,
            )

    def evaluate(self, agent) -> dict[str, Any]:
        returns, _ = evaluate(
            agent, self.eval_env, self.opts["eval_episodes"], self.opts["seed"] + 10_000
        )
        row = {
            "step": agent.num_steps,
            "mean_return": float(returns.mean()),
            "std_return": float(returns.std()),
            "episodes": len(returns),
        }
        if self.gap is not None:
            row["optimality_gap"] = float(self.gap(agent))
        scalars = {f"eval/{k}": v for k, v in row.items() if k not in ("step", "episodes")}
        self.run.log_scalars(scalars, agent.num_steps)
        self.run.append_row("evaluations", row)
        self.last_eval = row
        if self.bar is not None:
            post = {"eval": f"{row['mean_return']:.3g}"}
            if self.last_return is not None:
                post["return"] = f"{self.last_return:.3g}"
            self.bar.set_postfix(post, refresh=False)
        return row

    def checkpoint(self, agent) -> Path:
        path = self.run.checkpoint_path(agent.num_steps)
        agent.save(path)
        self._next_save = (agent.num_steps // self.save_every + 1) * self.save_every
        for _, old in self.run.checkpoints()[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old, ignore_errors=True)
        return path

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def handle_signal(self, signum, frame) -> None:
        if self.stop_signal is not None:  # a second signal: stop right now, without saving
            raise KeyboardInterrupt
        self.stop_signal = signum
        print(
            f"\n{signal.Signals(signum).name} received: saving a checkpoint at the agent's next "
            "safe point (tabular: the episode's end; send it again to abort without saving)",
            file=sys.stderr,
        )


# -- main -----------------------------------------------------------------------------------
def prepare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Check every argument and build the run's options; ``parser.error`` (exit 2) on bad input."""
    try:
        for name in ("--steps", "--eval-every", "--save-every", "--eval-episodes", "--num-envs"):
            positive(name, getattr(args, name[2:].replace("-", "_")))
        device = resolve_device(args.device)
        if args.resume:
            run_dir = Path(args.resume)
            if not (run_dir / "config.yaml").is_file():
                raise ValueError(f"--resume {run_dir}: not a run folder (no config.yaml)")
            saved = Run(run_dir, resume_step=None).read_yaml("config.yaml")
            opts = dict(saved["options"])
            if args.steps is not None:
                opts["steps"] = args.steps
            opts["no_progress"] = args.no_progress
            env_id = check_env_id(opts["env"])
            cls = registry.agent_class(opts["agent"])
            config = resolve(cls.Config, ("config.yaml", saved["hyperparams"]))
            if Run(run_dir).latest_checkpoint() is None:
                raise ValueError(f"--resume {run_dir}: the run has no checkpoint to resume from")
        else:
            env_id = check_env_id(args.env)
            cls = registry.agent_class(args.agent)
            config = resolve_hyperparams(cls, args.agent, env_id, args.config, args.sets)
            steps = args.steps or 20_000
            opts = {
                "env": args.env,
                "agent": args.agent,
                "steps": steps,
                "seed": args.seed,
                "eval_every": args.eval_every or max(1, steps // 10),
                "eval_episodes": args.eval_episodes,
                "save_every": args.save_every or max(1, steps // 10),
                "logdir": args.logdir,
                "device": device,
                "num_envs": args.num_envs,
                "no_progress": args.no_progress,
            }
            run_dir = new_run_dir(args.logdir, env_id, args.agent, args.seed)
        if opts["num_envs"] > 1 and not getattr(cls, "supports_vector_env", False):
            raise ValueError(f"{opts['agent']} trains on one env; --num-envs must be 1")
        if "device" in {f.name for f in dataclasses.fields(config)} and args.device != "auto":
            config = dataclasses.replace(config, device=device)
        env = make_train_env(opts["env"], opts["num_envs"], cls)
        agent = cls(env, seed=opts["seed"], config=config)  # checks that agent and env fit
    except (ValueError, ConfigError, CheckpointError, gym.error.Error) as e:
        parser.error(str(e))
    return {"opts": opts, "run_dir": run_dir, "env": env, "agent": agent, "config": config}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_envs:
        ours = sorted(k for k in gym.registry if k.startswith("sige/"))
        print("\n".join(ours + sorted(k for k in gym.registry if not k.startswith("sige/"))))
        return 0
    if args.list_agents:
        for name in registry.names():
            doc = (registry.agent_class(name).__doc__ or "").strip().splitlines()[0]
            print(f"{name:18s} {doc}")
        return 0

    ready = prepare(args, parser)
    opts, run_dir, env, agent, config = (
        ready[k] for k in ("opts", "run_dir", "env", "agent", "config")
    )
    seed_everything(opts["seed"])
    resume_from = None
    if args.resume:
        resume_step, checkpoint = Run(run_dir).latest_checkpoint()
        try:
            agent = registry.load(checkpoint, env)
        except CheckpointError as e:
            parser.error(f"cannot resume from {checkpoint}: {e}")
        resume_from = resume_step
    run = Run(run_dir, resume_step=resume_from)
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    if resume_from is not None:
        saved = run.read_yaml("config.yaml")
        run.write_yaml("config.yaml", {**saved, "options": opts, "resumed_with": command})
    else:
        run.write_yaml(
            "config.yaml",
            {
                "options": opts,
                "hyperparams": dataclasses.asdict(config),
                "versions": package_versions(),
                "git_commit": git_commit(),
                "command": command,
            },
        )
        run.log_hparams(
            {
                "env": opts["env"],
                "agent": opts["agent"],
                "seed": opts["seed"],
                **dataclasses.asdict(config),
            },
            {"eval/mean_return": float("nan")},
        )

    gamma = getattr(config, "gamma", 0.99)
    eval_env = gym.make(opts["env"])
    trainer = Trainer(run, eval_env, opts, OptimalityGap.for_env(eval_env, gamma))
    handlers = {s: signal.signal(s, trainer.handle_signal) for s in EXIT_SIGNAL}
    start, start_steps, exit_reason = time.perf_counter(), agent.num_steps, "failed"
    try:
        trainer.start(agent, show_progress=not opts["no_progress"])
        agent.learn(opts["steps"], run=run, callback=trainer)
        trainer.close()
        # A signal during the last episode arrives after the budget is spent: that run finished.
        if trainer.stop_signal is not None and agent.num_steps < opts["steps"]:
            exit_reason = "interrupted"
            trainer.checkpoint(agent)
        else:
            exit_reason = "finished"
            if trainer.last_eval is None or trainer.last_eval["step"] != agent.num_steps:
                trainer.evaluate(agent)
            agent.save(run_dir / "final")
    except KeyboardInterrupt:
        exit_reason = "aborted"
        raise
    finally:
        trainer.close()
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
                "run_dir": str(run_dir),
            },
        )
        run.close()

    if exit_reason == "interrupted":
        resume = f"python scripts/train_agent.py --resume {shlex.quote(str(run_dir))}"
        print(f"Interrupted at step {agent.num_steps}; checkpoint saved. Resume with:\n  {resume}")
        return EXIT_SIGNAL[trainer.stop_signal]
    ev = trainer.last_eval or {}
    gap = f", optimality gap {ev['optimality_gap']:.4g}" if "optimality_gap" in ev else ""
    print(
        f"Final evaluation: mean return {ev.get('mean_return', float('nan')):.4g} "
        f"+/- {ev.get('std_return', float('nan')):.3g} over {ev.get('episodes', 0)} episodes{gap}"
    )
    print(f"Run saved in {run_dir}  |  view it: tensorboard --logdir {opts['logdir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
