"""DQN on Atari: the frame-once replay is chosen for frame stacks, a lost life ends what is
learned but not the game, ale-py's vector env resumes exactly, and checkpoints can leave the
replay out. Needs the atari extra; skipped without it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("ale_py")
pytest.importorskip("cv2")

import sige_rl.envs  # noqa: E402, F401
from sige_rl import agents  # noqa: E402
from sige_rl.agents.common.frame_replay import FrameReplayBuffer  # noqa: E402
from sige_rl.agents.common.interface import Callback  # noqa: E402
from sige_rl.agents.common.replay import ReplayBuffer  # noqa: E402
from sige_rl.agents.dqn.dqn import DQN  # noqa: E402

SMALL = {
    "batch_size": 8,
    "buffer_size": 2000,
    "learning_starts": 100,
    "train_freq": 4,
    "target_update_interval": 100,
}


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def at_safe_point(self, agent):
        return agent.num_steps < self.step


class Games(Callback):
    def __init__(self):
        self.returns = []

    def on_episode(self, agent, episode_return, episode_length):
        self.returns.append(episode_return)


def vec(n=2, **options):
    return gym.make_vec(
        "sige/Breakout-v0",
        num_envs=n,
        vectorization_mode="vector_entry_point",
        num_threads=1,
        **options,
    )


def test_frame_stacks_get_the_frame_once_replay():
    assert isinstance(DQN(gym.make("sige/Pong-v0"), **SMALL).buffer, FrameReplayBuffer)
    assert isinstance(DQN(vec(), **SMALL).buffer, FrameReplayBuffer)
    forced = DQN(gym.make("sige/Pong-v0"), replay="transitions", **SMALL)
    assert isinstance(forced.buffer, ReplayBuffer)
    assert isinstance(DQN(gym.make("CartPole-v1"), **SMALL).buffer, ReplayBuffer)


def test_a_lost_life_is_terminal_for_learning_while_the_game_goes_on():
    """Breakout has 5 lives. Acting at random, each whole game is one episode (one return,
    the raw score), and replay holds a terminal transition for every life lost."""
    agent = DQN(
        gym.make("sige/Breakout-v0", repeat_action_probability=0.0),
        seed=1,
        terminal_on_life_loss=True,
        epsilon_final=1.0,
        **SMALL,
    )
    games = Games()
    agent.learn(1500, callback=games)
    buffer = agent.buffer
    assert games.returns and agent.num_episodes == len(games.returns)
    lives_lost = 5 * len(games.returns) + (5 - agent.lives[0])
    assert buffer.terminated.sum() == lives_lost  # 1,500 steps fit in the 2,000 slots
    # A life's end writes a new stack (it starts a new learning episode), a game's end too.
    assert np.all(np.asarray(games.returns) >= 0) and max(games.returns) == int(max(games.returns))


def test_life_loss_needs_lives_in_info():
    agent = DQN(gym.make("CartPole-v1"), terminal_on_life_loss=True, **SMALL)
    with pytest.raises(ValueError, match=r"info\['lives'\]"):
        agent.learn(10)


def test_vector_env_run_resumes_exactly_by_replaying_episodes(tmp_path):
    """ale-py's C++ vector env, sticky actions on: stopped mid-episode and resumed from the
    checkpoint, the weights end equal to an uninterrupted run's."""
    straight = DQN(vec(), seed=4, **SMALL).learn(600)
    first = DQN(vec(), seed=4, **SMALL)
    first.learn(600, callback=StopAt(302))
    first.save(tmp_path / "ck")
    resumed = agents.load(tmp_path / "ck", env=vec())
    resumed.learn(600)
    for a, b in zip(resumed.q.parameters(), straight.q.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    np.testing.assert_array_equal(resumed.obs, straight.obs)


def test_checkpoint_without_replay_resumes_and_says_it_is_not_exact(tmp_path):
    agent = DQN(gym.make("sige/Pong-v0"), seed=0, checkpoint_replay=False, **SMALL)
    agent.learn(300)
    agent.save(tmp_path / "ck")
    arrays = np.load(tmp_path / "ck" / "arrays.npz")
    assert not any(k.startswith("replay/") for k in arrays.files)
    with pytest.warns(UserWarning, match="no longer an exact continuation"):
        resumed = agents.load(tmp_path / "ck", env=gym.make("sige/Pong-v0"))
    assert len(resumed.buffer) == 0 and resumed.learning_starts_at == 300 + 100
    updates = resumed.num_updates
    resumed.learn(380)  # refilling: no gradient step before step 400
    assert resumed.num_updates == updates
    resumed.learn(480)
    assert resumed.num_updates > updates
