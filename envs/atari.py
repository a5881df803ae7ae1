"""Atari 2600 games on the Arcade Learning Environment, preprocessed as DQN learns from them.

Needs the ``atari`` extra (``pip install "sige-rl[atari]"``: ale-py, whose wheel ships the ROMs,
and opencv-python-headless for the 84x84 resize). Importing this module does not import ale-py;
making an env does.

The single env is Gymnasium's own wrappers, configured: ``ALE/<Game>-v5`` with ALE's frame skip
off, an optional FIRE frame on reset, then ``AtariPreprocessing`` (noop starts, action repeat
with a max over the last two frames, 84x84 grayscale, optional end of episode on a life loss),
optional reward clipping, and ``FrameStackObservation`` (channels first, uint8; the stack after
a reset is padded with zero frames, as ale-py's vector env and SB3's ``VecFrameStack`` do). The
batched version is ale-py's C++ ``AtariVectorEnv`` with the same settings
(:func:`make_atari_vector_env`); with sticky actions and noops off the two are equal step for
step.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

import gymnasium as gym
import numpy as np

EXTRA = 'the atari extra: pip install "sige-rl[atari]" (ale-py and opencv-python-headless)'
#: ALE's own cap: 108,000 frames (30 minutes of play), 27,000 agent steps at frame skip 4.
MAX_FRAMES_PER_EPISODE = 108_000


def _ale_py():
    try:
        import ale_py
    except ImportError as e:
        raise gym.error.DependencyNotInstalled(f"Atari games need {EXTRA}") from e
    gym.register_envs(ale_py)
    return ale_py


def game_ids() -> list[str]:
    """ALE's ROM ids (``pong``, ``space_invaders`` ...), all shipped in the ale-py wheel."""
    from ale_py import roms

    _ale_py()
    return sorted(roms.get_all_rom_ids())


def rom_id(game: str) -> str:
    """``"Pong"``, ``"pong"``, ``"SpaceInvaders"`` or ``"space_invaders"`` -> the ROM id;
    ``ValueError`` with close matches for an unknown game."""
    ids = game_ids()
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in game).lstrip("_")
    for candidate in (game, game.lower(), snake):
        if candidate in ids:
            return candidate
    close = difflib.get_close_matches(snake, ids, n=3)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown Atari game {game!r}{hint} ({len(ids)} games: see game_ids())")


class FireOnReset(gym.Wrapper):
    """Press FIRE for one frame after every reset, for games that wait for it to start
    (Breakout serves the ball on FIRE); wraps the raw, frame-skip-1 game, below the frame skip
    and the noop starts. This is what ale-py's ``AtariVectorEnv`` does (one FIRE frame straight
    after ``reset_game``); Baselines' and SB3's ``FireResetEnv`` instead take a whole
    frame-skipped FIRE step, then action 2. Applies only where action 1 means FIRE."""

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        obs, _, terminated, truncated, info = self.env.step(1)
        if terminated or truncated:  # cannot happen in one frame; start again if it did
            obs, info = self.env.reset(**kwargs)
        return obs, info


def needs_fire(env: gym.Env) -> bool:
    meanings = env.unwrapped.get_action_meanings()
    return len(meanings) >= 3 and meanings[1] == "FIRE"


@dataclasses.dataclass(frozen=True)
class AtariOptions:
    """The preprocessing of :func:`make_atari_env` and :func:`make_atari_vector_env`, one set of
    names for both; an unknown name is refused with the valid ones."""

    noop_max: int = 30
    """Up to this many no-op frames after a reset (0: none)."""
    frame_skip: int = 4
    """Each action repeats this many frames; the observation is the max of the last two."""
    screen_size: int = 84
    """Observations are ``screen_size`` squared, grayscale."""
    frame_stack: int = 4
    """The last this many frames, channels first, zero frames before the first."""
    episodic_life: bool = False
    """A lost life ends the episode. Off by default, as Machado et al. 2018 recommend."""
    fire_reset: bool = True
    """Press FIRE for one frame after each reset, before the noops, in games whose action 1 is
    FIRE (as ale-py's vector env does)."""
    clip_rewards: bool = False
    """Rewards become their sign. Off by default: the env reports the raw game score, and
    learners clip while training (DQN's ``clip_rewards``), so evaluations stay in game points."""
    repeat_action_probability: float = 0.25
    """Sticky actions (Machado et al. 2018): 0.25, or 0 for a deterministic game."""
    full_action_space: bool = False
    """All 18 actions instead of the game's minimal set."""

    def __post_init__(self) -> None:
        for name in ("frame_skip", "frame_stack", "screen_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.noop_max < 0:
            raise ValueError(f"noop_max must be >= 0, got {self.noop_max}")
        if not 0.0 <= self.repeat_action_probability <= 1.0:
            raise ValueError(
                "repeat_action_probability must lie in [0, 1], got "
                f"{self.repeat_action_probability}"
            )

    @classmethod
    def of(cls, options: dict[str, Any]) -> AtariOptions:
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in options if k not in names]
        if unknown:
            close = difflib.get_close_matches(unknown[0], names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"unknown Atari option {unknown[0]!r}{hint} (valid: {', '.join(names)})"
            )
        return cls(**options)


