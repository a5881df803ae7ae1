"""Measuring a trained agent: returns over seeded episodes (of a Gymnasium env, or of a
multi-agent env through its ``VecEnv`` adapter), the optimality gap on environments with an exact
model, and rendered episodes (GIF with Pillow; MP4 with imageio-ffmpeg, the optional ``video``
extra, imported when a video is written)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from sige_rl.agents.common import masks
from sige_rl.agents.search.protocol import Planner
from sige_rl.agents.tabular.model import (
    TabularModel,
    policy_evaluation,
    start_value,
    value_iteration,
)

#: Step cap of one evaluation episode on an env that sets no time limit of its own (Gymnasium's
#: CliffWalking-v1 has none, and a greedy policy that walks into a wall loops forever).
DEFAULT_MAX_EPISODE_STEPS = 10_000


class Interrupted(Exception):
    """An evaluation stopped because its ``should_stop`` said so."""


class Evaluation(NamedTuple):
    """Per episode: the return, the length, and whether the step cap cut it; ``metrics``: more
    per-episode totals by name (a multi-agent env's costs, say), logged beside the return."""

    returns: np.ndarray
    lengths: np.ndarray
    capped: np.ndarray
    metrics: dict[str, np.ndarray] = {}  # noqa: RUF012 (never mutated)


def episode_step_cap(env: gym.Env) -> int:
    """The env's own time limit, or :data:`DEFAULT_MAX_EPISODE_STEPS` where it has none."""
    spec = env.spec
    limit = spec.max_episode_steps if spec is not None else None
    return int(limit) if limit else DEFAULT_MAX_EPISODE_STEPS


def evaluate(
    agent: Any,
    env: gym.Env,
    episodes: int,
    seed: int,
    epsilon: float = 0.0,
    max_steps: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Evaluation:
    """Play ``episodes`` episodes of the agent's greedy policy; episode ``i`` starts with
    ``env.reset(seed=seed + i)``.

    With ``epsilon > 0`` each action is uniformly random with that probability (an evaluation
    epsilon, as DQN's ``eval_epsilon``), drawn from a generator seeded by ``seed``: evaluations
    are reproducible and never touch the agent's own generators. An episode is cut after
    ``max_steps`` (default :func:`episode_step_cap`); ``capped`` says which were. An agent
    that ``supports_action_masks`` is given the mask of each observation where the env offers
    one (``info["action_mask"]`` or ``action_masks()``), and the epsilon's random actions are
    then legal ones too. Raises
    :class:`Interrupted` as soon as ``should_stop()`` is true (checked every step).
    """
    cap = episode_step_cap(env) if max_steps is None else int(max_steps)
    rng = np.random.default_rng([seed, 7])
    n_actions = env.action_space.n if isinstance(env.action_space, gym.spaces.Discrete) else None
    if epsilon > 0 and n_actions is None:
        raise ValueError(
            f"an evaluation epsilon needs a Discrete action space, got {env.action_space}"
        )
    start = getattr(env.action_space, "start", 0)
    masked = agent.supports_action_masks and n_actions is not None
    returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=int)
    capped = np.zeros(episodes, dtype=bool)
    for i in range(episodes):
        obs, info = env.reset(seed=seed + i)
        if isinstance(agent, Planner):  # it looks ahead on the env being played
            agent.attach(env)
        done = False
        while not done:
            if should_stop is not None and should_stop():
                raise Interrupted(f"evaluation stopped in episode {i + 1} of {episodes}")
            mask = masks.single(env, info, n_actions) if masked else None
            if epsilon > 0 and rng.random() < epsilon:
                if mask is None:
                    action = int(start + rng.integers(n_actions))
                else:
                    action = int(start + masks.random_legal(mask[None], rng)[0])
            elif mask is None:
                action = agent.act(obs, deterministic=True)
            else:
                action = agent.act(obs, deterministic=True, action_mask=mask)
            obs, r, terminated, truncated, info = env.step(action)
            returns[i] += r
            lengths[i] += 1
            done = terminated or truncated
            if not done and lengths[i] >= cap:
                capped[i] = done = True
    return Evaluation(returns, lengths, capped)


def evaluate_parallel(
    agent: Any,
    venv: Any,
    episodes: int,
    seed: int,
    epsilon: float = 0.0,
    max_steps: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    metrics: dict[str, str] | None = None,
) -> Evaluation:
    """:func:`evaluate` for a multi-agent env: ``venv`` is one copy of it as an SB3 ``VecEnv``
    with a slot per agent (``agents.multiagent.ParallelEnvVecEnv(make_env, 1)``). Episode ``i``
    starts with the env's ``reset(seed=seed + i)``; at every step the agent acts greedily on all
    the agents' observations as one batch.

    The return of an episode is the community's: every agent's rewards summed (a penalty the
    env splits among the agents is thus counted once). ``metrics`` names info keys to total per
    episode: ``"agents"`` sums the key over the agents, ``"community"`` counts it once (the env
    reports the same value to every agent). The episode ends when all agents are done (the
    adapter then resets the env, which the next episode reseeds) or after ``max_steps`` steps
    (default :data:`DEFAULT_MAX_EPISODE_STEPS`). Only ``epsilon=0``: greedy evaluations.
    """
    if epsilon > 0:
        raise ValueError("a multi-agent evaluation plays the greedy policy only (epsilon 0)")
    cap = DEFAULT_MAX_EPISODE_STEPS if max_steps is None else int(max_steps)
    metrics = dict(metrics or {})
    for key, kind in metrics.items():
        if kind not in ("agents", "community"):
            raise ValueError(f"metric {key!r}: kind must be 'agents' or 'community', got {kind!r}")
    returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=int)
    capped = np.zeros(episodes, dtype=bool)
    totals = {k: np.zeros(episodes) for k in metrics}
    for i in range(episodes):
        venv.seed(seed + i)
        obs = venv.reset()
        done = False
        while not done:
            if should_stop is not None and should_stop():
                raise Interrupted(f"evaluation stopped in episode {i + 1} of {episodes}")
            obs, rewards, dones, infos = venv.step(agent.act(obs, deterministic=True))
            returns[i] += float(np.sum(rewards, dtype=np.float64))
            lengths[i] += 1
            for key, kind in metrics.items():
                values = [info[key] for info in infos if key in info]
                if values:
                    totals[key][i] += float(np.sum(values)) if kind == "agents" else values[0]
            done = bool(np.all(dones))
            if not done and lengths[i] >= cap:
                capped[i] = done = True
    return Evaluation(returns, lengths, capped, totals)


