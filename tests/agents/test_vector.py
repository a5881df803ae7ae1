"""OneEnvVector against Gymnasium's SyncVectorEnv: the same observations, rewards, flags and
autoreset for the same seeds and actions, and a DQN trained through either is the same."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from sige_rl import envs  # noqa: F401
from sige_rl.agents.common.vector import OneEnvVector
from sige_rl.agents.dqn.dqn import DQN


@pytest.mark.parametrize("env_id", ["CartPole-v1", "sige/SlipperyMaze-v0", "FrozenLake-v1"])
def test_steps_like_sync_vector_env(env_id):
    ours = OneEnvVector(gym.make(env_id))
    ref = gym.vector.SyncVectorEnv([lambda: gym.make(env_id)])
    assert ours.observation_space == ref.observation_space
    assert ours.action_space == ref.action_space
    assert ours.metadata["autoreset_mode"] == ref.metadata["autoreset_mode"]
    rng = np.random.default_rng(0)
    a, b = ours.reset(seed=[7]), ref.reset(seed=[7])
    np.testing.assert_array_equal(a[0], b[0])
    assert a[0].dtype == b[0].dtype
    ends = 0
    for t in range(600):
        if t == 300:  # an explicit reset in the middle of an episode, as agents/episodes.py does
            mask = np.array([True])
            a = ours.reset(seed=[11], options={"reset_mask": mask})
            b = ref.reset(seed=[11], options={"reset_mask": mask})
            np.testing.assert_array_equal(a[0], b[0])
        actions = rng.integers(ref.single_action_space.n, size=1)
        a, b = ours.step(actions), ref.step(actions)
        for x, y in zip(a[:4], b[:4], strict=True):
            np.testing.assert_array_equal(x, y)
            assert x.dtype == y.dtype and x.shape == y.shape
        ends += int(b[2][0] or b[3][0])
    assert ends >= 3  # the autoreset path ran


def test_dqn_trains_the_same_through_either():
    def weights(env):
        agent = DQN(env, seed=1, learning_starts=200, n_step=3, double=True, dueling=True)
        agent.learn(1500)
        return [p.detach().clone() for p in agent.q.parameters()]

    single = weights(gym.make("CartPole-v1"))  # DQN wraps it in OneEnvVector
    sync = weights(gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")]))
    for x, y in zip(single, sync, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_refuses_what_it_cannot_batch():
    env = gym.make("CartPole-v1")
    env.observation_space = gym.spaces.Dict({"x": env.observation_space})
    with pytest.raises(TypeError, match="array observation space"):
        OneEnvVector(env)
    with pytest.raises(ValueError, match="reset_mask"):
        OneEnvVector(gym.make("CartPole-v1")).reset(options={"reset_mask": np.array([False])})
