"""Board games (issue 13): the rules against PettingZoo's own tictactoe_v3 and connect_four_v3
move for move; perfect tic-tac-toe play (a draw, 5,478 legal positions: the published count);
hand-made Connect Four positions checked against a naive line finder; the Gymnasium env
(check_env, masks, illegal moves, clone/restore) and the PettingZoo modules (api_test,
seed_test)."""

import importlib.util
import random
import sys
import time
import types

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, seed_test

from sige_rl.agents.search.protocol import Restorable
from sige_rl.envs import BOARD_GAME_IDS, connect_four_v0, tictactoe_v0
from sige_rl.envs.board_games import ConnectFourState, TicTacToeState
from sige_rl.envs.board_games.env import BoardGameEnv


def _pettingzoo_classic():
    """PettingZoo's connect_four_v3 and tictactoe_v3 import pygame at the top (for their human
    and rgb_array renders only): without pygame, load them over a stub that is then removed."""
    stub = None
    if importlib.util.find_spec("pygame") is None:
        stub = sys.modules["pygame"] = types.ModuleType("pygame")
    try:
        from pettingzoo.classic.connect_four import connect_four as connect_four_v3
        from pettingzoo.classic.tictactoe import tictactoe as tictactoe_v3
    finally:
        if stub is not None and sys.modules.get("pygame") is stub:
            del sys.modules["pygame"]
    return connect_four_v3, tictactoe_v3


connect_four_v3, tictactoe_v3 = _pettingzoo_classic()

# -- an independent line finder for hand-made boards ----------------------------------------------


def naive_line(board: np.ndarray, value: int) -> bool:
    rows, cols = board.shape
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        for r in range(rows):
            for c in range(cols):
                cells = [(r + k * dr, c + k * dc) for k in range(4)]
                if all(0 <= i < rows and 0 <= j < cols and board[i, j] == value for i, j in cells):
                    return True
    return False


# -- the rules against PettingZoo's classic games ------------------------------------------------


def pz_board(pz, game: str) -> np.ndarray:
    raw = pz.unwrapped
    if game == "connect_four":
        return np.array(raw.board).reshape(6, 7)
    return np.array(raw.board.squares).reshape(3, 3)  # cell a at (a // 3, a % 3)


@pytest.mark.parametrize(
    ("game", "cls", "pz_module", "ours_module", "games"),
    [
        ("tictactoe", TicTacToeState, tictactoe_v3, tictactoe_v0, 400),
        ("connect_four", ConnectFourState, connect_four_v3, connect_four_v0, 150),
    ],
)
def test_rules_match_pettingzoo(game, cls, pz_module, ours_module, games):
    rng = random.Random(13)
    pz, ours = pz_module.env(), ours_module.env()
    outcomes = set()
    for _ in range(games):
        pz.reset()
        ours.reset()
        state = cls()
        while True:
            pz_agent, our_agent = pz.agent_selection, ours.agent_selection
            assert pz.possible_agents.index(pz_agent) == state.current_player()
            assert ours.possible_agents.index(our_agent) == state.current_player()
            np.testing.assert_array_equal(state.board(), pz_board(pz, game))
            np.testing.assert_array_equal(ours.unwrapped.game_state.board(), state.board())
            done = state.is_terminal()
            assert all(pz.terminations.values()) == done
            assert all(ours.terminations.values()) == done
            for i in range(2):  # observations from both players' views
                theirs, mine = pz.observe(pz.possible_agents[i]), ours.observe(f"player_{i}")
                np.testing.assert_array_equal(mine["observation"], theirs["observation"])
                assert mine["observation"].dtype == np.int8
                if not done:  # at the end PettingZoo still shows the empty cells as legal
                    np.testing.assert_array_equal(mine["action_mask"], theirs["action_mask"])
            if done:
                break
            legal = state.legal_actions()
            np.testing.assert_array_equal(state.legal_mask(), pz.observe(pz_agent)["action_mask"])
            assert legal == list(np.flatnonzero(pz.observe(pz_agent)["action_mask"]))
            a = rng.choice(legal)
            state = state.step(a)
            pz.step(a)
            ours.step(a)
        pz_returns = tuple(float(pz._cumulative_rewards[a]) for a in pz.possible_agents)
        our_returns = tuple(float(ours._cumulative_rewards[a]) for a in ours.possible_agents)
        assert state.returns() == pz_returns == our_returns
        outcomes.add(state.returns())
    # both wins seen; random tic-tac-toe also draws (random Connect Four draws are rare)
    assert {(1.0, -1.0), (-1.0, 1.0)} <= outcomes
    if game == "tictactoe":
        assert (0.0, 0.0) in outcomes


