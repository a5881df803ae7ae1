"""The multi-agent adapter (agents/multiagent/): a PettingZoo ParallelEnv as one SB3 VecEnv with
a slot per agent, checked against the env stepped directly: stacking, one-hot ids, scaling,
seeds, the end of an episode (terminal observation, truncation, Monitor's episode info), and
the community return of an evaluation."""

import numpy as np
import pytest
from gymnasium import spaces

from sige_rl.agents.multiagent import ObservationScaling, ParallelEnvVecEnv, ids
from sige_rl.agents.training.evaluation import evaluate_parallel
from sige_rl.envs.energy_community_v0 import parallel_env

DAY = 96  # fifteen-minute steps


def community(n=3):
    return lambda: parallel_env(n_buildings=n, episode_days=1)


def thermostat(venv):
    """Every copy's thermostat actions, stacked in slot order."""
    return np.concatenate(
        [np.stack([e.thermostat_actions()[a] for a in venv.agents]) for e in venv.envs]
    )


def stacked(obs, env):
    return np.stack([obs[a] for a in env.possible_agents])


def test_slots_stack_each_copys_agents_with_their_one_hot_ids():
    venv = ParallelEnvVecEnv(community(3), num_copies=2)
    assert venv.num_envs == 6 and venv.num_agents == 3
    assert venv.observation_space.shape == (16 + 3,)
    assert venv.action_space == spaces.Box(-1.0, 1.0, (3,), np.float32)
    assert venv.seed(5) == [5, 5, 5, 6, 6, 6]  # copy c resets with seed + c
    obs = venv.reset()
    assert obs.shape == (6, 19) and obs.dtype == np.float32
    for c, seed in enumerate((5, 6)):
        ref = community(3)()
        ref_obs, _ = ref.reset(seed=seed)
        np.testing.assert_array_equal(obs[3 * c : 3 * c + 3, :16], stacked(ref_obs, ref))
        np.testing.assert_array_equal(obs[3 * c : 3 * c + 3, 16:], np.eye(3))
    assert not np.array_equal(obs[:3, :16], obs[3:, :16])  # two seeds, two weeks
    assert venv.get_attr("n_buildings") == [3] * 6


def test_scaling_is_the_affine_map_and_transforms_the_space():
    scaling = ids.OBSERVATION_SCALING["sige/EnergyCommunity-v0"]
    centre, scale = scaling.arrays(16)
    venv = ParallelEnvVecEnv(community(2), scaling=scaling)
    raw = ParallelEnvVecEnv(community(2), scaling=None, agent_ids=False)
    venv.seed(0), raw.seed(0)
    obs, ref = venv.reset(), raw.reset()
    assert raw.observation_space.shape == (16,)
    np.testing.assert_allclose(obs[:, :16], (ref - centre) / scale, rtol=1e-6, atol=1e-6)
    assert np.all(np.abs(obs[:, :16]) < 3)  # every feature of order one
    low = venv.observation_space.low[:16]
    np.testing.assert_allclose(low, (raw.observation_space.low - centre) / scale, rtol=1e-6)
    # fewer values than features: the rest pass unchanged; a scalar applies to all
    c, s = ObservationScaling([1.0, 2.0], [2.0, 4.0]).arrays(4)
    np.testing.assert_array_equal(c, [1, 2, 0, 0])
    np.testing.assert_array_equal(s, [2, 4, 1, 1])
    np.testing.assert_array_equal(ObservationScaling(1.0, 2.0).arrays(3)[1], [2, 2, 2])
    with pytest.raises(ValueError, match="scales > 0"):
        ObservationScaling(0.0, [1.0, 0.0]).arrays(2)


def test_a_day_ends_with_terminal_observations_and_episode_infos_then_resets():
    venv = ParallelEnvVecEnv(community(3), num_copies=2)
    ref = community(3)()  # copy 1, stepped directly with the same actions
    venv.seed(10)
    venv.reset()
    ref_obs, _ = ref.reset(seed=11)
    returns = np.zeros(3)
    for t in range(DAY):
        actions = thermostat(venv)
        obs, rewards, dones, infos = venv.step(actions)
        ref_obs, ref_rew, _, ref_trunc, ref_info = ref.step(ref.thermostat_actions())
        np.testing.assert_array_equal(rewards[3:], [ref_rew[a] for a in ref.possible_agents])
        assert infos[4]["cost_eur"] == ref_info["building_1"]["cost_eur"]
        returns += rewards[3:]
        if t < DAY - 1:
            assert not dones.any() and "episode" not in infos[0]
            np.testing.assert_array_equal(obs[3:, :16], stacked(ref_obs, ref))
    assert dones.all()
    for i, a in enumerate(ref.possible_agents):
        info = infos[3 + i]
        np.testing.assert_array_equal(info["terminal_observation"][:16], ref_obs[a])
        np.testing.assert_array_equal(info["terminal_observation"][16:], np.eye(3)[i])
        assert info["TimeLimit.truncated"] is True  # the day ran out: bootstrap from it
        assert info["episode"]["l"] == DAY
        assert info["episode"]["r"] == pytest.approx(returns[i], rel=1e-12)
    # the copy was reset at once, unseeded: its generator goes on, as the env's own would
    ref_obs, _ = ref.reset()
    np.testing.assert_array_equal(obs[3:, :16], stacked(ref_obs, ref))
    assert obs[3:, :16].tolist() != infos[3]["terminal_observation"][:16].tolist()


