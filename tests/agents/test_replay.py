"""ReplayBuffer: hand-computed n-step returns, several envs, ring overwrite, prioritized sampling,
importance weights and exact resume from a state_dict."""

from __future__ import annotations

import numpy as np
import pytest

from sige_rl.agents.common.replay import ReplayBuffer


def step(buffer, obs, action, reward, next_obs, terminated=False, truncated=False):
    """One single-env step; observations are scalars stored as shape (1,)."""
    buffer.add(
        np.array([[obs]]),
        np.array([action]),
        np.array([reward]),
        np.array([[next_obs]]),
        np.array([terminated]),
        np.array([truncated]),
    )


def stored(buffer):
    """The stored transitions in insertion order (before any wrap-around)."""
    n = len(buffer)
    return (
        buffer.obs[:n, 0].tolist(),
        buffer.actions[:n].tolist(),
        buffer.rewards[:n].tolist(),
        buffer.next_obs[:n, 0].tolist(),
        buffer.discounts[:n].tolist(),
    )


def five_step_episode(buffer, *, terminated, truncated):
    """Observations 0..5, actions 10..14, rewards 1, 2, 4, 8, 16; the last step ends it."""
    for t in range(5):
        last = t == 4
        step(buffer, t, 10 + t, 2.0**t, t + 1, terminated and last, truncated and last)


def test_n_step_terminated_episode():
    buffer = ReplayBuffer(10, (1,), np.float32, n_step=3, gamma=0.5)
    five_step_episode(buffer, terminated=True, truncated=False)
    obs, actions, rewards, next_obs, discounts = stored(buffer)
    assert obs == [0, 1, 2, 3, 4]
    assert actions == [10, 11, 12, 13, 14]
    # R_t = r_t + 0.5 r_{t+1} + 0.25 r_{t+2}, cut at the end of the episode.
    assert rewards == [1 + 1 + 1, 2 + 2 + 2, 4 + 4 + 4, 8 + 8, 16]
    assert next_obs == [3, 4, 5, 5, 5]
    assert discounts == [0.125, 0.125, 0.0, 0.0, 0.0]
    np.testing.assert_array_equal(buffer.pending_len, [0])


def test_n_step_truncated_episode_bootstraps_from_final_obs():
    buffer = ReplayBuffer(10, (1,), np.float32, n_step=3, gamma=0.5)
    five_step_episode(buffer, terminated=False, truncated=True)
    _, _, rewards, next_obs, discounts = stored(buffer)
    assert rewards == [3, 6, 12, 16, 16]
    assert next_obs == [3, 4, 5, 5, 5]
    assert discounts == [0.125, 0.125, 0.125, 0.25, 0.5]


def test_episode_shorter_than_n():
    buffer = ReplayBuffer(10, (1,), np.float32, n_step=4, gamma=0.5)
    step(buffer, 0, 0, 1.0, 1)
    assert len(buffer) == 0
    step(buffer, 1, 1, 1.0, 2, truncated=True)
    _, _, rewards, next_obs, discounts = stored(buffer)
    assert (rewards, next_obs, discounts) == ([1.5, 1.0], [2, 2], [0.25, 0.5])


def test_n_step_one_is_plain_transitions():
    rng = np.random.default_rng(1)
    buffer = ReplayBuffer(100, (2,), np.float64, n_step=1, gamma=0.9)
    expected = []
    obs = rng.random(2)
    for t in range(30):
        next_obs, reward = rng.random(2), float(rng.integers(-3, 4))
        terminated, truncated = t % 7 == 6, t % 11 == 10
        buffer.add(obs[None], [t % 3], [reward], next_obs[None], [terminated], [truncated])
        expected.append((obs, t % 3, reward, next_obs, 0.0 if terminated else 0.9))
        obs = next_obs
    assert len(buffer) == 30
    for i, (o, a, r, no, d) in enumerate(expected):
        np.testing.assert_array_equal(buffer.obs[i], o)
        np.testing.assert_array_equal(buffer.next_obs[i], no)
        assert (buffer.actions[i], buffer.rewards[i]) == (a, r)
        assert buffer.discounts[i] == pytest.approx(d)


