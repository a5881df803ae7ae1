"""sb3-contrib's MaskablePPO behind our interface (``sb3-maskable-ppo``): in training and in
evaluation it never chooses an action that the mask rules out, judged against the board seen in
the observation and the env's own ``info["illegal"]``, while plain ``sb3-ppo`` on the same budget
does; ``act`` with and without a mask; save / load; the optional import; a learning guard."""

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("sb3_contrib")

from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

import sige_rl.envs  # noqa: E402, F401  (registers the sige/ ids)
from sige_rl import agents  # noqa: E402
from sige_rl.agents.sb3.agent import InexactResumeWarning, SB3MaskablePPO  # noqa: E402

TICTACTOE = "sige/TicTacToe-v0"
# Small rollouts: an update every 256 steps of 8 envs.
FAST = {"n_steps": 32, "batch_size": 64, "n_epochs": 4, "learning_rate": 1e-3}


def tictactoes():
    """As many envs as the tuned entry has (n_envs 8)."""
    return gym.make_vec(TICTACTOE, num_envs=8)


def empty_cell(obs: np.ndarray, action: int) -> bool:
    """Whether tic-tac-toe cell ``action`` is empty on the board of ``obs`` (neither player's
    plane has a stone there): the legality of the move, read without the env's mask."""
    return not obs.reshape(2, 9)[:, action].any()


class MoveLog(gym.Wrapper):
    """Appends ``(legal by the board, info["illegal"])`` to ``log`` for every move taken."""

    def __init__(self, env: gym.Env, log: list):
        super().__init__(env)
        self.log, self.obs = log, None

    def reset(self, **kwargs):
        self.obs, info = self.env.reset(**kwargs)
        return self.obs, info

    def step(self, action):
        legal = empty_cell(self.obs, int(action))
        self.obs, reward, terminated, truncated, info = self.env.step(action)
        self.log.append((legal, bool(info.get("illegal", False))))
        return self.obs, reward, terminated, truncated, info


def logged_envs(env_id: str, log: list, n: int = 8) -> DummyVecEnv:
    """SB3's vector env of ``n`` logged envs (the agent steps an SB3 VecEnv as it is)."""
    return DummyVecEnv([lambda: Monitor(MoveLog(gym.make(env_id), log))] * n)


def play(agent, games: int, seed: int, masked: bool = True, deterministic: bool = True):
    """``(wins, illegal moves, moves that were illegal by the board)`` over ``games`` games
    against the random opponent; the mask passed is the env's ``info["action_mask"]``, as the
    training job's evaluation passes it."""
    env = gym.make(TICTACTOE)
    wins = illegal = bad = 0
    for game in range(games):
        obs, info = env.reset(seed=seed + game)
        done = False
        while not done:
            mask = {"action_mask": info["action_mask"]} if masked else {}
            action = agent.act(obs, deterministic=deterministic, **mask)
            bad += not empty_cell(obs, action)
            obs, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        illegal += bool(info.get("illegal", False))
        wins += reward > 0
    return wins, illegal, bad


# -- never a masked action ----------------------------------------------------------------------
def test_no_masked_action_in_training_or_evaluation_unlike_plain_ppo():
    logs = {}
    trained = {}
    for name in ("sb3-maskable-ppo", "sb3-ppo"):
        logs[name] = []
        trained[name] = agents.make(name, logged_envs(TICTACTOE, logs[name]), seed=0, **FAST)
        trained[name].learn(3072)
    for log in logs.values():
        assert len(log) >= 3072
        # the board and the env agree on every move: the log reads legality right
        assert all(legal != illegal for legal, illegal in log)
    masked_moves = logs["sb3-maskable-ppo"]
    assert sum(illegal for _, illegal in masked_moves) == 0
    # the same budget without masks: illegal moves end many training episodes
    assert sum(illegal for _, illegal in logs["sb3-ppo"]) > 50

    maskable = trained["sb3-maskable-ppo"]
    for deterministic in (True, False):  # greedy, and sampling from the masked policy
        _, illegal, bad = play(maskable, 100, seed=100, deterministic=deterministic)
        assert (illegal, bad) == (0, 0)
    # the plain agent's sampled moves are not restricted to the legal ones
    _, illegal, bad = play(trained["sb3-ppo"], 100, seed=100, masked=False, deterministic=False)
    assert illegal == bad > 0