# -- perfect play ---------------------------------------------------------------------------------


def test_tictactoe_minimax_draw_and_position_count():
    memo: dict[TicTacToeState, float] = {}

    def value(s: TicTacToeState) -> float:  # player 0's value under perfect play
        if s in memo:
            return memo[s]
        if s.is_terminal():
            v = s.returns()[0]
        else:
            children = [value(s.step(a)) for a in s.legal_actions()]
            v = max(children) if s.current_player() == 0 else min(children)
        memo[s] = v
        return v

    assert value(TicTacToeState()) == 0.0
    assert len(memo) == 5478  # legal positions reachable in play, the empty board included
    # a few hand facts: the centre answered by an edge loses for O
    assert value(TicTacToeState().step(4).step(1)) == 1.0
    assert value(TicTacToeState().step(4).step(0)) == 0.0


def test_tictactoe_state_basics():
    s = TicTacToeState()
    for a in (0, 3, 1, 4, 2):
        s = s.step(a)
    assert s.is_terminal() and s.returns() == (1.0, -1.0) and s.legal_actions() == []
    np.testing.assert_array_equal(s.board(), [[1, 1, 1], [2, 2, 0], [0, 0, 0]])
    assert str(s).splitlines() == ["X X X", "O O .", ". . ."]
    assert TicTacToeState.from_board(s.board()) == s
    assert hash(s.clone()) == hash(s) and s.clone() == s
    with pytest.raises(ValueError):
        s.step(8)  # the game is over
    with pytest.raises(ValueError):
        TicTacToeState().step(0).step(0)


# -- Connect Four hand-made positions -----------------------------------------------------------

HORIZONTAL = [
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
    [2, 2, 2, 0, 0, 0, 0],
    [1, 1, 1, 1, 0, 0, 0],
]
VERTICAL = [
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
    [1, 0, 0, 0, 0, 0, 0],
    [1, 2, 0, 0, 0, 0, 0],
    [1, 2, 0, 0, 0, 0, 0],
    [1, 2, 0, 0, 0, 0, 0],
]
RISING = [  # (5, 0), (4, 1), (3, 2), (2, 3)
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0],
    [0, 0, 1, 2, 0, 0, 0],
    [0, 1, 2, 1, 0, 0, 0],
    [1, 2, 1, 2, 0, 0, 2],
]
FALLING = [row[::-1] for row in RISING]
FULL_DRAW = [
    [2, 2, 1, 1, 2, 2, 1],
    [2, 2, 1, 1, 2, 2, 1],
    [1, 1, 2, 2, 1, 1, 2],
    [2, 2, 1, 1, 2, 2, 1],
    [1, 1, 2, 2, 1, 1, 2],
    [1, 1, 2, 2, 1, 1, 2],
]


@pytest.mark.parametrize(
    ("board", "last"),
    [(HORIZONTAL, (5, 3)), (VERTICAL, (2, 0)), (RISING, (2, 3)), (FALLING, (2, 3))],
    ids=["horizontal", "vertical", "rising", "falling"],
)
def test_connect_four_wins(board, last):
    b = np.array(board)
    assert naive_line(b, 1) and not naive_line(b, 2)  # the hand board is what it claims
    s = ConnectFourState.from_board(b)
    assert s.is_terminal() and s.returns() == (1.0, -1.0) and s.winner() == 0
    np.testing.assert_array_equal(s.board(), b)
    before = b.copy()
    before[last] = 0
    s0 = ConnectFourState.from_board(before)
    assert not s0.is_terminal() and s0.current_player() == 0
    s1 = s0.step(last[1])  # the winning drop, detected by step
    assert s1 == s and s1.is_terminal() and s1.returns() == (1.0, -1.0)