def test_two_envs_keep_separate_windows():
    """Env 0 terminates at its 2nd step, env 1 runs on; their returns never mix."""
    buffer = ReplayBuffer(20, (1,), np.int64, num_envs=2, n_step=2, gamma=0.5)
    # Observations 100+t for env 0, 200+t for env 1; rewards 1 for env 0, 10 for env 1.
    for t in range(4):
        buffer.add(
            obs=np.array([[100 + t], [200 + t]]),
            actions=np.array([0, 1]),
            rewards=np.array([1.0, 10.0]),
            next_obs=np.array([[101 + t], [201 + t]]),
            terminated=np.array([t == 1, False]),
            truncated=np.array([False, t == 3]),
        )
    got = sorted(zip(*stored(buffer), strict=True))
    assert got == [
        (100, 0, 1.5, 102, 0.0),
        (101, 0, 1.0, 102, 0.0),
        (102, 0, 1.5, 104, 0.25),  # env 0's second episode; 103 is still pending
        (200, 1, 15.0, 202, 0.25),
        (201, 1, 15.0, 203, 0.25),
        (202, 1, 15.0, 204, 0.25),
        (203, 1, 10.0, 204, 0.5),
    ]
    np.testing.assert_array_equal(buffer.pending_len, [1, 0])


def test_ring_keeps_the_last_capacity_transitions():
    buffer = ReplayBuffer(5, (1,), np.int64, num_envs=3)
    for t in range(4):  # 12 transitions into 5 slots
        obs = 10 * t + np.arange(3)[:, None]
        buffer.add(obs, np.arange(3), np.ones(3), obs + 1, np.zeros(3, bool), np.zeros(3, bool))
    assert len(buffer) == 5
    assert sorted(buffer.obs[:, 0].tolist()) == [21, 22, 30, 31, 32]
    np.testing.assert_array_equal(buffer.next_obs, buffer.obs + 1)
    assert buffer.pos == 12 % 5


def test_more_emitted_at_once_than_capacity_keeps_the_newest():
    buffer = ReplayBuffer(2, (1,), np.int64, n_step=3)
    for t in range(3):
        step(buffer, t, 0, 1.0, t + 1, terminated=t == 2)
    assert sorted(buffer.obs[:, 0].tolist()) == [1, 2]
    assert len(buffer) == 2


def test_uint8_observations_stay_uint8():
    buffer = ReplayBuffer(8, (4, 4), np.uint8, num_envs=2, n_step=2)
    frames = np.full((2, 4, 4), 255, dtype=np.uint8)
    for _ in range(3):
        buffer.add(frames, [0, 1], [0.0, 1.0], frames, [False, False], [False, False])
    batch = buffer.sample(4, np.random.default_rng(0))
    assert buffer.obs.dtype == batch.obs.dtype == batch.next_obs.dtype == np.uint8
    assert batch.obs.max() == 255
    assert batch.actions.dtype == np.int64 and batch.rewards.dtype == np.float32
    with pytest.raises(ValueError, match="dtype"):
        buffer.add(frames.astype(np.float32), [0, 1], [0, 0], frames, [0, 0], [0, 0])


def fill(buffer, count):
    """``count`` one-step transitions with obs i, action i % 2, reward i."""
    for i in range(count):
        step(buffer, i, i % 2, float(i), i + 1)


def test_uniform_sample_draws_stored_transitions_with_unit_weights():
    buffer = ReplayBuffer(50, (1,), np.float32)
    fill(buffer, 20)
    batch = buffer.sample(16, np.random.default_rng(0))
    assert batch.obs.shape == (16, 1)
    np.testing.assert_array_equal(batch.obs[:, 0], batch.indices)
    np.testing.assert_array_equal(batch.rewards, batch.indices)
    np.testing.assert_array_equal(batch.weights, np.ones(16))
    counts = np.zeros(20)
    rng = np.random.default_rng(1)
    for _ in range(500):
        counts += np.bincount(buffer.sample(20, rng).indices, minlength=20)
    assert counts.min() > 350 and counts.max() < 650  # 500 expected each