def test_act_picks_the_best_legal_action_of_the_policy_and_ignores_no_mask():
    """With a mask: the argmax of the policy's logits over the legal actions (computed here from
    the logits); without one: MaskablePPO.predict's choice over all actions, which on boards
    the agent never sees unmasked often falls on an occupied cell."""
    agent = agents.make("sb3-maskable-ppo", tictactoes(), seed=0, **FAST).learn(1024)
    rng = np.random.default_rng(0)
    boards = np.zeros((200, 2, 9), np.uint8)
    for board in boards:  # random positions, 1-6 stones, alternating players
        cells = rng.permutation(9)[: rng.integers(1, 7)]
        board[0, cells[0::2]] = 1
        board[1, cells[1::2]] = 1
    obs = boards.reshape(200, 2, 3, 3)
    masks = ~boards.any(axis=1)
    with torch.no_grad():
        obs_tensor, _ = agent.model.policy.obs_to_tensor(obs)
        logits = agent.model.policy.get_distribution(obs_tensor).distribution.logits.numpy()
    expected = np.where(masks, logits, -np.inf).argmax(axis=1)
    np.testing.assert_array_equal(agent.act(obs, action_mask=masks), expected)
    np.testing.assert_array_equal(agent.act(obs, action_mask=masks.astype(np.int8)), expected)
    single = [agent.act(o, action_mask=m) for o, m in zip(obs, masks, strict=True)]
    assert single == expected.tolist() and isinstance(single[0], int)
    unmasked = agent.act(obs)
    np.testing.assert_array_equal(unmasked, logits.argmax(axis=1))
    np.testing.assert_array_equal(unmasked, agent.model.predict(obs, deterministic=True)[0])
    assert not masks[np.arange(200), unmasked].all()  # the mask is what keeps it legal


# -- save / load ----------------------------------------------------------------------------------
def test_save_load_round_trip_gives_the_same_greedy_actions(tmp_path):
    agent = agents.make("sb3-maskable-ppo", tictactoes(), seed=0, **FAST).learn(512)
    agent.save(tmp_path / "ck")
    with pytest.warns(InexactResumeWarning):
        loaded = agents.load(tmp_path / "ck", gym.make(TICTACTOE))
    assert type(loaded) is SB3MaskablePPO and loaded.supports_action_masks
    assert (loaded.num_steps, loaded.num_episodes) == (agent.num_steps, agent.num_episodes)
    rng = np.random.default_rng(1)
    obs = (rng.random((300, 2, 3, 3)) < 0.3).astype(np.uint8)
    masks = rng.random((300, 9)) < 0.5
    masks[:, 4] = True
    np.testing.assert_array_equal(
        loaded.act(obs, action_mask=masks), agent.act(obs, action_mask=masks)
    )
    np.testing.assert_array_equal(loaded.act(obs), agent.act(obs))
    for key, value in agent.model.policy.state_dict().items():
        torch.testing.assert_close(loaded.model.policy.state_dict()[key], value, rtol=0, atol=0)
    loaded.learn(loaded.num_steps + 256)  # training goes on, masked
    assert loaded.num_steps >= agent.num_steps + 256


# -- the power grid ---------------------------------------------------------------------------
class IllegalCount(gym.Wrapper):
    """Counts the steps whose ``info["illegal"]`` is True."""

    def __init__(self, env):
        super().__init__(env)
        self.illegal = self.steps = 0

    def step(self, action):
        out = self.env.step(action)
        self.steps += 1
        self.illegal += bool(out[4]["illegal"])
        return out


def test_power_grid_masks_reach_training():
    """PowerGrid14's mask (cooldowns, lines already out, configurations already set) keeps every
    training action legal by the env's own rules; plain PPO's random start is not so kept."""
    counts = {}
    for name in ("sb3-maskable-ppo", "sb3-ppo"):
        env = IllegalCount(gym.make("sige/PowerGrid14-v0"))
        agents.make(name, env, seed=0, n_steps=128, batch_size=64, n_epochs=1).learn(384)
        counts[name] = (env.steps, env.illegal)
    assert counts["sb3-maskable-ppo"][0] >= 384 and counts["sb3-maskable-ppo"][1] == 0
    assert counts["sb3-ppo"][1] > 10


# -- errors and the optional import ---------------------------------------------------------------
def test_an_env_without_action_masks_raises():
    with pytest.raises(ValueError, match=r"action_masks\(\)"):
        agents.make("sb3-maskable-ppo", gym.make("sige/GridWorld-v0"))


def test_missing_sb3_contrib_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sb3_contrib", None)  # import sb3_contrib now fails
    with pytest.raises(ImportError, match=r"pip install sb3-contrib.*masks"):
        agents.make("sb3-maskable-ppo", tictactoes())
    agents.make("sb3-ppo", gym.make(TICTACTOE), n_steps=64)  # the other agents need none of it


def test_sb3_contrib_is_imported_only_when_the_agent_is_made():
    code = (
        "import sys; from sige_rl import agents; import sige_rl.agents.sb3.agent; "
        "assert 'sb3-maskable-ppo' in agents.names(); "
        "assert 'sb3_contrib' not in sys.modules, 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the tuned entry learns -----------------------------------------------------------------------
@pytest.mark.slow
def test_beats_the_random_opponent_after_10k_steps():
    """The tuned entry, 10k steps on 8 envs (about 3-5 s): seeds 0-9 won 89-100 of 100 masked
    greedy games (mean 95); a uniformly random first player wins about 58%."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the tuned entry's n_envs: no warning
        agent = agents.make("sb3-maskable-ppo", gym.make_vec(TICTACTOE, num_envs=8), seed=0)
    assert (agent.config.n_steps, agent.config.learning_rate) == (64, 1e-3)
    agent.learn(10_000)
    wins, illegal, bad = play(agent, 100, seed=0)
    assert (illegal, bad) == (0, 0)
    assert wins >= 85
