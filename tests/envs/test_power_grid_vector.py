"""PowerGridVectorEnv equals SyncVectorEnv of gym.make(id), step for step."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import sige_rl.envs  # noqa: F401  (registers the ids)
from sige_rl.envs.power_grid.actions import DISCONNECT, RECONNECT, REDISPATCH, TOPOLOGY
from sige_rl.envs.power_grid.render import SIZE
from sige_rl.envs.power_grid.vector import PowerGridVectorEnv

N = 6


def make_pair(env_id: str, n: int = N, **kwargs) -> tuple[PowerGridVectorEnv, gym.vector.VectorEnv]:
    ours = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
    sync = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", **kwargs)
    assert isinstance(ours, PowerGridVectorEnv)
    return ours, sync


def assert_same(ours_result, sync_result) -> None:
    *ours_arrays, ours_info = ours_result
    *sync_arrays, sync_info = sync_result
    np.testing.assert_array_equal(ours_arrays[0], sync_arrays[0])  # observations, bit for bit
    assert ours_arrays[0].dtype == sync_arrays[0].dtype == np.float32
    if len(ours_arrays) == 4:
        np.testing.assert_allclose(ours_arrays[1], sync_arrays[1], rtol=0, atol=1e-9)
        for mine, theirs in zip(ours_arrays[1:], sync_arrays[1:], strict=True):
            assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(ours_arrays[2], sync_arrays[2])
        np.testing.assert_array_equal(ours_arrays[3], sync_arrays[3])
    assert list(ours_info) == list(sync_info)
    for key in ours_info:
        np.testing.assert_array_equal(ours_info[key], sync_info[key], err_msg=key)
        assert ours_info[key].dtype == sync_info[key].dtype, key


def discrete_actions(rng: np.random.Generator, mask: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """Mostly do nothing; else a random legal action of a random kind, now and then any action."""
    n, width = mask.shape
    kind = rng.integers(1, 5, n)  # disconnect, reconnect, topology, redispatch
    keys = rng.random(mask.shape) * mask * (kinds == kind[:, None])
    actions = np.argmax(keys, axis=1)  # 0 (do nothing) when that kind has no legal action
    actions[rng.random(n) < 0.75] = 0
    anything = rng.random(n) < 0.03
    actions[anything] = rng.integers(0, width, anything.sum())
    return actions


def run_both(ours, sync, steps: int, seed: int) -> dict[str, int]:
    obs = ours.reset(seed=seed)
    assert_same(obs, sync.reset(seed=seed))
    info = obs[1]
    rng = np.random.default_rng(seed)
    kinds = ours.template.actions.kind
    count = dict.fromkeys(["terminated", "truncated", "tripped", "illegal", "reconnect",
                           "disconnect", "topology", "redispatch"], 0)  # fmt: skip
    stepping = np.ones(ours.num_envs, bool)  # not being autoreset
    for _ in range(steps):
        if ours.action_type == "discrete":
            a = discrete_actions(rng, info["action_mask"], kinds)
        else:
            a = rng.uniform(-0.6, 0.6, ours.action_space.shape).astype(np.float32)
            a[rng.random(ours.num_envs) < 0.1] = 1.0
        result = ours.step(a)
        assert_same(result, sync.step(a))
        _, _, terminated, truncated, info = result
        if ours.action_type == "discrete":
            applied = stepping & ~info["illegal"]
            for name, kind in (("reconnect", RECONNECT), ("disconnect", DISCONNECT),
                               ("topology", TOPOLOGY), ("redispatch", REDISPATCH)):  # fmt: skip
                count[name] += int((applied & (kinds[a] == kind)).sum())
        count["terminated"] += int(terminated.sum())
        count["truncated"] += int(truncated.sum())
        count["tripped"] += int(info["tripped"].any(axis=1).sum())
        count["illegal"] += int(info["illegal"].sum())
        stepping = ~(terminated | truncated)
    return count


def test_make_vec_returns_the_native_vector_env():
    ours, sync = make_pair("sige/PowerGrid14-v0")
    assert ours.max_episode_steps == 7 * 288
    assert ours.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    assert ours.single_observation_space == sync.single_observation_space
    assert ours.observation_space == sync.observation_space
    assert ours.single_action_space == sync.single_action_space
    assert ours.action_space == sync.action_space
    box, _ = make_pair("sige/PowerGrid-v0", case="case5", action_type="redispatch")
    assert (
        box.action_space
        == gym.vector.SyncVectorEnv(
            [lambda: gym.make("sige/PowerGrid5-v0", action_type="redispatch")] * N
        ).action_space
    )


@pytest.mark.parametrize("case", ["14", "5"])
def test_equals_sync_with_random_legal_actions_and_time_limit(case):
    ours, sync = make_pair(f"sige/PowerGrid{case}-v0", max_episode_steps=15)
    ours.unwrapped._registry_limit = 8  # forget unused topologies often, to test it
    count = run_both(ours, sync, steps=300, seed=int(case))
    for name in ("terminated", "truncated", "tripped", "illegal", "reconnect", "disconnect",
                 "topology", "redispatch"):  # fmt: skip
        assert count[name] > 0, count


@pytest.mark.parametrize("case", ["14", "5"])
def test_equals_sync_with_redispatch_actions(case):
    ours, sync = make_pair(f"sige/PowerGrid{case}-v0", action_type="redispatch",
                           max_episode_steps=25)  # fmt: skip
    count = run_both(ours, sync, steps=200, seed=7)
    assert count["truncated"] > 0 and count["terminated"] > 0, count


def test_equals_sync_when_the_env_truncates_itself():
    ours, sync = make_pair("sige/PowerGrid14-v0", episode_steps=20)  # TimeLimit at 2016
    count = run_both(ours, sync, steps=120, seed=5)
    assert count["truncated"] > 0, count


def test_equals_sync_with_a_user_series():
    case = gym.make("sige/PowerGrid5-v0").unwrapped.case
    rows = 3 * 288 + 10  # three possible start days for episodes of 20 steps
    wave = 0.7 + 0.05 * np.sin(np.arange(rows) / 50.0)[:, None]
    load = case.load_p_mw * wave * np.linspace(0.95, 1.05, case.n_load)
    available = 0.5 * case.gen_pmax * wave
    ours, sync = make_pair("sige/PowerGrid5-v0", series=(load, available), episode_steps=20)
    assert run_both(ours, sync, steps=100, seed=1)["truncated"] > 0
    assert len(set(ours._start.tolist())) > 1  # episodes started on different days
    short = (load[:8], available[:8])  # ends before episode_steps: truncated at its end
    ours, sync = make_pair("sige/PowerGrid5-v0", series=short)
    count = run_both(ours, sync, steps=60, seed=2)
    assert count["truncated"] > 0, count


def test_reset_with_seed_lists_and_reset_mask():
    ours, sync = make_pair("sige/PowerGrid5-v0", max_episode_steps=40)
    seeds = [11, None, 12, None, 13, 14]
    ours.reset(seed=seeds)
    sync.reset(seed=seeds)  # the None ones draw entropy: re-seed all before comparing
    assert_same(ours.reset(seed=list(range(N))), sync.reset(seed=list(range(N))))
    rng = np.random.default_rng(0)
    info = None
    for round_ in range(4):
        for _ in range(25):
            if info is None:
                a = np.zeros(N, np.int64)
            else:
                a = discrete_actions(rng, info["action_mask"], ours.template.actions.kind)
            result = ours.step(a)
            assert_same(result, sync.step(a))
            info = result[4]
        mask = rng.random(N) < 0.5
        mask[round_] = True
        draws = rng.integers(0, 99, N)
        round_seeds = [int(s) if m and s % 2 else None for s, m in zip(draws, mask, strict=True)]
        result = ours.reset(seed=round_seeds, options={"reset_mask": mask})
        assert_same(result, sync.reset(seed=round_seeds, options={"reset_mask": mask.copy()}))
        np.testing.assert_array_equal(result[1]["_max_rho"], mask)
        info = result[1] if mask.all() else None
    result = ours.reset()  # no seeds: each sub-env's generator goes on
    assert_same(result, sync.reset())
    info = result[1]
    for _ in range(25):
        a = discrete_actions(rng, info["action_mask"], ours.template.actions.kind)
        result = ours.step(a)
        assert_same(result, sync.step(a))
        info = result[4]


def test_same_seed_same_run_and_entropy_seeding_works():
    env = PowerGridVectorEnv(3, case="case5", max_episode_steps=20)

    def episode(seed):
        obs = [env.reset(seed=seed)[0]]
        obs += [env.step(np.zeros(3, np.int64))[0] for _ in range(30)]
        return np.array(obs)

    np.testing.assert_array_equal(episode(1), episode(1))
    assert not np.array_equal(episode(1), episode(2))
    episode(None)


@pytest.mark.parametrize(
    "actions",
    [[10**6] * N, [-1] + [0] * (N - 1), [0] * (N - 1), np.zeros(N) + 0.5, np.zeros((N, 1), int)],
)
def test_bad_discrete_actions_raise(actions):
    env = PowerGridVectorEnv(N, case="case5")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="Discrete"):
        env.step(np.asarray(actions))


@pytest.mark.parametrize("bad", [1.5, np.nan])
def test_bad_redispatch_actions_raise(bad):
    env = PowerGridVectorEnv(2, case="case5", action_type="redispatch")
    env.reset(seed=0)
    actions = np.zeros((2, env.case.n_gen), np.float32)
    actions[1, 2] = bad
    with pytest.raises(ValueError):
        env.step(actions)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((2, env.case.n_gen + 1), np.float32))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_envs"):
        PowerGridVectorEnv(0)
    with pytest.raises(ValueError, match="action_type"):
        PowerGridVectorEnv(2, action_type="x")
    env = PowerGridVectorEnv(2, case="case5")
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="3 seeds"):
        env.reset(seed=[1, 2, 3])
    with pytest.raises(RuntimeError, match="reset_mask"):
        env.reset(options={"reset_mask": np.array([True, False])})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="reset_mask"):
        env.reset(options={"reset_mask": np.array([False, False])})
    with pytest.raises(TypeError, match="reset_mask"):
        env.reset(options={"reset_mask": [True, True]})


@pytest.mark.parametrize("mode", ["rgb_array", "ansi"])
def test_render_gives_the_single_envs_frames(mode):
    ours, sync = make_pair("sige/PowerGrid5-v0", n=3, render_mode=mode)
    ours.reset(seed=4)
    sync.reset(seed=4)
    for a in ([1, 0, 2], [0, 0, 0], [0, 3, 0]):  # lines out, tripping or not
        ours.step(np.array(a))
        sync.step(np.array(a))
    frames, expected = ours.render(), sync.render()
    assert len(frames) == 3
    for mine, theirs in zip(frames, expected, strict=True):
        if mode == "rgb_array":
            assert mine.shape == (SIZE, SIZE, 3) and mine.dtype == np.uint8
            np.testing.assert_array_equal(mine, theirs)
        else:
            assert mine == theirs