def test_prioritized_ten_times_priority_is_sampled_ten_times_as_often():
    buffer = ReplayBuffer(20, (1,), np.float32, prioritized=True, alpha=1.0, priority_eps=0.0)
    fill(buffer, 20)
    buffer.update_priorities(np.arange(20), np.where(np.arange(20) == 7, 10.0, 1.0))
    rng = np.random.default_rng(0)
    counts = np.zeros(20)
    for _ in range(2000):
        counts += np.bincount(buffer.sample(20, rng).indices, minlength=20)
    others = np.delete(counts, 7)
    assert counts[7] / others.mean() == pytest.approx(10.0, rel=0.05)
    assert others.min() > 0.8 * others.mean()


class FixedUniforms:
    """Stands in for a Generator whose uniforms are chosen by the test."""

    def __init__(self, values):
        self.values = np.array(values)

    def random(self, size):
        assert size == len(self.values)
        return self.values


def test_importance_weights_match_hand_computation():
    buffer = ReplayBuffer(4, (1,), np.float32, prioritized=True, alpha=0.5, priority_eps=0.0)
    fill(buffer, 4)
    # p = |td| ** 0.5 = 1, 2, 3, 4: cumulative 1, 3, 6, 10, so the strata [0, 2.5), [2.5, 5),
    # [5, 7.5), [7.5, 10) can only hit leaves {0, 1}, {1, 2}, {2, 3}, {3}.
    buffer.update_priorities(np.arange(4), np.array([1.0, 4.0, 9.0, 16.0]))
    for seed in range(5):
        batch = buffer.sample(4, np.random.default_rng(seed), beta=0.5)
        strata = [{0, 1}, {1, 2}, {2, 3}, {3}]
        assert all(i in s for i, s in zip(batch.indices, strata, strict=True))
        raw = (4 * (batch.indices + 1.0) / 10) ** -0.5  # (N * P(i)) ** -beta, P(i) = p_i / 10
        np.testing.assert_allclose(batch.weights, raw / raw.max(), rtol=1e-6)
    # Two strata [0, 5), [5, 10) with uniforms 0.1, 0.9 give values 0.5, 9.5: leaves 0 and 3,
    # N P(i) = 4 * 0.1 and 4 * 0.4, weights 0.4 ** -0.5 and 1.6 ** -0.5, i.e. 1 and 0.5.
    batch = buffer.sample(2, FixedUniforms([0.1, 0.9]), beta=0.5)
    np.testing.assert_array_equal(batch.indices, [0, 3])
    np.testing.assert_allclose(batch.weights, [1.0, 0.5], rtol=1e-6)
    assert batch.weights.dtype == np.float32


def test_new_transitions_enter_with_max_priority_and_updates_change_sampling():
    buffer = ReplayBuffer(10, (1,), np.float32, prioritized=True, alpha=1.0, priority_eps=0.0)
    fill(buffer, 3)
    np.testing.assert_array_equal(buffer.tree.get(np.arange(3)), [1.0, 1.0, 1.0])
    buffer.update_priorities(np.array([0, 1, 2]), np.array([0.0, 0.0, 5.0]))
    assert set(buffer.sample(3, np.random.default_rng(0)).indices.tolist()) == {2}
    fill(buffer, 1)
    assert buffer.tree.get(np.array([3]))[0] == 5.0
    buffer.update_priorities(np.array([2, 3]), np.array([0.0, 0.0]))
    buffer.update_priorities(np.array([0]), np.array([2.0]))
    assert set(buffer.sample(3, np.random.default_rng(0)).indices.tolist()) == {0}


def test_uniform_update_priorities_is_a_no_op():
    buffer = ReplayBuffer(4, (1,), np.float32)
    fill(buffer, 4)
    before = buffer.state_dict()
    buffer.update_priorities(np.arange(4), np.ones(4))
    for key, value in buffer.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize("prioritized", [False, True])
