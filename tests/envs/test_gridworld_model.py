"""The exact model P of GridWorld: against the book, against Gymnasium, and against step()."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sige_rl import envs
from sige_rl.envs.gridworld import DOWN, LEFT, RIGHT, UP, GridWorld


def _q_values(env: GridWorld, v: np.ndarray, gamma: float) -> np.ndarray:
    n = env.observation_space.n
    return np.array(
        [
            [
                sum(p * (r + (0.0 if t else gamma * v[s2])) for p, s2, r, t in env.P[s][a])
                for a in range(4)
            ]
            for s in range(n)
        ]
    )


def value_iteration(env: GridWorld, gamma: float, tol: float = 1e-10) -> np.ndarray:
    v = np.zeros(env.observation_space.n)
    while True:
        v_new = _q_values(env, v, gamma).max(axis=1)
        if np.abs(v_new - v).max() < tol:
            return v_new
        v = v_new


def random_policy_values(env: GridWorld, gamma: float, tol: float = 1e-10) -> np.ndarray:
    v = np.zeros(env.observation_space.n)
    while True:
        v_new = _q_values(env, v, gamma).mean(axis=1)
        if np.abs(v_new - v).max() < tol:
            return v_new
        v = v_new


def unwrapped(env_id: str, **kwargs) -> GridWorld:
    return gym.make(env_id, **kwargs).unwrapped


def as_distribution(outcomes) -> dict[tuple[int, float, bool], float]:
    dist: dict[tuple[int, float, bool], float] = {}
    for p, s, r, t in outcomes:
        key = (int(s), float(r), bool(t))
        dist[key] = dist.get(key, 0.0) + p
    return dist


def assert_same_model(ours, theirs, states, action_map=lambda a: a) -> None:
    for s in states:
        for a in range(4):
            mine = as_distribution(ours[s][a])
            ref = as_distribution(theirs[s][action_map(a)])
            assert mine.keys() == ref.keys(), (s, a, mine, ref)
            for key, p in mine.items():
                assert p == pytest.approx(ref[key], abs=1e-12), (s, a, key)


# --- the book ---------------------------------------------------------------------------------


def test_sutton_barto_5x5_optimal_values_figure_3_5():
    v = value_iteration(unwrapped("sige/SuttonBarto5x5-v0"), gamma=0.9).reshape(5, 5)
    np.testing.assert_allclose(v[0], [22.0, 24.4, 22.0, 19.4, 17.5], atol=0.05)
    np.testing.assert_allclose(v[4], [14.4, 16.0, 14.4, 13.0, 11.7], atol=0.05)


def test_sutton_barto_5x5_random_policy_values_figure_3_2():
    v = random_policy_values(unwrapped("sige/SuttonBarto5x5-v0"), gamma=0.9).reshape(5, 5)
    np.testing.assert_allclose(v[0], [3.3, 8.8, 4.4, 5.3, 1.5], atol=0.05)
    np.testing.assert_allclose(v[4], [-1.9, -1.3, -1.2, -1.4, -2.0], atol=0.05)


def test_small_gridworld_random_policy_values_figure_4_1():
    v = random_policy_values(unwrapped("sige/SmallGridWorld-v0"), gamma=1.0, tol=1e-9)
    expected = [[0, -14, -20, -22], [-14, -18, -20, -20], [-20, -20, -18, -14], [-22, -20, -14, 0]]
    np.testing.assert_allclose(v.reshape(4, 4), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("env_id", "v_start"),
    [
        ("sige/GridWorld-v0", -12.0),
        ("sige/CliffWalking-v0", -13.0),
        ("sige/WindyGridWorld-v0", -15.0),
    ],
)
def test_optimal_start_values(env_id, v_start):
    env = unwrapped(env_id)
    v = value_iteration(env, gamma=1.0)
    assert env.initial_state_distrib @ v == pytest.approx(v_start)


def test_teleports_and_off_grid_example_3_5():
    env = unwrapped("sige/SuttonBarto5x5-v0")
    a_src, a_dst, b_src, b_dst = 0 * 5 + 1, 4 * 5 + 1, 0 * 5 + 3, 2 * 5 + 3
    for a in range(4):
        assert env.P[a_src][a] == [(1.0, a_dst, 10.0, False)]
        assert env.P[b_src][a] == [(1.0, b_dst, 5.0, False)]
    assert env.P[0][UP] == [(1.0, 0, -1.0, False)]
    assert env.P[0][LEFT] == [(1.0, 0, -1.0, False)]
    assert env.P[0][DOWN] == [(1.0, 5, 0.0, False)]
    np.testing.assert_allclose(env.initial_state_distrib, np.full(25, 1 / 25))
    env.reset(seed=0)
    env.s = a_src
    assert env.step(LEFT)[:4] == (a_dst, 10.0, False, False)


def test_wind_example_6_5():
    env = unwrapped("sige/WindyGridWorld-v0")
    s = lambda row, col: row * 10 + col  # noqa: E731
    # Wind of the column left (6: strength 2) pushes the agent from (3,7) up to (1,7).
    assert env.P[s(3, 6)][RIGHT] == [(1.0, s(1, 7), -1.0, False)]
    # Column 8 has wind 1: moving left from (4,8) lands on (3,7), the goal.
    assert env.P[s(4, 8)][LEFT] == [(1.0, s(3, 7), -1.0, True)]
    # Column 3 has wind 1 and the top edge stops the push.
    assert env.P[s(0, 3)][RIGHT] == [(1.0, s(0, 4), -1.0, False)]
    assert env.P[s(3, 0)][RIGHT] == [(1.0, s(3, 1), -1.0, False)]
    assert env.P[s(3, 7)][UP] == [(1.0, s(3, 7), 0.0, True)]


def test_wind_stops_at_walls_and_blocked_push_has_no_off_grid_reward():
    env = GridWorld(
        map=["..#", "...", "S.G"], wind=[0, 2, 0], off_grid_reward=-5.0, step_reward=-1.0
    )
    # From (2,1) RIGHT lands on the goal (2,2), but column 1's wind pushes it up two cells;
    # the wall at (0,2) stops the push at (1,2).
    assert env.P[7][RIGHT] == [(1.0, 5, -1.0, False)]
    assert env.P[5][DOWN] == [(1.0, 8, -1.0 + 1.0, True)]  # step + default goal_reward
    # From (1,1) UP to (0,1), then the edge blocks the push: no off-grid penalty for that.
    assert env.P[4][UP] == [(1.0, 1, -1.0, False)]
    # A move blocked by the edge is penalised.
    assert env.P[1][UP] == [(1.0, 1, -6.0, False)]


def test_cliff_sends_back_to_start_example_6_6():
    env = unwrapped("sige/CliffWalking-v0")
    start = 3 * 12
    assert env.P[2 * 12 + 5][DOWN] == [(1.0, start, -100.0, False)]
    assert env.P[start][RIGHT] == [(1.0, start, -100.0, False)]
    assert env.P[2 * 12 + 11][DOWN] == [(1.0, 47, -1.0, True)]
    env.reset(seed=0)
    assert env.step(RIGHT)[:4] == (start, -100.0, False, False)


def test_cliff_with_several_starts_spreads_over_them():
    env = GridWorld(map=["S..", "SCG"], step_reward=-1.0, goal_reward=0.0)
    assert as_distribution(env.P[1][DOWN]) == {(0, -100.0, False): 0.5, (3, -100.0, False): 0.5}


def test_no_start_cell_means_uniform_over_free_cells():
    env = unwrapped("sige/SmallGridWorld-v0")
    expected = np.full(16, 1 / 14)
    expected[[0, 15]] = 0.0
    np.testing.assert_allclose(env.initial_state_distrib, expected)
    assert env.P[0][UP] == [(1.0, 0, 0.0, True)]


# --- Gymnasium reference implementations -----------------------------------------------------

# Gymnasium CliffWalking: 0 UP, 1 RIGHT, 2 DOWN, 3 LEFT; ours: 0 LEFT, 1 DOWN, 2 RIGHT, 3 UP.
_TO_CLIFFWALKING_ACTION = {LEFT: 3, DOWN: 2, RIGHT: 1, UP: 0}


@pytest.mark.parametrize(
    ("gym_id", "slip"), [("CliffWalking-v1", 0.0), ("CliffWalkingSlippery-v1", 2 / 3)]
)
def test_cliff_walking_equals_gymnasium(gym_id, slip):
    ours = unwrapped("sige/CliffWalking-v0", slip=slip)
    theirs = gym.make(gym_id).unwrapped
    goal = 47
    # Genuine difference: Gymnasium computes moves out of the goal (never used: the episode
    # is over); ours makes the goal absorbing like FrozenLake.
    assert_same_model(
        ours.P, theirs.P, [s for s in range(48) if s != goal], _TO_CLIFFWALKING_ACTION.get
    )
    assert ours.P[goal][UP] == [(1.0, goal, 0.0, True)]
    np.testing.assert_array_equal(ours.initial_state_distrib, theirs.initial_state_distrib)


@pytest.mark.parametrize("map_name", ["4x4", "8x8"])
def test_frozen_lake_equals_gymnasium(map_name):
    theirs = gym.make("FrozenLake-v1", map_name=map_name, is_slippery=True).unwrapped
    rows = [row.tobytes().decode().replace("F", ".") for row in theirs.desc]
    ours = GridWorld(map=rows, slip=2 / 3, goal_reward=1.0)
    assert_same_model(ours.P, theirs.P, range(len(rows) ** 2))
    np.testing.assert_array_equal(ours.initial_state_distrib, theirs.initial_state_distrib)
    np.testing.assert_array_equal(ours.desc, np.where(theirs.desc == b"F", b".", theirs.desc))


# --- the model agrees with step() -------------------------------------------------------------


def test_probabilities_sum_to_one_and_terminal_rows_absorb():
    for env_id in envs.ENV_IDS:
        env = unwrapped(env_id)
        for s, row in env.P.items():
            for a, outcomes in row.items():
                assert sum(p for p, *_ in outcomes) == pytest.approx(1.0), (env_id, s, a)
                assert all(p > 0 for p, *_ in outcomes)
            if env.desc.flat[s] in (b"G", b"H", b"#"):
                assert all(row[a] == [(1.0, s, 0.0, True)] for a in range(4))


MIXED_MAP = ["S..#..", ".C..H.", "..A.a.", "S...CG"]


def _step_frequencies(env: GridWorld, s: int, a: int, draws: int) -> dict:
    counts: dict[tuple[int, float, bool], int] = {}
    for _ in range(draws):
        env.s = s
        obs, reward, terminated, _, info = env.step(a)
        key = (obs, reward, terminated)
        counts[key] = counts.get(key, 0) + 1
        assert info["prob"] == pytest.approx(as_distribution(env.P[s][a])[key])
    return counts


@pytest.mark.parametrize(
    "make",
    [pytest.param(lambda i=i: unwrapped(i), id=i) for i in envs.ENV_IDS]
    + [
        pytest.param(
            lambda: GridWorld(
                map=MIXED_MAP,
                slip=0.4,
                wind=[0, 1, 0, 2, 1, 0],
                step_reward=-1.0,
                off_grid_reward=-2.0,
            ),
            id="slip+wind+cliff+teleport",
        )
    ],
)
def test_step_frequencies_match_P(make):
    env = make()
    env.reset(seed=123)
    rng = np.random.default_rng(0)
    live = [s for s in range(env.observation_space.n) if env.desc.flat[s] not in (b"G", b"H", b"#")]
    draws = 2000
    for s in rng.choice(live, size=6, replace=False):
        a = int(rng.integers(4))
        counts = _step_frequencies(env, int(s), a, draws)
        dist = as_distribution(env.P[int(s)][a])
        assert set(counts) <= set(dist), (s, a)
        for key, p in dist.items():
            sigma = np.sqrt(draws * p * (1 - p))
            assert abs(counts.get(key, 0) - draws * p) <= 5 * sigma + 1e-9, (s, a, key, counts, p)


def test_each_call_consumes_one_uniform_from_np_random_blocks():
    env = unwrapped("sige/SlipperyMaze-v0")
    env.reset(seed=7)
    uniforms = np.random.default_rng(7).random(3000)
    expected_s = env._start_states[0]
    s = expected_s
    rng = np.random.default_rng(1)
    for t in range(1, 2500):
        if env.desc.flat[s] in (b"G", b"H"):
            env.reset()
            s = env.s  # single start: u is consumed, the start is certain
            continue
        a = int(rng.integers(4))
        cum = np.cumsum([p for p, *_ in env.P[s][a]])
        k = min(int(np.searchsorted(cum, uniforms[t], side="right")), len(cum) - 1)
        s = env.P[s][a][k][1]
        assert env.step(a)[0] == s, t


def test_negative_wind_pushes_down():
    env = GridWorld(map=["S..", "...", "..G"], wind=[0, -1, 0])
    assert env.P[1][DOWN] == [(1.0, 7, 0.0, False)]  # (0,1) -> (1,1), pushed down to (2,1)
    assert env.P[7][RIGHT] == [(1.0, 8, 1.0, True)]  # column 1 wind, bottom edge stops it