class OptimalityGap:
    """``V*`` minus the value of the agent's greedy policy, at the start-state distribution.

    ``V*`` is computed once by value iteration on ``env.unwrapped.P``; each call evaluates the
    greedy policy (``act(states, deterministic=True)``) exactly on the same model.
    :meth:`for_env` returns None when the env has no model or its observations are not state
    indices.
    """

    def __init__(self, model: TabularModel, gamma: float):
        self.model, self.gamma = model, gamma
        v_star, _ = value_iteration(model, gamma)
        self.v_star = start_value(model, v_star)

    @classmethod
    def for_env(cls, env: gym.Env, gamma: float) -> OptimalityGap | None:
        if getattr(env.unwrapped, "P", None) is None:
            return None
        if not isinstance(env.observation_space, gym.spaces.Discrete):
            return None
        return cls(TabularModel.from_env(env), gamma)

    def policy_value(self, agent: Any) -> float:
        actions = np.asarray(agent.act(np.arange(self.model.n_states), deterministic=True))
        return start_value(self.model, policy_evaluation(self.model, actions, self.gamma))

    def __call__(self, agent: Any) -> float:
        return self.v_star - self.policy_value(agent)


def record_episode(
    agent: Any, env: gym.Env, seed: int, max_steps: int | None = None
) -> tuple[list[np.ndarray], float]:
    """Frames of one greedy episode on an env made with ``render_mode="rgb_array"``, cut after
    ``max_steps`` (default :func:`episode_step_cap`)."""
    cap = episode_step_cap(env) if max_steps is None else int(max_steps)
    obs, info = env.reset(seed=seed)
    if isinstance(agent, Planner):
        agent.attach(env)
    n_actions = env.action_space.n if isinstance(env.action_space, gym.spaces.Discrete) else None
    masked = agent.supports_action_masks and n_actions is not None
    frames, total, done, steps = [env.render()], 0.0, False, 0
    while not done and steps < cap:
        mask = masks.single(env, info, n_actions) if masked else None
        kwargs = {} if mask is None else {"action_mask": mask}
        obs, r, terminated, truncated, info = env.step(agent.act(obs, deterministic=True, **kwargs))
        total += r
        steps += 1
        frames.append(env.render())
        done = terminated or truncated
    return frames, total


def write_gif(frames: list[np.ndarray], path: Any, fps: int = 4) -> None:
    """Save RGB frames as a looping GIF (Pillow)."""
    from PIL import Image

    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)


def require_imageio_ffmpeg() -> Any:
    """The ``imageio_ffmpeg`` module, with its ffmpeg binary found; ``ImportError`` naming the
    extra to install when either is missing."""
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as e:
        raise ImportError(
            f"writing a video needs imageio-ffmpeg and its ffmpeg binary ({e}): "
            "pip install sige-rl[video]"
        ) from e
    return imageio_ffmpeg


def write_video(frames: list[np.ndarray], path: Any, fps: int = 4) -> None:
    """Save RGB frames (``(H, W, 3)`` uint8, all of one size) as an H.264 MP4 that browsers and
    players read (libx264, pixel format yuv420p), with the ffmpeg binary that imageio-ffmpeg's
    wheel ships.

    yuv420p keeps colour at half the resolution in both directions, so libx264 needs an even
    width and height: a frame with an odd one is padded by one row or column repeating its edge.
    Nothing is rescaled (imageio-ffmpeg's default would resize every frame to a multiple of 16
    pixels; ``macro_block_size=1`` turns that off), so the video has every frame of ``frames``,
    pixel for pixel up to compression.
    """
    ffmpeg = require_imageio_ffmpeg()
    images = [np.asarray(f, dtype=np.uint8) for f in frames]
    if not images:
        raise ValueError("no frames to write")
    height, width = images[0].shape[:2]
    for i, image in enumerate(images):
        if image.shape != (height, width, 3):
            raise ValueError(
                f"frame {i} has shape {image.shape}; every frame must be ({height}, {width}, 3)"
            )
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    writer = ffmpeg.write_frames(
        str(path),
        (width + width % 2, height + height % 2),
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        fps=fps,
        codec="libx264",
        macro_block_size=1,
        ffmpeg_log_level="error",
    )
    writer.send(None)  # starts ffmpeg
    try:
        for image in images:
            writer.send(np.ascontiguousarray(np.pad(image, pad, mode="edge")))
    finally:
        writer.close()
