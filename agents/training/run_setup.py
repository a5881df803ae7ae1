"""What a run records about itself and the environments it trains and evaluates on."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import gymnasium as gym

from sige_rl.agents.multiagent import ids as ma_ids
from sige_rl.agents.training.evaluation import evaluate, evaluate_parallel
from sige_rl.supervised import Run

VERSIONED = ("sige-rl", "gymnasium", "numpy", "torch", "stable-baselines3", "tensorboard")


def make_train_env(env_id: str, num_envs: int, cls: type, env_kwargs: dict | None = None):
    """A vector env for agents that take one (the native batched env where the id registers
    one), else a single env; ``env_kwargs`` go to the env's constructor. A multi-agent id gives
    ``num_envs`` copies of its ``ParallelEnv`` as one Stable-Baselines3 ``VecEnv`` with a slot
    per agent (``agents/multiagent/``)."""
    kwargs = dict(env_kwargs or {})
    if ma_ids.is_multi_agent(env_id):
        return ma_ids.make_vec_env(env_id, num_envs, **kwargs)
    if not cls.supports_vector_env or num_envs == 1:
        return gym.make(env_id, **kwargs)  # a vector agent wraps it in its vector env of one
    spec = gym.spec(env_id.rpartition(":")[2])
    if spec.vector_entry_point is not None:
        # Agents reset finished sub-envs with their own seeds (agents/common/episodes.py): a
        # native vector env serves only if it takes per-env seeds and options["reset_mask"].
        env = gym.make_vec(
            env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
        )
        if env.metadata.get("reset_mask", False):
            return env
        env.close()
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs)


def make_eval_env(opts: dict[str, Any]):
    """The env that evaluations of a run play, and the function that plays them: ``gym.make``
    and :func:`~.evaluation.evaluate`, or for a multi-agent id one copy through the training
    adapter and :func:`~.evaluation.evaluate_parallel` (the community return, and the id's
    metrics of :data:`sige_rl.agents.multiagent.ids.EVAL_METRICS`)."""
    env_id, kwargs = opts["env"], dict(opts.get("env_kwargs") or {})
    if ma_ids.is_multi_agent(env_id):
        metrics = ma_ids.eval_metrics(env_id)
        return ma_ids.make_vec_env(env_id, 1, **kwargs), functools.partial(
            evaluate_parallel, metrics=metrics
        )
    return gym.make(env_id, **kwargs), evaluate


def record_new_run(run: Run, opts: dict[str, Any], config: Any, command: str) -> None:
    """config.yaml and the TensorBoard hparams of a new run."""
    hyperparams = dataclasses.asdict(config)
    hparams = {"env": opts["env"], "agent": opts["agent"], "seed": opts["seed"], **hyperparams}
    run.record_start(
        opts, hyperparams, command, VERSIONED, hparams, {"eval/mean_return": float("nan")}
    )


def record_resume(run: Run, opts: dict[str, Any], command: str) -> None:
    """config.yaml of a resumed run: its options as they are now, and how it was resumed."""
    run.record_resume(opts, command)