def make_atari_env(game: str, render_mode: str | None = None, **options: Any) -> gym.Env:
    """One Atari game with DQN-Nature preprocessing: ``game`` is an ALE game, ``"Pong"`` or
    ``"pong"`` (:func:`game_ids` lists them), ``options`` are :class:`AtariOptions`, and
    ``render_mode="rgb_array"`` gives frames of the full screen."""
    _ale_py()
    from ale_py.registration import rom_id_to_name
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    o = AtariOptions.of(options)
    env = gym.make(
        f"ALE/{rom_id_to_name(rom_id(game))}-v5",
        frameskip=1,  # AtariPreprocessing repeats actions and max-pools itself
        repeat_action_probability=o.repeat_action_probability,
        full_action_space=o.full_action_space,
        max_num_frames_per_episode=MAX_FRAMES_PER_EPISODE,
        render_mode=render_mode,
    )
    if o.fire_reset and needs_fire(env):
        env = FireOnReset(env)
    env = AtariPreprocessing(
        env,
        noop_max=o.noop_max,
        frame_skip=o.frame_skip,
        screen_size=o.screen_size,
        terminal_on_life_loss=o.episodic_life,
        grayscale_obs=True,
        scale_obs=False,
    )
    if o.clip_rewards:
        env = gym.wrappers.TransformReward(env, lambda r: float(np.sign(r)))
    env = FrameStackObservation(env, o.frame_stack, padding_type="zero")  # as AtariVectorEnv
    env.metadata = {**env.metadata, "frame_stack": o.frame_stack}
    return env


class AtariVectorSeeds(gym.vector.VectorWrapper):
    """ale-py's ``AtariVectorEnv`` taking seeds as Gymnasium's vector envs do.

    ``reset(seed=...)`` accepts an int (sub-env ``i`` gets ``seed + i``, masked or not) or a list
    of ``num_envs`` seeds or Nones, with ``options={"reset_mask": mask}`` resetting only the
    masked sub-envs; ale-py itself wants an array of one seed per sub-env being reset. The
    metadata says so (``reset_mask``), and that observations are stacks of ``frame_stack``
    frames (which lets replay store each frame once).
    """

    def __init__(self, env: gym.vector.VectorEnv, frame_stack: int):
        super().__init__(env)
        self.metadata = {**env.metadata, "reset_mask": True, "frame_stack": frame_stack}

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        mask = None if options is None else options.get("reset_mask")
        chosen = np.arange(self.num_envs) if mask is None else np.flatnonzero(mask)
        if isinstance(seed, (int, np.integer)):
            seed = [int(seed) + i for i in range(self.num_envs)]
        if seed is not None:
            if len(seed) != self.num_envs:
                raise ValueError(f"seed list must have length num_envs={self.num_envs}")
            # ale-py's -1 means "no new seed", as None does here.
            seed = np.array([-1 if seed[i] is None else int(seed[i]) for i in chosen])
        return self.env.reset(seed=seed, options=options)


def make_atari_vector_env(
    game: str, num_envs: int, num_threads: int = 0, batch_size: int = 0, **options: Any
) -> gym.vector.VectorEnv:
    """ale-py's C++ ``AtariVectorEnv`` configured by the same :class:`AtariOptions` as
    :func:`make_atari_env` (the ``vector_entry_point`` of ``sige/<Game>-v0``), seeded the
    Gymnasium way (:class:`AtariVectorSeeds`; ``.unwrapped`` is ale-py's env). ``num_threads``
    (0: one per env, up to the cores) and ``batch_size`` (0: all envs) are ale-py's own."""
    _ale_py()
    from ale_py.vector_env import AtariVectorEnv

    o = AtariOptions.of(options)
    vector = AtariVectorEnv(
        game=rom_id(game),
        num_envs=num_envs,
        noop_max=o.noop_max,
        frameskip=o.frame_skip,
        img_height=o.screen_size,
        img_width=o.screen_size,
        grayscale=True,
        stack_num=o.frame_stack,
        maxpool=True,
        episodic_life=o.episodic_life,
        use_fire_reset=o.fire_reset,
        reward_clipping=o.clip_rewards,
        repeat_action_probability=o.repeat_action_probability,
        full_action_space=o.full_action_space,
        max_num_frames_per_episode=MAX_FRAMES_PER_EPISODE,
        num_threads=num_threads,
        batch_size=batch_size,
    )
    return AtariVectorSeeds(vector, o.frame_stack)