def test_state_dict_round_trip_resumes_exactly(tmp_path, prioritized):
    def make():
        return ReplayBuffer(
            30, (3,), np.float32, num_envs=2, n_step=3, gamma=0.9, prioritized=prioritized
        )

    def run(buffer, rng, steps):
        """Steps of two envs with random episode ends, sampling and re-prioritizing as DQN does."""
        samples = []
        for _ in range(steps):
            obs = rng.random((2, 3), dtype=np.float32)
            ends = rng.random((2, 2)) < 0.15
            buffer.add(obs, rng.integers(0, 4, 2), rng.random(2), obs + 1, ends[0], ends[1])
            if len(buffer) >= 8:
                batch = buffer.sample(8, rng, beta=0.5)
                buffer.update_priorities(batch.indices, rng.normal(size=8))
                samples.append(batch)
        return samples

    rng = np.random.default_rng(3)
    original = make()
    run(original, rng, 40)
    np.savez(tmp_path / "replay.npz", **original.state_dict())
    rng_state = rng.bit_generator.state
    expected = run(original, rng, 40)

    resumed = make()
    with np.load(tmp_path / "replay.npz") as data:
        resumed.load_state_dict(dict(data))
    rng.bit_generator.state = rng_state
    got = run(resumed, rng, 40)
    assert len(got) == len(expected) == 40
    for a, b in zip(got, expected, strict=True):
        for field in ("obs", "actions", "rewards", "next_obs", "discounts", "weights", "indices"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_load_state_dict_rejects_a_different_buffer():
    buffer = ReplayBuffer(10, (3,), np.float32)
    fill_state = buffer.state_dict()
    with pytest.raises(ValueError, match="obs_shape"):
        ReplayBuffer(10, (4,), np.float32).load_state_dict(fill_state)
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(11, (3,), np.float32).load_state_dict(fill_state)
    with pytest.raises(ValueError, match="'obs' is float32"):
        ReplayBuffer(10, (3,), np.uint8).load_state_dict(fill_state)
    with pytest.raises(ValueError, match="missing"):
        ReplayBuffer(10, (3,), np.float32, prioritized=True).load_state_dict(fill_state)
    bad = dict(fill_state, next_obs=np.zeros((10, 2), np.float32))
    with pytest.raises(ValueError, match="'next_obs'"):
        buffer.load_state_dict(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity": 0}, "capacity"),
        ({"n_step": 0}, "n_step"),
        ({"num_envs": 0}, "num_envs"),
        ({"gamma": 1.5}, "gamma"),
        ({"alpha": -1.0}, "alpha"),
    ],
)
def test_bad_constructor_arguments_raise(kwargs, message):
    args = {"capacity": 10, "obs_shape": (1,), "obs_dtype": np.float32, **kwargs}
    with pytest.raises(ValueError, match=message):
        ReplayBuffer(**args)


def test_bad_add_and_sample_arguments_raise():
    buffer = ReplayBuffer(10, (2,), np.float32, num_envs=2)
    obs, no = np.zeros((2, 2), np.float32), np.zeros(2, bool)
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(1, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"obs has shape \(1, 2\)"):
        buffer.add(obs[:1], [0, 0], [0, 0], obs, no, no)
    with pytest.raises(ValueError, match="actions has shape"):
        buffer.add(obs, [0], [0, 0], obs, no, no)
    with pytest.raises(ValueError, match="actions has dtype"):
        buffer.add(obs, [0.5, 1.0], [0, 0], obs, no, no)
    with pytest.raises(ValueError, match="terminated has shape"):
        buffer.add(obs, [0, 0], [0, 0], obs, [False], no)
    assert len(buffer) == 0
    buffer.add(obs, [0, 0], [0, 0], obs, no, no)
    with pytest.raises(ValueError, match="cannot sample 3 transitions from a buffer holding 2"):
        buffer.sample(3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="indices but"):
        buffer.update_priorities(np.array([0, 1]), np.array([1.0]))
