"""The command line of the training job: the parser, the listings, and the checks that turn
arguments into a :class:`Plan` before anything is written.

Every problem is found here, so a bad command exits 2 with a message and leaves no run folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml

from sige_rl.agents.common import registry
from sige_rl.agents.common.config import (
    ConfigError,
    parse_sets,
    read_config_file,
    resolve,
    tuned_hyperparams,
    tuned_job_options,
    without_job_keys,
)
from sige_rl.agents.multiagent import ids as ma_ids
from sige_rl.supervised import Run, resolve_device, run_name
from sige_rl.supervised.checkpoint import CheckpointError
from sige_rl.supervised.config import field_table

DEFAULT_ENV = "sige/GridWorld-v0"
DEFAULT_AGENT = "q_learning"
DEFAULT_STEPS = 20_000
MULTI_AGENT_EXAMPLE = "sige/EnergyCommunity-v0"
# What may be given with --resume: everything else is fixed by the run being resumed.
RESUME_OPTIONS = ("steps", "stretch_schedules", "device", "save_every", "no_progress")
#: Options of several runs (``--seeds``), handled by :mod:`.multiseed` before a run is planned.
MULTI_RUN_OPTIONS = ("seeds", "jobs", "backend", "address")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def build_parser() -> argparse.ArgumentParser:
    """The job's options. Defaults are None so that a given option can be told from an absent
    one (``--resume`` refuses options that would change the run); :func:`plan` fills them in."""
    p = argparse.ArgumentParser(
        prog="train_agent.py",
        description="Train an agent on an environment; logs, checkpoints and evaluations go to "
        "<logdir>/<env>/<agent>/<time>_s<seed>/.",
    )
    p.add_argument(
        "--env",
        help=f"Gymnasium env id, or a multi-agent id such as {MULTI_AGENT_EXAMPLE} "
        f"(default: {DEFAULT_ENV})",
    )
    p.add_argument(
        "--env-kwarg",
        dest="env_kwargs",
        action="append",
        metavar="KEY=VALUE",
        help="an argument of the env's constructor (repeatable; the value is read as YAML), "
        "e.g. --env-kwarg n_buildings=2",
    )
    p.add_argument("--agent", help=f"agent name (default: {DEFAULT_AGENT})")
    p.add_argument(
        "--steps",
        type=int,
        help=f"environment steps (default: the tuned entry's n_timesteps, else {DEFAULT_STEPS})",
    )
    p.add_argument("--seed", type=int, help="seed of the whole run (default: 0)")
    p.add_argument(
        "--seeds",
        metavar="LIST",
        help="several runs, one per seed, e.g. 0-9 or 0,3,7 or 0-4,10; they run side by side "
        "(--jobs) and are summarised together (mean, median, IQM with bootstrap intervals)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="with --seeds: runs at once (default: the number of cores, at most one per seed)",
    )
    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        help="with --seeds: local processes (default) or Ray tasks (the ray extra)",
    )
    p.add_argument(
        "--address",
        help="with --backend ray: the cluster to join (e.g. 10.0.0.1:6379, or 'auto'); "
        "default: start Ray on this machine",
    )
    p.add_argument(
        "--name",
        metavar="TAG",
        help="a tag for the run: added to its folder's name and kept in config.yaml "
        "(letters, digits, '.', '_', '-')",
    )
    p.add_argument(
        "--run-dir",
        metavar="DIR",
        help="the run folder itself, instead of <logdir>/<env>/<agent>/<time>_s<seed>; it must "
        "not exist or be empty (sweeps use it to place their runs)",
    )
    p.add_argument("--config", metavar="FILE", help="YAML file of hyperparameters")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        metavar="KEY=VALUE",
        help="override one hyperparameter (repeatable); wins over --config and tuned values",
    )
    p.add_argument("--logdir", help="root of the run folders (default: runs)")
    p.add_argument(
        "--eval-every", type=int, metavar="N", help="evaluate every N steps (default: steps/10)"
    )
    p.add_argument("--eval-episodes", type=int, metavar="K", help="episodes per evaluation (10)")
    p.add_argument(
        "--save-every", type=int, metavar="N", help="checkpoint every N steps (default: steps/10)"
    )
    p.add_argument(
        "--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint"
    )
    p.add_argument(
        "--stretch-schedules",
        action="store_true",
        default=None,
        help="with --resume and a larger --steps: lay the epsilon and step-size schedules over "
        "the new budget (default: keep the run's original schedule horizon)",
    )
    p.add_argument("--device", help="auto | cpu | cuda (default: auto)")
    p.add_argument(
        "--num-envs",
        type=int,
        metavar="N",
        help="parallel envs, for agents that support them; on a multi-agent env, the copies of "
        "it (each agent of each copy is one slot of the shared policy) (default: the tuned "
        "entry's n_envs, else 1)",
    )
    p.add_argument(
        "--list-envs", action="store_true", help="list the environments that can run here and exit"
    )
    p.add_argument("--list-agents", action="store_true", help="list the agents and exit")
    p.add_argument(
        "--list-hyperparams",
        action="store_true",
        help="list the hyperparameters of --agent (defaults, tuned values for --env, docs)",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        default=None,
        help="no progress bar: a log line every 30 s and at each evaluation instead",
    )
    return p


@dataclass
class Plan:
    """Everything the job needs, checked: options recorded in config.yaml, the run folder, the
    agent class and its config, and for a resume the checkpoint to load."""

    opts: dict[str, Any]
    run_dir: Path
    agent_cls: type
    config: Any
    checkpoint: Path | None = None
    checkpoint_step: int | None = None
    load_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: The folder was given by ``--run-dir``: no ``latest`` link is made beside it.
    explicit_dir: bool = False


class AlreadyFinished(Exception):
    """``--resume`` of a run that finished: nothing to do."""


def to_argv(parser: argparse.ArgumentParser, args: argparse.Namespace, drop=()) -> list[str]:
    """The command line that gives ``args`` again (options in ``drop`` left out): how a job that
    runs several trainings passes its options on to each."""
    out: list[str] = []
    for action in parser._actions:  # noqa: SLF001 (argparse has no public list of its options)
        if not action.option_strings or action.dest in (*drop, "help"):
            continue
        value = getattr(args, action.dest, None)
        if value is None or value is False:
            continue
        flag = action.option_strings[-1]
        if action.nargs == 0:
            out.append(flag)
        else:
            for v in value if isinstance(value, list) else [value]:
                out += [flag, str(v)]
    return out


# -- listings -----------------------------------------------------------------------------------
def runnable_envs() -> tuple[list[str], list[tuple[str, str]]]:
    """Registered ids that ``gym.make`` builds here (ours first), and the others with the reason
    (a missing optional dependency such as MuJoCo, Box2D or jax). One id is built per entry
    point: ALE registers hundreds of ids on one class, and what it needs is the same for all.
    Our multi-agent ids (``sige_rl.envs.MULTI_AGENT_IDS``) are listed among ours."""
    ok, missing = [], []
    tried: dict[str, str | None] = {}  # entry point -> None if it builds, else the reason
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for env_id, spec in list(gym.registry.items()):
            key = str(spec.entry_point)
            if key not in tried:
                try:
                    gym.make(env_id).close()
                    tried[key] = None
                except Exception as e:  # each env's own error: missing packages, old versions
                    tried[key] = str(e).splitlines()[0][:100] or type(e).__name__
            if tried[key] is None:
                ok.append(env_id)
            else:
                missing.append((env_id, tried[key]))
    for env_id in ma_ids.multi_agent_ids():
        try:
            ma_ids.make_parallel_env(env_id).close()
            ok.append(env_id)
        except Exception as e:  # PettingZoo missing, say
            missing.append((env_id, str(e).splitlines()[0][:100] or type(e).__name__))
    ok.sort(key=lambda i: (not i.startswith("sige/"), i))
    return ok, missing


def agent_summary(cls: type) -> str:
    """The first sentence of an agent's docstring, without reStructuredText markup."""
    text = " ".join((cls.__doc__ or "").split())
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text).replace("``", "")
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


