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


def make_atari_env(
    game: str,
    *,
    noop_max: int = 30,
    frame_skip: int = 4,
    screen_size: int = 84,
    frame_stack: int = 4,
    episodic_life: bool = False,
    fire_reset: bool = True,
    clip_rewards: bool = False,
    repeat_action_probability: float = 0.25,
    full_action_space: bool = False,
    render_mode: str | None = None,
) -> gym.Env:
    """One Atari game with DQN-Nature preprocessing.

    Args:
        game: an ALE game, ``"Pong"`` or ``"pong"`` (:func:`game_ids` lists them).
        noop_max: up to this many no-op actions after a reset (0: none).
        frame_skip: each action repeats this many frames; the observation is the max of the
            last two (flicker).
        screen_size: observations are ``screen_size`` squared, grayscale.
        frame_stack: the last this many frames, channels first: ``(frame_stack, 84, 84)``;
            zero frames before the first.
        episodic_life: a lost life ends the episode (Gymnasium's semantics: the next reset
            starts a new game). Off by default, as Machado et al. 2018 recommend.
        fire_reset: press FIRE for one frame after each reset, before the noops, in games whose
            action 1 is FIRE (as ale-py's vector env does).
        clip_rewards: rewards become their sign. Off by default: the env reports the raw game
            score, and learners clip while training (evaluations stay in game points).
        repeat_action_probability: sticky actions (Machado et al. 2018): 0.25, or 0 for a
            deterministic game.
        full_action_space: all 18 actions instead of the game's minimal set.
        render_mode: ``"rgb_array"`` for frames of the full screen.
    """
    _ale_py()
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    for name, value, low in (("frame_skip", frame_skip, 1), ("frame_stack", frame_stack, 1)):
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    if not 0.0 <= repeat_action_probability <= 1.0:
        raise ValueError(
            f"repeat_action_probability must lie in [0, 1], got {repeat_action_probability}"
        )
    rom = rom_id(game)
    from ale_py.registration import rom_id_to_name

    env = gym.make(
        f"ALE/{rom_id_to_name(rom)}-v5",
        frameskip=1,  # AtariPreprocessing repeats actions and max-pools itself
        repeat_action_probability=repeat_action_probability,
        full_action_space=full_action_space,
        max_num_frames_per_episode=MAX_FRAMES_PER_EPISODE,
        render_mode=render_mode,
    )
    if fire_reset and needs_fire(env):
        env = FireOnReset(env)
    env = AtariPreprocessing(
        env,
        noop_max=noop_max,
        frame_skip=frame_skip,
        screen_size=screen_size,
        terminal_on_life_loss=episodic_life,
        grayscale_obs=True,
        scale_obs=False,
    )
    if clip_rewards:
        env = gym.wrappers.TransformReward(env, lambda r: float(np.sign(r)))
    return FrameStackObservation(env, frame_stack, padding_type="zero")  # as AtariVectorEnv


def make_atari_vector_env(
    game: str,
    num_envs: int,
    *,
    noop_max: int = 30,
    frame_skip: int = 4,
    screen_size: int = 84,
    frame_stack: int = 4,
    episodic_life: bool = False,
    fire_reset: bool = True,
    clip_rewards: bool = False,
    repeat_action_probability: float = 0.25,
    full_action_space: bool = False,
    **vector_kwargs: Any,
) -> gym.vector.VectorEnv:
    """ale-py's C++ ``AtariVectorEnv`` configured as :func:`make_atari_env` (the
    ``vector_entry_point`` of ``sige/<Game>-v0``); ``vector_kwargs`` go to it as they are
    (``num_threads``, ``batch_size`` ...)."""
    _ale_py()
    from ale_py.vector_env import AtariVectorEnv

    return AtariVectorEnv(
        game=rom_id(game),
        num_envs=num_envs,
        noop_max=noop_max,
        frameskip=frame_skip,
        img_height=screen_size,
        img_width=screen_size,
        grayscale=True,
        stack_num=frame_stack,
        maxpool=True,
        episodic_life=episodic_life,
        use_fire_reset=fire_reset,
        reward_clipping=clip_rewards,
        repeat_action_probability=repeat_action_probability,
        full_action_space=full_action_space,
        max_num_frames_per_episode=MAX_FRAMES_PER_EPISODE,
        **vector_kwargs,
    )