def test_connect_four_player1_win_and_no_wrap():
    s = ConnectFourState()
    for a in (0, 1, 0, 1, 0, 1, 6, 1):  # player 1 stacks four in column 1
        s = s.step(a)
    assert s.is_terminal() and s.returns() == (-1.0, 1.0)
    # three at the top of column 0 and one at the bottom of column 1 are no line (no wrap)
    b = np.zeros((6, 7), int)
    b[0:3, 0] = 1
    b[3:6, 0] = 2
    b[5, 1] = 1
    b[5, 2] = 2
    s = ConnectFourState.from_board(b)
    assert not s.is_terminal() and not naive_line(b, 1)


def test_connect_four_full_column_and_draw():
    s = ConnectFourState()
    for _ in range(6):
        s = s.step(0)
    assert 0 not in s.legal_actions() and s.legal_actions() == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError):
        s.step(0)
    b = np.array(FULL_DRAW)
    assert not naive_line(b, 1) and not naive_line(b, 2)
    full = ConnectFourState.from_board(b)
    assert full.is_terminal() and full.returns() == (0.0, 0.0) and full.legal_actions() == []
    before = b.copy()
    before[0, 0] = 0
    s = ConnectFourState.from_board(before)
    assert s.legal_actions() == [0] and s.current_player() == 1
    assert s.step(0) == full and s.step(0).returns() == (0.0, 0.0)
    with pytest.raises(ValueError):  # a floating stone
        ConnectFourState.from_board(np.pad(np.ones((1, 1)), ((0, 5), (0, 6))))


# -- the Gymnasium env --------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", BOARD_GAME_IDS)
def test_gym_env_checks(env_id):
    for kwargs in ({}, {"agent_plays": 1}, {"agent_plays": "random"}):
        env = gym.make(env_id, **kwargs)
        check_env(env.unwrapped, skip_render_check=True)
    for mode in ("ansi", "rgb_array"):
        env = gym.make(env_id, render_mode=mode)
        check_env(env.unwrapped)
        env.reset(seed=0)
        env.step(int(np.flatnonzero(env.unwrapped.state.legal_mask())[0]))
        out = env.render()
        if mode == "ansi":
            assert "X" in out
        else:
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3


@pytest.mark.parametrize("game", ["tictactoe", "connect_four"])
def test_gym_env_masks_observations_rewards(game):
    env = BoardGameEnv(game=game, agent_plays="alternate")
    rng = np.random.default_rng(1)
    players, rewards = [], set()
    for episode in range(60):
        obs, info = env.reset(seed=episode)
        players.append(info["agent_player"])
        me = env.agent_player
        assert env.state.num_moves == me  # the opponent has moved first when the agent is 1
        while True:
            s = env.state
            np.testing.assert_array_equal(info["action_mask"], s.legal_mask())
            b = s.board()
            np.testing.assert_array_equal(obs[0], b == me + 1)
            np.testing.assert_array_equal(obs[1], b == 2 - me)
            assert obs in env.observation_space
            a = int(rng.choice(np.flatnonzero(info["action_mask"])))
            obs, reward, terminated, truncated, info = env.step(a)
            assert not truncated and "illegal" not in info
            if terminated:
                assert env.state.is_terminal()
                assert reward == env.state.returns()[me]
                assert not info["action_mask"].any()
                rewards.add(reward)
                break
            assert reward == 0.0
    assert players[:4] == [0, 1, 0, 1]
    assert {1.0, -1.0} <= rewards


