"""FrameReplayBuffer: every transition it gives back is one the agent really made, with the
stacks it really saw, checked against a log the test keeps of whole observations: many envs,
episode ends (terminated and truncated), n-step windows, ring wrap-around and both paddings.
Also memory per transition, prioritized sampling, exact checkpoints and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from sige_rl.agents.common.frame_replay import FrameReplayBuffer
from sige_rl.agents.common.replay import ReplayBuffer

K = 3  # frames a stack
FRAME = (2, 2)


class FakeStackEnvs:
    """``num_envs`` frame-stacked streams whose every frame is unique (a counter), with random
    episode lengths (1 to 9 steps), ends, rewards; ``padding`` is "zero" or "reset"."""

    def __init__(self, num_envs: int, seed: int, padding: str = "zero"):
        self.rng = np.random.default_rng(seed)
        self.num_envs = num_envs
        self.padding = padding
        self.counter = 0
        self.stacks = np.zeros((num_envs, K, *FRAME), dtype=np.int32)
        self.left = np.zeros(num_envs, dtype=np.int64)
        for i in range(num_envs):
            self.reset_one(i)

    def frame(self) -> np.ndarray:
        self.counter += 1
        return np.full(FRAME, self.counter, dtype=np.int32)

    def reset_one(self, i: int) -> None:
        first = self.frame()
        pad = np.zeros_like(first) if self.padding == "zero" else first
        self.stacks[i] = np.stack([pad] * (K - 1) + [first])
        self.left[i] = self.rng.integers(1, 10)

    def step(self):
        self.left -= 1
        done = self.left == 0
        terminated = done & (self.rng.random(self.num_envs) < 0.5)
        truncated = done & ~terminated
        rewards = self.rng.integers(-3, 4, size=self.num_envs).astype(np.float64)
        for i in range(self.num_envs):
            self.stacks[i] = np.concatenate([self.stacks[i, 1:], self.frame()[None]])
        return self.stacks.copy(), rewards, terminated, truncated


def run(buffer, envs: FakeStackEnvs, steps: int, gamma: float, n: int):
    """Feed ``steps`` vector steps; return the true n-step transitions by obs bytes."""
    truth = {}
    episodes = [[] for _ in range(envs.num_envs)]  # per env: (obs, action, reward, terminated)
    rng = np.random.default_rng(1)
    obs = envs.stacks.copy()
    for _ in range(steps):
        actions = rng.integers(0, 5, size=envs.num_envs)
        next_obs, rewards, terminated, truncated = envs.step()
        buffer.add(obs, actions, rewards, next_obs, terminated, truncated)
        for i in range(envs.num_envs):
            episodes[i].append((obs[i].copy(), int(actions[i]), rewards[i], next_obs[i].copy()))
            done = terminated[i] or truncated[i]
            if done:
                steps_ = episodes[i]
                for t in range(len(steps_)):
                    m = min(n, len(steps_) - t)
                    ret = sum(gamma**j * steps_[t + j][2] for j in range(m))
                    ends = t + m == len(steps_)
                    disc = 0.0 if (ends and terminated[i]) else gamma**m
                    truth[steps_[t][0].tobytes()] = (steps_[t][1], ret, steps_[t + m - 1][3], disc)
                episodes[i] = []
                envs.reset_one(i)
        obs = envs.stacks.copy()
        # Windows that closed without an episode end.
        for i in range(envs.num_envs):
            steps_ = episodes[i]
            if len(steps_) >= n:
                t = len(steps_) - n
                ret = sum(gamma**j * steps_[t + j][2] for j in range(n))
                truth[steps_[t][0].tobytes()] = (steps_[t][1], ret, steps_[t + n - 1][3], gamma**n)
    return truth


def check_against(truth, batch):
    for b in range(len(batch.actions)):
        key = batch.obs[b].tobytes()
        assert key in truth, "a sampled stack the agent never saw"
        action, ret, next_obs, disc = truth[key]
        assert batch.actions[b] == action
        assert batch.rewards[b] == pytest.approx(ret, rel=1e-6, abs=1e-6)
        np.testing.assert_array_equal(batch.next_obs[b], next_obs)
        assert batch.discounts[b] == pytest.approx(disc, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("padding", ["zero", "reset"])
@pytest.mark.parametrize("n_step", [1, 3])
def test_every_transition_is_one_the_agent_made_without_wrap(padding, n_step):
    envs = FakeStackEnvs(4, seed=0, padding=padding)
    buffer = FrameReplayBuffer(10_000, (K, *FRAME), np.int32, num_envs=4, n_step=n_step, gamma=0.9)
    truth = run(buffer, envs, 300, gamma=0.9, n=n_step)
    # No wrap: it holds exactly the transitions whose windows closed, each once.
    assert len(buffer) == len(truth)
    everything = buffer.transitions(buffer.valid_list[: len(buffer)])
    check_against(truth, everything)
    assert len({o.tobytes() for o in everything.obs}) == len(truth)


@pytest.mark.parametrize("n_step", [1, 4])
def test_wrap_around_keeps_only_whole_transitions(n_step):
    envs = FakeStackEnvs(3, seed=5)
    buffer = FrameReplayBuffer(60, (K, *FRAME), np.int32, num_envs=3, n_step=n_step, gamma=0.5)
    truth = run(buffer, envs, 2_000, gamma=0.5, n=n_step)
    assert 0 < len(buffer) <= 60 + 3 * (K + n_step)
    check_against(truth, buffer.transitions(buffer.valid_list[: len(buffer)]))
    check_against(truth, buffer.sample(32, np.random.default_rng(0)))
    # What survives is the newest: every valid stack's newest frame is within the last slots.
    newest = buffer.transitions(buffer.valid_list[: len(buffer)]).obs[:, -1, 0, 0]
    assert newest.min() > envs.counter - 3 * buffer.slots - 3 * K


def test_same_transitions_as_the_stack_storing_replay():
    """Against ReplayBuffer, which keeps whole obs and next_obs: the same set of transitions."""
    n, gamma = 3, 0.8
    shape = (K, *FRAME)
    frames = FrameReplayBuffer(5_000, shape, np.int32, num_envs=2, n_step=n, gamma=gamma)
    stacks = ReplayBuffer(5_000, shape, np.int32, num_envs=2, n_step=n, gamma=gamma)

    class Both:
        def add(self, *args):
            frames.add(*args)
            stacks.add(*args)

    run(Both(), FakeStackEnvs(2, seed=3), 400, gamma=gamma, n=n)
    assert len(frames) == len(stacks)
    ours = frames.transitions(frames.valid_list[: len(frames)])
    key = {o.tobytes(): i for i, o in enumerate(ours.obs)}
    for j in range(len(stacks)):
        i = key[stacks.obs[j].tobytes()]
        assert ours.actions[i] == stacks.actions[j]
        assert ours.rewards[i] == pytest.approx(stacks.rewards[j], rel=1e-6, abs=1e-6)
        np.testing.assert_array_equal(ours.next_obs[i], stacks.next_obs[j])
        assert ours.discounts[i] == pytest.approx(stacks.discounts[j], rel=1e-6, abs=1e-6)


def test_bytes_per_transition_is_about_one_frame():
    """Atari-sized: 1.1 x 7,056 B a transition at most (measured from the arrays themselves)."""
    buffer = FrameReplayBuffer(
        100_000, (4, 84, 84), np.uint8, num_envs=8, n_step=3, prioritized=True
    )
    assert buffer.nbytes / buffer.capacity <= 1.1 * 84 * 84
    assert buffer.frames.nbytes / buffer.capacity >= 84 * 84


def test_prioritized_sampling_follows_priorities_and_skips_overwritten():
    envs = FakeStackEnvs(2, seed=7)
    buffer = FrameReplayBuffer(
        200, (K, *FRAME), np.int32, num_envs=2, prioritized=True, alpha=1.0, priority_eps=0.0
    )
    truth = run(buffer, envs, 50, gamma=0.99, n=1)
    leaves = buffer.valid_list[: len(buffer)].copy()
    td = np.zeros(leaves.size)
    td[0] = 1.0  # every other transition gets priority zero
    buffer.update_priorities(leaves, td)
    batch = buffer.sample(64, np.random.default_rng(0), beta=0.5)
    assert np.all(batch.indices == leaves[0])
    check_against(truth, batch)
    # Overwritten transitions leave the tree: every leaf not sampleable has priority zero.
    old_obs = batch.obs[0].copy()
    run(buffer, envs, 400, gamma=0.99, n=1)
    held = buffer.transitions(buffer.valid_list[: len(buffer)]).obs
    assert not any(np.array_equal(o, old_obs) for o in held)
    gone = np.flatnonzero(buffer.valid_where < 0)
    assert np.all(buffer.tree.get(gone) == 0)
    assert buffer.tree.total > 0


def test_state_dict_resumes_exactly_and_refuses_corruption():
    def build():
        return FrameReplayBuffer(80, (K, *FRAME), np.int32, num_envs=2, n_step=2, prioritized=True)

    envs = FakeStackEnvs(2, seed=11)
    a = build()
    run(a, envs, 120, gamma=0.99, n=2)
    b = build()
    b.load_state_dict(a.state_dict())
    for buffer in (a, b):  # the same next steps into both
        go_on = FakeStackEnvs(2, seed=12)
        go_on.stacks, go_on.left, go_on.counter = envs.stacks.copy(), envs.left.copy(), envs.counter
        run(buffer, go_on, 40, gamma=0.99, n=2)
    x, y = a.sample(32, np.random.default_rng(3)), b.sample(32, np.random.default_rng(3))
    np.testing.assert_array_equal(x.obs, y.obs)
    np.testing.assert_array_equal(x.next_obs, y.next_obs)
    np.testing.assert_array_equal(x.indices, y.indices)

    state = a.state_dict()
    state["valid_where"] = state["valid_where"].copy()
    state["valid_where"][state["valid_list"][0]] = -1
    with pytest.raises(ValueError, match="corrupt"):
        build().load_state_dict(state)
    other = FrameReplayBuffer(80, (K, *FRAME), np.int32, num_envs=2, n_step=3, prioritized=True)
    with pytest.raises(ValueError, match="n_step"):
        other.load_state_dict(a.state_dict())


def test_refuses_observations_that_are_not_frame_stacks():
    buffer = FrameReplayBuffer(10, (K, *FRAME), np.int32)
    obs = np.arange(K * 4, dtype=np.int32).reshape(1, K, *FRAME)
    args = (np.array([0]), np.array([0.0]))
    flags = (np.array([False]), np.array([False]))
    with pytest.raises(ValueError, match="moved by one frame"):
        buffer.add(obs, *args, obs + 100, *flags)
    good_next = np.concatenate([obs[:, 1:], obs[:, :1] + 50], axis=1)
    buffer.add(obs, *args, good_next, *flags)
    with pytest.raises(ValueError, match="not the next_obs of its previous step"):
        buffer.add(obs, *args, good_next, *flags)
    with pytest.raises(ValueError, match="stacked frames"):
        FrameReplayBuffer(10, (4,), np.float32)