def hyperparameter_table(agent: str, env_id: str) -> str:
    """One line per hyperparameter of ``agent``: name, type, default, the tuned value for
    ``env_id`` where its YAML has one, and the field's documentation."""
    cls = registry.agent_class(agent)
    title = f"{agent} hyperparameters (tuned values: agents/hyperparams/{agent}.yaml[{env_id}])"
    return "\n".join([title, *field_table(cls.Config, tuned_hyperparams(agent, env_id))])


# -- checks -------------------------------------------------------------------------------------
def check_env_id(env_id: str) -> str:
    """Import the ``module:`` part of an id if any and make sure the id is registered (with
    Gymnasium, or in ``sige_rl.envs.MULTI_AGENT_IDS``). Our own ``sige/`` ids need no prefix:
    their package is imported by name as a prefix would."""
    module, sep, name = env_id.rpartition(":")
    if not sep and name.startswith("sige/") and name not in gym.registry:
        module, sep = "sige_rl.envs", ":"
    if sep:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ValueError(f"cannot import module {module!r} of env id {env_id!r}: {e}") from e
    if name not in gym.registry and name.startswith("sige/") and ma_ids.is_multi_agent(name):
        return name
    if name not in gym.registry:
        close = difflib.get_close_matches(name, list(gym.registry), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown env {name!r}{hint} (--list-envs shows them all)")
    return name


def parse_env_kwargs(pairs: list[str] | None) -> dict[str, Any]:
    """``["n_buildings=2", "climate=cold"]`` -> ``{"n_buildings": 2, "climate": "cold"}``."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--env-kwarg expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def check_multi_agent(env_id: str, agent: str, env_kwargs: dict[str, Any]) -> None:
    """A multi-agent env is built (its arguments checked) and ``agent`` must be one that trains
    on it with a shared policy (:func:`sige_rl.agents.multiagent.ids.learners`)."""
    try:
        env = ma_ids.make_parallel_env(env_id, **env_kwargs)
    except TypeError as e:  # an unknown keyword
        raise ValueError(f"cannot make {env_id} with {env_kwargs}: {e}") from e
    space = env.action_space(env.possible_agents[0])
    env.close()
    able = ma_ids.learners(space)
    if agent not in able:
        raise ValueError(
            f"{agent} cannot train on the multi-agent env {env_id}: its agents are trained with "
            f"one shared policy on a Stable-Baselines3 VecEnv (a slot per agent, actions "
            f"{space}); agents that can: {', '.join(able)}"
        )


def positive(name: str, value: int | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def resolve_hyperparams(cls: type, agent: str, env_id: str, config_file: str | None, sets):
    """dataclass defaults < tuned YAML < ``--config FILE`` < ``--set``. A config file in our
    env-keyed format (``agents/hyperparams/<agent>.yaml``) contributes the env's entry."""
    layers = [(f"agents/hyperparams/{agent}.yaml", tuned_hyperparams(agent, env_id))]
    if config_file:
        layers.append((config_file, config_file_layer(config_file, env_id)))
    layers.append(("--set", parse_sets(sets or [])))
    return resolve(cls.Config, *layers)


def config_file_layer(path: str, env_id: str) -> dict[str, Any]:
    data = read_config_file(path)
    if data and all(isinstance(v, dict) for v in data.values()):  # keyed by env id
        if env_id not in data:
            raise ConfigError(
                f"config file {path} is keyed by env id and has no entry for {env_id} "
                f"(it has: {', '.join(data)})"
            )
        data = data[env_id]
    return without_job_keys(data)


def plan(args: argparse.Namespace) -> Plan:
    """Check every argument and decide the run; ``ValueError``, ``ConfigError`` or
    ``CheckpointError`` with a message on bad input, :class:`AlreadyFinished` for a finished
    run given to ``--resume``."""
    for name in ("--steps", "--eval-every", "--save-every", "--eval-episodes", "--num-envs"):
        positive(name, getattr(args, name[2:].replace("-", "_")))
    given = [f"--{n}" for n in MULTI_RUN_OPTIONS if getattr(args, n, None) is not None]
    if given:
        raise ValueError(f"{', '.join(given)}: only with --seeds")
    if args.resume:
        return _plan_resume(args)
    if args.stretch_schedules:
        raise ValueError("--stretch-schedules goes with --resume")
    name = check_name(args.name)
    env_name = args.env or DEFAULT_ENV
    agent = args.agent or DEFAULT_AGENT
    env_id = check_env_id(env_name)
    cls = registry.agent_class(agent)
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    if ma_ids.is_multi_agent(env_id):
        check_multi_agent(env_id, agent, env_kwargs)
    elif env_kwargs:  # an unknown keyword is bad input, not a crash after the run folder
        try:
            gym.make(env_name, **env_kwargs).close()
        except TypeError as e:
            raise ValueError(f"cannot make {env_id} with {env_kwargs}: {e}") from e
    config = resolve_hyperparams(cls, agent, env_id, args.config, args.sets)
    tuned = tuned_job_options(agent, env_id)
    steps = args.steps or tuned.get("n_timesteps", DEFAULT_STEPS)
    seed = 0 if args.seed is None else args.seed
    opts = {
        "env": env_name,
        "env_kwargs": env_kwargs,
        "agent": agent,
        "steps": steps,
        "seed": seed,
        "eval_every": args.eval_every or max(1, steps // 10),
        "eval_episodes": args.eval_episodes or 10,
        "save_every": args.save_every or max(1, steps // 10),
        "logdir": args.logdir or "runs",
        "device": resolve_device(args.device or "auto"),
        "num_envs": args.num_envs or (tuned.get("n_envs", 1) if cls.supports_vector_env else 1),
        "no_progress": bool(args.no_progress),
        "name": name,
    }
    config = _apply_device(config, args.device, opts["device"])
    _check_num_envs(cls, opts)
    if args.run_dir:
        return Plan(opts, check_run_dir(args.run_dir), cls, config, explicit_dir=True)
    base = Path(opts["logdir"]) / env_id.replace("/", "_") / agent
    folder = run_name(seed) + (f"_{name}" if name else "")
    run_dir, n = base / folder, 1
    while run_dir.exists():
        run_dir, n = base / f"{folder}-{n}", n + 1
    return Plan(opts, run_dir, cls, config)


def check_name(name: str | None) -> str:
    """A run's tag: '' when none; it goes into folder names, so only a safe alphabet."""
    if name is None:
        return ""
    if not NAME_RE.match(name):
        raise ValueError(
            f"--name {name!r}: a tag is 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return name


def check_run_dir(path: str) -> Path:
    """``--run-dir``: a folder that does not exist yet, or an empty one."""
    run_dir = Path(path)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise ValueError(
            f"--run-dir {run_dir}: exists and is not an empty folder; give a new path (or "
            "--resume it if it is an interrupted run)"
        )
    return run_dir


def _has_device(config_cls: type) -> bool:
    return "device" in {f.name for f in dataclasses.fields(config_cls)}


def _apply_device(config: Any, asked: str | None, device: str) -> Any:
    """``--device`` given: it replaces the config's device (agents that have one)."""
    if asked is not None and _has_device(type(config)):
        return dataclasses.replace(config, device=device)
    return config


def _check_num_envs(cls: type, opts: dict[str, Any]) -> None:
    if opts["num_envs"] > 1 and not cls.supports_vector_env:
        raise ValueError(f"{opts['agent']} trains on one env; --num-envs must be 1")


def _plan_resume(args: argparse.Namespace) -> Plan:
    run_dir = Path(args.resume)
    if not (run_dir / "config.yaml").is_file():
        raise ValueError(f"--resume {run_dir}: not a run folder (no config.yaml)")
    fixed = [
        {"sets": "--set", "env_kwargs": "--env-kwarg"}.get(name, f"--{name.replace('_', '-')}")
        for name, value in vars(args).items()
        if value is not None
        and name not in (*RESUME_OPTIONS, "resume")
        and not name.startswith("list_")
    ]
    if fixed:
        allowed = ", ".join(f"--{o.replace('_', '-')}" for o in RESUME_OPTIONS)
        raise ValueError(
            f"--resume continues {run_dir} as it was configured: {', '.join(fixed)} cannot "
            f"change it (allowed with --resume: {allowed}); start a new run instead"
        )
    run = Run(run_dir)
    saved = run.read_yaml("config.yaml")
    opts = dict(saved["options"])
    summary = run.read_json("summary.json") or {}
    if (run_dir / "final").is_dir() and summary.get("exit_reason") == "finished":
        done = int(summary.get("steps", opts["steps"]))
        if args.steps is None or args.steps <= done:
            raise AlreadyFinished(f"{run_dir} already finished at {done} steps; nothing to resume")
        raise ValueError(
            f"{run_dir} already finished at {done} steps: --resume continues interrupted runs "
            "only, and its final agent stays as it is; train further in a new run"
        )
    latest = run.latest_checkpoint()
    if latest is None:
        raise ValueError(f"--resume {run_dir}: the run has no checkpoint to resume from")
    step, checkpoint = latest
    if args.steps is not None:
        if args.steps <= step:
            raise ValueError(
                f"--steps {args.steps}: the run is already at step {step}; give a larger budget"
            )
        opts["steps"] = args.steps
    if args.save_every is not None:
        opts["save_every"] = args.save_every
    opts["no_progress"] = bool(args.no_progress)
    notes = []
    if args.device is not None:
        opts["device"] = resolve_device(args.device)
        notes.append(f"device: {opts['device']} (was {saved['options']['device']})")
    opts["stretch_schedules"] = bool(args.stretch_schedules)
    check_env_id(opts["env"])
    cls = registry.agent_class(opts["agent"])
    config = resolve(cls.Config, ("config.yaml", saved["hyperparams"]))
    config = _apply_device(config, args.device, opts["device"])
    overrides = (
        {"device": config.device} if args.device is not None and _has_device(cls.Config) else {}
    )
    _check_num_envs(cls, opts)
    return Plan(opts, run_dir, cls, config, checkpoint, step, overrides, tuple(notes))


def errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean bad input (exit 2)."""
    return (ValueError, ConfigError, CheckpointError, gym.error.Error)
