"""BuildingHVACVectorEnv equals SyncVectorEnv of gym.make(id), bit for bit, step for step."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import sige_rl.envs  # noqa: F401  (registers the ids)
from sige_rl.envs.building.env import BuildingHVACEnv
from sige_rl.envs.building.render import HEIGHT, WIDTH
from sige_rl.envs.building.series import generate
from sige_rl.envs.building.vector import INFO_KEYS, BuildingHVACVectorEnv

BOX, DISCRETE = "sige/BuildingHVAC-v0", "sige/BuildingHVACDiscrete-v0"
N = 4
DAY = 96  # steps of an episode with episode_days=1


def make_pair(env_id: str, n: int = N, **kwargs):
    ours = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
    sync = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", **kwargs)
    assert isinstance(ours, BuildingHVACVectorEnv)
    return ours, sync


def bits_equal(mine: np.ndarray, theirs: np.ndarray, what: str) -> None:
    assert mine.dtype == theirs.dtype and mine.shape == theirs.shape, what
    if mine.dtype.kind == "f":  # bit for bit: -0.0 is not 0.0 here
        mine, theirs = np.ascontiguousarray(mine), np.ascontiguousarray(theirs)
        assert np.array_equal(mine.view(np.uint8), theirs.view(np.uint8)), what
    else:
        np.testing.assert_array_equal(mine, theirs, err_msg=what)


def assert_same(ours_result, sync_result, where: str = "") -> None:
    *ours_arrays, ours_info = ours_result
    *sync_arrays, sync_info = sync_result
    assert ours_arrays[0].dtype == np.float32
    for k, (mine, theirs) in enumerate(zip(ours_arrays, sync_arrays, strict=True)):
        bits_equal(mine, theirs, f"{where} item {k}")
    assert list(ours_info) == list(sync_info), where
    for key in ours_info:
        bits_equal(ours_info[key], sync_info[key], f"{where} info {key}")


def random_actions(env, rng: np.random.Generator) -> np.ndarray:
    n = env.num_envs
    if env.unwrapped.action_type == "discrete":
        return rng.integers(0, 14, n)
    a = np.stack([rng.uniform(12.0, 23.5, n), rng.uniform(23.5, 30.0, n)], axis=1)
    edge = rng.random(n) < 0.1
    a[edge] = [23.5, 23.5]  # the bounds themselves are allowed
    return a.astype(np.float32)


def run_both(ours, sync, steps: int, seed, rng_seed: int = 0) -> dict[str, int]:
    assert_same(ours.reset(seed=seed), sync.reset(seed=seed), "reset")
    rng = np.random.default_rng(rng_seed)
    count = dict.fromkeys(["truncated", "heating", "cooling", "capped", "partial_info"], 0)
    params = ours.unwrapped.params
    for t in range(steps):
        a = random_actions(ours, rng)
        result = ours.step(a)
        assert_same(result, sync.step(a), f"step {t}")
        _, _, terminated, truncated, info = result
        assert not terminated.any()
        count["truncated"] += int(truncated.sum())
        if info:
            heat = info["heat_kw"][info["_heat_kw"]]
            count["heating"] += int((heat > 0).sum())
            count["cooling"] += int((heat < 0).sum())
            count["capped"] += int(
                ((heat == params.heat_max_kw) | (heat == -params.cool_max_kw)).sum()
            )
            count["partial_info"] += int(not info["_heat_kw"].all())
    return count


def test_make_vec_returns_the_native_vector_env():
    for env_id in (BOX, DISCRETE):
        ours, sync = make_pair(env_id)
        assert ours.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
        assert ours.single_observation_space == sync.single_observation_space
        assert ours.observation_space == sync.observation_space
        assert ours.single_action_space == sync.single_action_space
        assert ours.action_space == sync.action_space
        assert ours.episode_steps == 7 * DAY and ours.max_episode_steps is None


@pytest.mark.parametrize(
    ("env_id", "kwargs", "seed"),
    [
        (BOX, {}, 0),
        (DISCRETE, {"climate": "hot", "season": "summer", "building": "office"}, [3, 9, 4, 1]),
        (BOX, {"climate": "cold", "max_episode_steps": 40}, 5),
        (
            DISCRETE,
            {
                "climate": "hot",
                "season": "summer",
                "setback_k": 2.0,
                "energy_weight": 0.9,
                "params": {"heat_max_kw": 3.0, "cool_max_kw": 2.0},
            },
            7,
        ),  # fmt: skip
    ],
)
def test_equals_sync_over_two_generated_episodes(env_id, kwargs, seed):
    ours, sync = make_pair(env_id, episode_days=1, **kwargs)
    count = run_both(ours, sync, steps=2 * DAY + 10, seed=seed)
    assert count["truncated"] >= 2 * N, count  # every sub-env autoreset at least twice
    assert count["heating"] + count["cooling"] > 0, count
    if "params" in kwargs:
        assert count["capped"] > 0 and count["cooling"] > 0, count


@pytest.mark.parametrize(
    ("env_id", "rows", "kwargs"),
    [
        (BOX, 3 * DAY, {}),  # three start days
        (DISCRETE, 2 * DAY + 2, {"season": "summer"}),  # two, the second ends with the episode
        (BOX, DAY, {"max_episode_steps": 60}),  # one, and a time limit
    ],
)
def test_equals_sync_with_a_user_weather(env_id, rows, kwargs):
    climate = "hot" if kwargs.get("season") == "summer" else "temperate"
    weather = generate(climate, kwargs.get("season", "winter"), rows, np.random.default_rng(5))
    ours, sync = make_pair(env_id, episode_days=1, weather=weather, **kwargs)
    count = run_both(ours, sync, steps=2 * DAY + 10, seed=[11, 12, 13, 14])
    assert count["truncated"] >= 2 * N, count
    if rows > DAY + 1:
        assert len(set(ours.unwrapped._ebase.tolist())) > 1  # episodes from different days


def test_reset_with_seed_lists_and_reset_mask():
    ours, sync = make_pair(BOX, episode_days=1)
    seeds = [11, None, 12, None]
    ours.reset(seed=seeds)
    sync.reset(seed=seeds)  # the None ones draw entropy: seed all before comparing
    assert_same(ours.reset(seed=list(range(N))), sync.reset(seed=list(range(N))))
    rng = np.random.default_rng(0)
    partial = 0
    for round_ in range(5):
        for t in range(40):
            a = random_actions(ours, rng)
            result = ours.step(a)
            assert_same(result, sync.step(a), f"round {round_} step {t}")
            partial += int(bool(result[4]) and not result[4]["_cost_eur"].all())
        mask = rng.random(N) < 0.5
        mask[round_ % N] = True
        draws = rng.integers(0, 99, N)
        round_seeds = [int(s) if m and s % 2 else None for s, m in zip(draws, mask, strict=True)]
        options = {"reset_mask": mask}
        result = ours.reset(seed=round_seeds, options=options)
        assert "reset_mask" in options  # ours leaves the caller's dict alone
        assert_same(result, sync.reset(seed=round_seeds, options={"reset_mask": mask.copy()}))
        assert result[1] == {}
    assert partial > 0  # the episodes fell out of step: some infos had masked sub-envs
    assert_same(ours.reset(), sync.reset())  # no seeds: each sub-env's generator goes on
    for t in range(30):
        a = ours.unwrapped.thermostat_action()
        assert_same(ours.step(a), sync.step(a), f"thermostat step {t}")


def test_same_seed_same_run_and_entropy_seeding_works():
    env = BuildingHVACVectorEnv(3, episode_days=1)

    def episode(seed):
        obs = [env.reset(seed=seed)[0]]
        obs += [env.step(env.thermostat_action())[0] for _ in range(DAY + 5)]
        return np.array(obs)

    np.testing.assert_array_equal(episode(1), episode(1))
    assert not np.array_equal(episode(1), episode(2))
    episode(None)
    info = env.step(env.thermostat_action())[4]
    assert list(info) == [k for key in INFO_KEYS for k in (key, f"_{key}")]


@pytest.mark.parametrize(
    "actions",
    [
        np.array([[20.0, 26.0]] * 3 + [[23.6, 26.0]]),  # heating above its range
        np.array([[20.0, 26.0]] * 3 + [[20.0, 23.0]]),  # cooling below its range
        np.array([[20.0, 26.0]] * 3 + [[np.nan, 26.0]]),
        np.array([[20.0, 26.0]] * 3),  # one row short
        np.array([[20.0, 26.0, 1.0]] * 4),
        np.zeros(4),
    ],
)
def test_bad_box_actions_raise(actions):
    env = BuildingHVACVectorEnv(N)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action space|shape"):
        env.step(actions)


@pytest.mark.parametrize(
    "actions",
    [[14, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0], np.zeros(N) + 0.5, np.zeros((N, 1), int)],
)
def test_bad_discrete_actions_raise(actions):
    env = BuildingHVACVectorEnv(N, action_type="discrete")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="Discrete"):
        env.step(np.asarray(actions))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_envs"):
        BuildingHVACVectorEnv(0)
    with pytest.raises(ValueError, match="max_episode_steps"):
        BuildingHVACVectorEnv(2, max_episode_steps=0)
    with pytest.raises(ValueError, match="season"):
        BuildingHVACVectorEnv(2, season="spring")
    with pytest.raises(ValueError, match="climate"):
        BuildingHVACVectorEnv(2, climate="arctic")
    with pytest.raises(ValueError, match="episode_days"):
        BuildingHVACVectorEnv(2, episode_days=0)
    with pytest.raises(ValueError, match="fewer than an episode"):
        BuildingHVACVectorEnv(2, weather=generate("cold", "winter", 50, np.random.default_rng(0)))
    env = BuildingHVACVectorEnv(2, episode_days=1)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(env.thermostat_action())
    with pytest.raises(ValueError, match="3 seeds"):
        env.reset(seed=[1, 2, 3])
    with pytest.raises(RuntimeError, match="reset_mask"):
        env.reset(options={"reset_mask": np.array([True, False])})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="reset_mask"):
        env.reset(options={"reset_mask": np.array([False, False])})
    with pytest.raises(TypeError, match="reset_mask"):
        env.reset(options={"reset_mask": [True, True]})
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.reset(seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(env.thermostat_action())


@pytest.mark.parametrize("mode", ["rgb_array", "ansi"])
def test_render_gives_the_single_envs_frames(mode):
    weather = generate("temperate", "winter", DAY, np.random.default_rng(5))
    for kwargs in ({}, {"weather": weather}):
        ours, sync = make_pair(BOX, n=3, render_mode=mode, episode_days=1, **kwargs)
        ours.reset(seed=4)
        sync.reset(seed=4)
        rng = np.random.default_rng(1)
        for steps in (0, 30, DAY - 30, 1, 2):  # through an autoreset
            for _ in range(steps):
                a = random_actions(ours, rng)
                ours.step(a)
                sync.step(a)
            frames, expected = ours.render(), sync.render()
            assert len(frames) == 3
            for mine, theirs in zip(frames, expected, strict=True):
                if mode == "rgb_array":
                    assert mine.shape == (HEIGHT, WIDTH, 3) and mine.dtype == np.uint8
                    np.testing.assert_array_equal(mine, theirs)
                else:
                    assert mine == theirs


@pytest.mark.parametrize("days", [7, 101])  # 101 days: the AR(1) noise runs in two blocks
def test_the_tables_hold_the_single_envs_rows(days):
    ours = BuildingHVACVectorEnv(2, episode_days=days, climate="cold", building="office")
    ours.reset(seed=[8, 9])
    rows = ours._rows
    for i, seed in enumerate([8, 9]):
        single = BuildingHVACEnv(episode_days=days, climate="cold", building="office")
        single.reset(seed=seed)
        weather = ours._weather_in[i * rows : (i + 1) * rows]
        start = ours._sbase[i]
        schedule = ours._sched_in[start : start + rows]
        columns = {"_outdoor": weather[:, 0], "_solar": weather[:, 1], "_cop": weather[:, 2],
                   "_eer": weather[:, 3], "_gain": schedule[:, 0], "_price": schedule[:, 1],
                   "_low": schedule[:, 2], "_high": schedule[:, 3]}  # fmt: skip
        for name, column in columns.items():
            bits_equal(column, np.array(getattr(single, name)), name)
        assert ours._state[:, i].tolist() == [single.indoor, single.envelope]
