"""Action masks for value-based agents: where a mask comes from, and acting and bootstrapping
over the legal actions only.

A mask is a boolean array, True for the actions that are legal now: one row per sub-env of a
vector env. It comes from the step's ``info["action_mask"]`` (our board games and power grid
put it there, as PettingZoo's classic games do), else from an ``action_masks()`` method of the
env (the convention sb3-contrib's MaskablePPO follows). An env with neither has no mask, and
every function here then leaves behaviour exactly as it was without masks.

A row with no legal action (a board game that is over) is treated as all legal when acting, and
as worth 0 when bootstrapping (it only occurs after a termination, whose discount is 0).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

INFO_KEY = "action_mask"
METHOD = "action_masks"


def from_info(info: dict[str, Any], num_envs: int, n_actions: int) -> np.ndarray | None:
    """``(num_envs, n_actions)`` bools from a vector env's ``info["action_mask"]``, or None when
    the info has none. Sub-envs that did not report one (``info["_action_mask"]`` False) get
    all-True rows."""
    if INFO_KEY not in info:
        return None
    mask = np.asarray(info[INFO_KEY])
    if mask.dtype == object:  # some sub-envs reported none: their entries are None
        rows = [np.ones(n_actions, bool) if m is None else np.asarray(m, bool) for m in mask]
        mask = np.stack(rows)
    mask = mask.astype(bool).reshape(num_envs, n_actions)
    present = info.get(f"_{INFO_KEY}")
    if present is not None:
        mask = np.where(np.asarray(present, bool)[:, None], mask, True)
    return mask


def from_method(env: Any, num_envs: int, n_actions: int) -> np.ndarray | None:
    """``(num_envs, n_actions)`` bools from the env's ``action_masks()``: the vector env's own,
    else each sub-env's through ``call``; None when the env has no such method (or is a vector
    env without ``call``)."""
    method = getattr(env, METHOD, None)
    if callable(method):
        return np.asarray(method(), bool).reshape(num_envs, n_actions)
    if isinstance(env, gym.vector.VectorEnv) and hasattr(env, "call"):
        # Asked first: a missing attribute raised inside an async worker shuts the worker down.
        if not all(env.call("has_wrapper_attr", METHOD)):
            return None
        return np.asarray(env.call(METHOD), bool).reshape(num_envs, n_actions)
    return None


def current(env: Any, info: dict[str, Any], num_envs: int, n_actions: int) -> np.ndarray | None:
    """The mask of the observations that ``info`` came with: the info's, else the env's
    method's, else None."""
    mask = from_info(info, num_envs, n_actions)
    return mask if mask is not None else from_method(env, num_envs, n_actions)


def method_of(env: gym.Env) -> Any:
    """One (non-vector) env's ``action_masks`` method, found through its wrappers, or None."""
    try:
        method = env.get_wrapper_attr(METHOD) if isinstance(env, gym.Wrapper) else None
    except AttributeError:
        method = None
    return method or getattr(env, METHOD, None)


def single(
    env: gym.Env, info: dict[str, Any], n_actions: int, method: Any = False
) -> np.ndarray | None:
    """The mask of one (non-vector) env's current observation: ``info["action_mask"]``, else
    ``action_masks()`` found through its wrappers; None when it has neither. A caller that
    asks every step passes ``method``, :func:`method_of` the env found once."""
    if INFO_KEY in info:
        return np.asarray(info[INFO_KEY], bool).reshape(n_actions)
    if method is False:
        method = method_of(env)
    return None if method is None else np.asarray(method(), bool).reshape(n_actions)


def legal(mask: np.ndarray) -> np.ndarray:
    """``mask`` with rows that allow nothing opened to every action (nothing else to do)."""
    mask = np.asarray(mask, bool)
    return np.where(mask.any(axis=-1, keepdims=True), mask, True)


def random_legal(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random legal action per row of ``mask``, from one uniform draw each."""
    mask = legal(mask)
    counts = mask.sum(axis=1)
    k = np.minimum((rng.random(len(mask)) * counts).astype(np.int64), counts - 1)
    return (mask.cumsum(axis=1) > k[:, None]).argmax(axis=1)


def masked_scores(scores: Any, mask: Any, fill: float = -np.inf) -> Any:
    """``scores`` with illegal actions set to ``fill`` (numpy arrays or torch tensors alike),
    for an argmax over the legal actions."""
    if isinstance(scores, np.ndarray):
        return np.where(legal(mask), scores, fill)
    import torch

    allowed = torch.as_tensor(mask, dtype=torch.bool, device=scores.device)
    allowed = allowed | ~allowed.any(dim=-1, keepdim=True)
    return scores.masked_fill(~allowed, fill)


def masked_max(values: Any, mask: Any) -> Any:
    """The largest value over the legal actions of each row (torch), 0 for rows with none: the
    bootstrapped max of a TD target, where such rows follow a termination."""
    import torch

    allowed = torch.as_tensor(mask, dtype=torch.bool, device=values.device)
    best = values.masked_fill(~allowed, -torch.inf).max(dim=-1).values
    return torch.where(allowed.any(dim=-1), best, torch.zeros_like(best))