def test_env_method_runs_once_per_copy():
    venv = ParallelEnvVecEnv(community(2), num_copies=2)
    venv.reset()
    calls = []
    for env in venv.envs:
        env.probe = lambda env=env: calls.append(env) or len(calls)
    assert venv.env_method("probe") == [1, 1, 2, 2]
    assert venv.env_method("probe", indices=[3]) == [3]


class TwoSpaces:
    """A ParallelEnv stand-in whose agents do not share an observation space."""

    possible_agents = ["a", "b"]
    render_mode = None

    def observation_space(self, agent):
        return spaces.Box(0, 1, (2 if agent == "a" else 3,), np.float32)

    def action_space(self, agent):
        return spaces.Discrete(2)


def test_agents_must_share_their_spaces():
    with pytest.raises(ValueError, match="one observation space and one action space"):
        ParallelEnvVecEnv(TwoSpaces)
    with pytest.raises(ValueError, match="num_copies"):
        ParallelEnvVecEnv(community(2), num_copies=0)


class Thermostat:
    """The env's rule-based baseline as an agent of the adapter's slots."""

    def __init__(self, venv):
        self.venv = venv

    def act(self, obs, deterministic=True):
        assert obs.shape[0] == self.venv.num_envs
        return thermostat(self.venv)


def test_evaluation_scores_the_community_return_and_metrics():
    venv = ids.make_vec_env("sige/EnergyCommunity-v0", 1, n_buildings=3, episode_days=1)
    metrics = ids.eval_metrics("sige/EnergyCommunity-v0")
    result = evaluate_parallel(Thermostat(venv), venv, 3, seed=100, metrics=metrics)
    env = community(3)()
    for i in range(3):
        env.reset(seed=100 + i)
        total = cost = excess = 0.0
        while env.agents:
            _, rewards, _, _, infos = env.step(env.thermostat_actions())
            total += sum(rewards.values())
            cost += sum(info["cost_eur"] for info in infos.values())
            excess += infos["building_0"]["feeder_excess_kwh"]
        assert result.returns[i] == pytest.approx(total, rel=1e-12)
        assert result.metrics["cost_eur"][i] == pytest.approx(cost, rel=1e-12)
        assert result.metrics["feeder_excess_kwh"][i] == pytest.approx(excess, rel=1e-12)
        assert result.metrics["violation_kh"][i] >= 0
    assert result.lengths.tolist() == [DAY] * 3 and not result.capped.any()
    assert result.returns[0] != result.returns[1]  # each episode its own seed
    with pytest.raises(ValueError, match="greedy"):
        evaluate_parallel(Thermostat(venv), venv, 1, seed=0, epsilon=0.1)


def test_the_id_table_and_the_learners():
    assert ids.is_multi_agent("sige/EnergyCommunity-v0")
    assert ids.is_multi_agent("sige_rl.envs:sige/EnergyCommunity-v0")
    assert not ids.is_multi_agent("sige/BuildingHVAC-v0")
    assert ids.learners(spaces.Box(-1, 1, (3,))) == ["sb3-ppo", "sb3-a2c"]
    assert "sb3-dqn" in ids.learners(spaces.Discrete(4))
    with pytest.raises(ValueError, match="not a multi-agent id"):
        ids.make_parallel_env("CartPole-v1")


def test_ppo_trains_on_the_adapter_and_reloads_on_a_fresh_one(tmp_path):
    from sige_rl.agents.sb3.agent import SB3PPO

    venv = ids.make_vec_env("sige/EnergyCommunity-v0", 2, n_buildings=2, episode_days=1)
    agent = SB3PPO(venv, seed=0, n_steps=64, batch_size=64, n_epochs=1)
    assert agent.num_envs == 4
    agent.learn(600)  # a day is 96 steps: episodes end inside the rollouts
    assert agent.num_steps >= 600 and agent.num_episodes == 4 * (agent.num_steps // 4 // DAY)
    obs = venv.reset()
    assert agent.act(obs).shape == (4, 3)
    agent.save(tmp_path / "ck")
    fresh = ids.make_vec_env("sige/EnergyCommunity-v0", 2, n_buildings=2, episode_days=1)
    with pytest.warns(UserWarning, match="will not equal"):
        loaded = SB3PPO.load(tmp_path / "ck", fresh)
    np.testing.assert_array_equal(loaded.act(obs), agent.act(obs))
