"""The OpenSpiel adapter against OpenSpiel itself: the same random move sequences give the same
legal actions, terminal flags, returns and player to move at every step, in our board games and
in OpenSpiel's through the wrapper; positions cross both ways; our MCTS plays OpenSpiel's
states (an immediate win, a forced block)."""

import random

import gymnasium as gym
import pytest

pyspiel = pytest.importorskip("pyspiel")

import sige_rl.envs  # noqa: E402, F401  (registers the env ids)
from sige_rl.agents.search.mcts import MCTS, MCTSConfig  # noqa: E402
from sige_rl.agents.search.openspiel import (  # noqa: E402
    OpenSpielState,
    from_openspiel,
    load,
    to_openspiel,
)
from sige_rl.agents.search.protocol import FastRollout, GameState  # noqa: E402
from sige_rl.envs.board_games import ConnectFourState, TicTacToeState  # noqa: E402


@pytest.mark.parametrize(
    ("name", "cls", "games"),
    [("tic_tac_toe", TicTacToeState, 500), ("connect_four", ConnectFourState, 300)],
)
def test_random_games_agree_with_openspiel_step_by_step(name, cls, games):
    rng = random.Random(7)
    game = pyspiel.load_game(name)
    outcomes = set()
    for _ in range(games):
        ours, spiel = cls(), game.new_initial_state()
        wrapped = OpenSpielState(game.new_initial_state())
        while True:
            assert ours.is_terminal() == spiel.is_terminal() == wrapped.is_terminal()
            assert ours.returns() == tuple(spiel.returns()) == wrapped.returns()
            if spiel.is_terminal():
                break
            assert ours.legal_actions() == spiel.legal_actions() == wrapped.legal_actions()
            assert ours.current_player() == spiel.current_player() == wrapped.current_player()
            a = rng.choice(spiel.legal_actions())
            before = wrapped
            ours, wrapped = ours.step(a), wrapped.step(a)
            spiel.apply_action(a)
            assert len(before.state.history()) == len(spiel.history()) - 1  # step left it as it was
        assert from_openspiel(spiel, cls) == ours
        assert to_openspiel(ours).history() and from_openspiel(to_openspiel(ours), cls) == ours
        outcomes.add(ours.returns())
    assert {(1.0, -1.0), (-1.0, 1.0)} <= outcomes  # both players' wins were checked


def test_positions_cross_both_ways_mid_game():
    rng = random.Random(3)
    for cls, name in ((TicTacToeState, "tic_tac_toe"), (ConnectFourState, "connect_four")):
        for _ in range(50):
            s = cls()
            for _ in range(rng.randrange(cls.MAX_MOVES)):
                if s.is_terminal():
                    break
                s = s.step(rng.choice(s.legal_actions()))
            spiel = to_openspiel(s)
            assert spiel.get_game().get_type().short_name == name
            assert from_openspiel(spiel, cls) == s
            assert spiel.legal_actions() == s.legal_actions()
            assert spiel.is_terminal() == s.is_terminal()


def test_an_unreachable_board_is_refused():
    # O's stone under X's in column 0 with one stone each: X moved first, so its stone is below
    board = [[0] * 7 for _ in range(6)]
    board[5][0], board[4][0] = 2, 1
    with pytest.raises(ValueError, match="no sequence of legal moves"):
        to_openspiel(ConnectFourState.from_board(board))


def test_the_wrapper_satisfies_the_protocols_and_refuses_chance_games():
    s = load("tic_tac_toe")
    assert isinstance(s, GameState) and isinstance(s, FastRollout)
    assert s.step(4) == s.step(4) and s.step(4) != s.step(0)
    with pytest.raises(ValueError, match="deterministic"):
        OpenSpielState(pyspiel.load_game("backgammon").new_initial_state())
    with pytest.raises(ValueError, match="default parameters"):
        wide = pyspiel.load_game("connect_four", {"columns": 8}).new_initial_state()
        from_openspiel(wide, ConnectFourState)
    with pytest.raises(ValueError, match="not tic_tac_toe"):
        from_openspiel(load("connect_four"), TicTacToeState)
    with pytest.raises(ValueError, match="no OpenSpiel game"):
        to_openspiel(load("tic_tac_toe"))


def test_the_game_class_can_come_from_the_env():
    env = gym.make("sige/ConnectFour-v0")
    spiel = pyspiel.load_game("connect_four").new_initial_state()
    for a in (3, 3, 4):
        spiel.apply_action(a)
    ours = from_openspiel(spiel, type(env.unwrapped.state))
    assert ours == ConnectFourState().step(3).step(3).step(4)
    assert to_openspiel(ours).history() == [3, 3, 4]


def test_our_mcts_takes_an_immediate_win_and_blocks_on_openspiel_states():
    spiel = pyspiel.load_game("connect_four").new_initial_state()
    for a in (3, 0, 3, 0, 3, 1):  # X has three in column 3, O threatens nothing yet
        spiel.apply_action(a)
    assert MCTS(MCTSConfig(simulations=200), seed=0).search(OpenSpielState(spiel)) == 3
    # the same position one move earlier, O to move: O must block column 3
    spiel = pyspiel.load_game("connect_four").new_initial_state()
    for a in (3, 0, 3, 0, 3):
        spiel.apply_action(a)
    assert MCTS(MCTSConfig(simulations=1000), seed=0).search(OpenSpielState(spiel)) == 3
    # tic-tac-toe through OpenSpiel: X (0, 1) against O (3, 4), X completes the top row
    ttt = load("tic_tac_toe")
    for a in (0, 3, 1, 4):
        ttt = ttt.step(a)
    assert MCTS(MCTSConfig(simulations=300), seed=0).search(ttt) == 2


def test_the_tree_is_reused_through_the_wrapper():
    mcts = MCTS(MCTSConfig(simulations=300), seed=0)
    s = load("tic_tac_toe")
    a = mcts.search(s)
    reply = next(iter(mcts.root.children[a].children))
    grandchild = mcts.root.children[a].children[reply]
    mcts.search(s.step(a).step(reply))
    assert mcts.root is grandchild