def test_gym_env_illegal_move_and_callable_opponent():
    def lowest(s):
        return s.legal_actions()[0]

    env = BoardGameEnv(game="tictactoe", opponent=lowest)
    env.reset(seed=0)
    for a in (4, 8):  # the opponent answers 0, then 1
        _, r, term, _, info = env.step(a)
        assert (r, term) == (0.0, False)
    before = env.state
    obs, r, term, trunc, info = env.step(0)  # occupied by the opponent
    assert (r, term, trunc, info["illegal"]) == (-1.0, True, False, True)
    assert env.state == before
    with pytest.raises(RuntimeError):
        env.step(2)
    env.reset(seed=0)
    for a in (0, 4):  # opponent 1, 2
        env.step(a)
    _, r, term, _, info = env.step(8)
    assert (r, term) == (1.0, True) and "illegal" not in info
    # Connect Four: a full column
    env = BoardGameEnv(game="connect_four", opponent=lowest)
    env.reset(seed=0)
    for _ in range(3):
        env.step(0)  # agent and opponent both fill column 0
    _, r, term, _, info = env.step(0)
    assert (r, term, info["illegal"]) == (-1.0, True, True)


@pytest.mark.parametrize("game", ["tictactoe", "connect_four"])
def test_gym_env_clone_restore(game):
    env = BoardGameEnv(game=game)
    assert isinstance(env, Restorable)
    obs0, _ = env.reset(seed=3)
    snap = env.clone_state()
    rng = np.random.default_rng(0)
    for _ in range(3):  # several lookaheads from the same snapshot
        while True:
            _, _, term, _, _ = env.step(int(rng.choice(env.state.legal_actions())))
            if term:
                break
        env.restore_state(snap)
        assert env.state == snap[0] and env.state.num_moves == 0
        np.testing.assert_array_equal(env._obs(), obs0)
    env.step(env.state.legal_actions()[0])  # the episode goes on after a restore


# -- PettingZoo -----------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Observation:UserWarning")  # api_test's, as for its own
@pytest.mark.parametrize("module", [tictactoe_v0, connect_four_v0])
def test_pettingzoo_api_and_seed(module):
    api_test(module.env(), num_cycles=200)
    seed_test(module.env, num_cycles=20)
    raw = module.raw_env()
    raw.reset()
    with pytest.raises(ValueError):
        for _ in range(7):
            raw.step(0)  # tic-tac-toe: occupied at once; Connect Four: the seventh stone
    aec = module.env(render_mode="ansi")
    aec.reset()
    aec.step(0)
    assert "X" in aec.render()


@pytest.mark.parametrize("module", [tictactoe_v0, connect_four_v0])
def test_pettingzoo_illegal_move_terminates(module):
    aec = module.env()
    aec.reset()
    aec.step(0)
    if module is connect_four_v0:
        for _ in range(5):
            aec.step(0)
    aec.step(0)  # player_1 (tic-tac-toe) or player_0 (Connect Four) plays an illegal move
    loser = "player_1" if module is tictactoe_v0 else "player_0"
    assert all(aec.terminations.values()) or all(aec.truncations.values())
    assert aec._cumulative_rewards[loser] == -1


def test_imports_and_registry():
    import pettingzoo

    from sige_rl.envs import connect_four_v0 as c4
    from sige_rl.envs import tictactoe_v0 as ttt

    e = c4.env()
    e.reset(seed=0)
    assert e.agents == ["player_0", "player_1"]
    assert e.observe("player_0")["observation"].shape == (6, 7, 2)
    assert ttt.env().observation_space("player_1")["observation"].shape == (3, 3, 2)
    assert set(BOARD_GAME_IDS) == {"sige/TicTacToe-v0", "sige/ConnectFour-v0"}
    if hasattr(pettingzoo, "make"):
        pettingzoo.make("aec", "sige/ConnectFour-v0").reset()


def test_connect_four_playout_speed():
    rng = random.Random(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.5:
        s = ConnectFourState()
        while not s.is_terminal():
            s = s.step(rng.choice(s.legal_actions()))
            steps += 1
    rate = steps / (time.perf_counter() - start)
    print(f"Connect Four random playouts: {rate:,.0f} steps/s")
    assert rate > 1_000


# -- random playouts on the raw bitboards ---------------------------------------------------------


def exact_random_play(state, memo=None) -> dict[tuple[float, float], float]:
    """The outcome distribution of uniformly random play from ``state``, by recursion over
    ``legal_actions`` and ``step`` (the rules checked against PettingZoo above)."""
    memo = {} if memo is None else memo
    if state in memo:
        return memo[state]
    if state.is_terminal():
        dist = {state.returns(): 1.0}
    else:
        dist: dict[tuple[float, float], float] = {}
        legal = state.legal_actions()
        for a in legal:
            for outcome, p in exact_random_play(state.step(a), memo).items():
                dist[outcome] = dist.get(outcome, 0.0) + p / len(legal)
    memo[state] = dist
    return dist


def random_opening(cls, moves: int, seed: int):
    """A position after ``moves`` random moves with the game still on (fixed by ``seed``)."""
    rng = random.Random(seed)
    while True:
        s = cls()
        for _ in range(moves):
            s = s.step(rng.choice(s.legal_actions()))
            if s.is_terminal():
                break
        if not s.is_terminal():
            return s


FULL_BUT_TOP_ROW = np.array(FULL_DRAW)
FULL_BUT_TOP_ROW[0] = 0  # 7 empty cells, one a column: every move fills a column


@pytest.mark.parametrize(
    "position",
    [
        TicTacToeState(),
        TicTacToeState().step(4).step(0),
        random_opening(ConnectFourState, 28, seed=1),
        random_opening(ConnectFourState, 30, seed=2),
        ConnectFourState.from_board(FULL_BUT_TOP_ROW),
    ],
    ids=["tictactoe-empty", "tictactoe-2-moves", "connect-four-28", "connect-four-30", "full"],
)
def test_rollout_returns_draws_random_play(position):
    """The bitboard playouts that the MCTS uses have the outcome distribution of random play,
    within 4.5 standard errors over 20,000 playouts; terminal positions return their returns."""
    exact = exact_random_play(position)
    assert abs(sum(exact.values()) - 1.0) < 1e-9
    rng, n = random.Random(0), 20_000
    counts: dict[tuple[float, float], int] = {}
    for _ in range(n):
        outcome = position.rollout_returns(rng)
        counts[outcome] = counts.get(outcome, 0) + 1
    assert set(counts) <= set(exact)
    for outcome, p in exact.items():
        tolerance = 4.5 * np.sqrt(p * (1 - p) / n) + 1e-9
        assert abs(counts.get(outcome, 0) / n - p) <= tolerance, (outcome, counts, exact)
    end = position
    while not end.is_terminal():
        end = end.step(end.legal_actions()[0])
    assert end.rollout_returns(rng) == end.returns()


def test_random_tictactoe_outcomes_are_the_published_ones():
    """Random play from the empty board: X wins 737/1260, O 363/1260, a draw 160/1260
    (the exact counts of uniformly random tic-tac-toe), so the recursion above is right."""
    exact = exact_random_play(TicTacToeState())
    assert exact[(1.0, -1.0)] == pytest.approx(737 / 1260)
    assert exact[(-1.0, 1.0)] == pytest.approx(363 / 1260)
    assert exact[(0.0, 0.0)] == pytest.approx(160 / 1260)


@pytest.mark.parametrize("game", [TicTacToeState, ConnectFourState])
def test_winning_actions_are_the_moves_that_win_at_once(game):
    """The bitboard shortcut against the rules: step every legal move and read the winner."""
    rng = np.random.default_rng(5)
    checked = found = 0
    for _ in range(300):
        s = game()
        while not s.is_terminal():
            player = s.current_player()
            brute = [a for a in s.legal_actions() if s.step(a).winner() == player]
            assert s.winning_actions() == brute, f"\n{s}"
            checked, found = checked + 1, found + bool(brute)
            s = s.step(int(rng.choice(s.legal_actions())))
        assert s.winning_actions() == []
    assert found > 100 and checked > found  # both cases were met many times
