"""The Connect Four solver (issue 13, reference players) against Pascal Pons' published test
positions and their exact scores, against brute-force minimax and a brute-force scorer on
random endgames, on hand-read boards (a win in one, a forced block), and its time bound and
size guard."""

import random
import time

import numpy as np
import pytest

from sige_rl.agents.search.connect_four_solver import ConnectFourSolver
from sige_rl.agents.search.minimax import Minimax
from sige_rl.envs.board_games.connect_four import ConnectFourState
from sige_rl.envs.board_games.tictactoe import TicTacToeState


def play(sequence: str) -> ConnectFourState:
    """The position after Pons' move sequence (columns numbered from 1)."""
    state = ConnectFourState()
    for ch in sequence:
        state = state.step(int(ch) - 1)
    return state


def random_position(empty: int, rng: random.Random, careful: bool = False) -> ConnectFourState:
    """Random moves from the empty board down to ``empty`` empty cells, restarting any game
    that ends on the way. ``careful``: no move lets the opponent win with their next one
    either (random play alone mostly leaves the player to move a win in one)."""
    while True:
        state = ConnectFourState()
        while state.num_moves < 42 - empty:
            nexts = [state.step(a) for a in state.legal_actions()]
            nexts = [s for s in nexts if not s.is_terminal()]
            if careful:
                nexts = [
                    s for s in nexts if all(s.step(b).winner() is None for b in s.legal_actions())
                ]
            if not nexts:
                break
            state = rng.choice(nexts)
        else:
            return state


# -- Pons' benchmark positions ---------------------------------------------------------------

# From Pascal Pons' test sets (http://blog.gamesolver.org/solving-connect-four/02-test-protocol/,
# as copied in github.com/mbarbin/c4solver, resources/): "<moves, columns 1-7> <score>", the
# score for the player to move: 22 - k for a win with their k-th stone, k - 22 for a loss to
# the opponent's k-th stone, 0 for a draw. Test_L3_R1 ("end-easy", 1 to 13 empty cells): its
# first 30 lines with at least 8 empty cells (the whole set of 1,000 agrees too, in 0.2 s).
END_EASY = """
7422341735647741166133573473242566 1
52677675164321472411331752454 0
6763525635134453444361412671365712 -1
3146762114467714356347741621375222 -1
67152117737262713366376314254 6
2762751722231276466633475674533 5
427566236745127177115664464254 2
3575316255751336464276636772271112 -3
655651721435342216255374674123 4
12156756715535615116237724723 -2
466337133772221726726511133452571 0
5577777735365512235162362241426611 -3
6274476136716665132411555412333345 0
2166166176633734115273317322475724 -2
3432357517256661231652672362571175 3
26512741647245111351472255277 -5
3414355576455177144321543311672273 -2
5512371662253342337574526766763245 3
27573772361321663724362213661574 2
6216633712715125334265163163777225 -3
3324524346452572767551333257727114 0
7174362564676726631735257252323 -4
6213724444421524673215767767233 0
12513736213523127714633572657256 -4
47715713331437527153255735112 0
7235431667532555335366227767122741 3
5114752266375176254672271463763 5
75671334317317336771215665546 -4
171231226144413625631766635232354 0
671337313517162274736137166625 2
"""
# Test_L2_R2 ("middle-medium", 15 to 27 empty cells): its first 10 lines with 16 to 20.
MIDDLE_MEDIUM = """
37313333717124171162542 3
6242432155656447531617622 0
7225753363613131156611 -3
246767232112661771721576 1
1767235667232175621774455 2
27222774542216557563711 -1
2531433343131451454271645 0
2521714167472245144277371 0
36466712613373735727361 3
11233566724171221527127745 0
"""


def pons_lines(text: str) -> list[tuple[str, int]]:
    return [(seq, int(score)) for seq, score in (line.split() for line in text.split("\n") if line)]


def test_exact_scores_equal_pons_published_ones():
    # one solver for every position, its value and its score alternating: the transposition
    # table carries bounds from one position and one window to the next
    solver = ConnectFourSolver()
    for seq, expected in pons_lines(END_EASY) + pons_lines(MIDDLE_MEDIUM):
        state = play(seq)
        assert solver.value(state) == np.sign(expected), seq
        assert solver.score(state) == expected, seq


def test_pons_worked_examples():
    # the two examples of the test-protocol page: "4455" scores 18 (the player to move wins
    # with their 4th stone), "44455554221" -15 (the opponent wins with their 7th stone)
    # (38 and 31 empty cells: beyond the default guard, but both are decided by threats the
    # search sees at once)
    solver = ConnectFourSolver(max_empty=42)
    assert solver.score(play("4455")) == 18
    assert solver.score(play("44455554221")) == -15
    assert solver.best_actions(play("44455554221")) == list(range(7))  # every move loses next


# -- against brute force ---------------------------------------------------------------------


def brute_force_score(state: ConnectFourState, memo: dict) -> int:
    """Pons' score by full minimax on the env's own rules: at the end, the winner's stones
    counted on their bitboard; before it, the best of the negated scores of the moves."""
    if state not in memo:
        if state.is_terminal():
            winner = state.winner()
            memo[state] = 0 if winner is None else state.stones[winner].bit_count() - 22
        else:
            memo[state] = max(
                -brute_force_score(state.step(a), memo) for a in state.legal_actions()
            )
    return memo[state]


def test_equals_brute_force_minimax_on_random_endgames():
    rng = random.Random(0)
    minimax, memo = Minimax(), {}
    solver = ConnectFourSolver()
    outcomes = set()
    for i in range(200):
        state = random_position(8 + i % 4, rng, careful=i % 2 == 0)
        value = minimax.value(state)
        outcomes.add(value)
        assert solver.value(state) == value, state
        assert solver.score(state) == brute_force_score(state, memo), state
        assert solver.best_actions(state, exact=False) == minimax.best_actions(state), state
        scores = {a: -brute_force_score(state.step(a), memo) for a in state.legal_actions()}
        fastest = [a for a, s in scores.items() if s == max(scores.values())]
        assert solver.best_actions(state) == fastest, state
    assert outcomes == {-1.0, 0.0, 1.0}  # the sample has wins, draws and losses


def test_game_over_positions():
    state = play("1212121")  # the first player's vertical four with their 4th stone
    solver = ConnectFourSolver(max_empty=42)
    assert solver.value(state) == -1 and solver.score(state) == 4 - 22
    assert solver.best_actions(state) == []


# -- hand-read boards ------------------------------------------------------------------------


def board(picture: str) -> ConnectFourState:
    cells = {".": 0, "X": 1, "O": 2}
    rows = [[cells[c] for c in line.split()] for line in picture.strip().split("\n")]
    return ConnectFourState.from_board(np.array(rows))


def test_takes_the_win_rather_than_blocking():
    # X to move (13 stones each). Column 3 lands on the second row, completing X X X X there;
    # O threatens column 4 too (the diagonal col 3 row 1, col 5 row 3, col 6 row 4 from the
    # bottom), but winning now ends the game: X's 14th stone, score 22 - 14 = 8
    state = board("""
        O . . . . X X
        O . . . . X X
        X . O . . O O
        O . O . . O O
        X X X . . X X
        X X O O O X O
    """)
    assert state.current_player() == 0 and state.step(3).winner() == 0
    solver = ConnectFourSolver(seed=1)
    assert solver.best_actions(state) == [3]
    assert solver(state) == 3
    assert solver.score(state) == 8


def test_blocks_the_only_threat():
    # X to move (14 stones each) with no win in one; O has three stacked in column 3 and wins
    # there next unless X plays it
    state = board("""
        . X . . X . .
        . O . . O . .
        O O . . X . O
        X X . O O X X
        X O X O O O X
        O X X O X O X
    """)
    assert all(state.step(a).winner() is None for a in state.legal_actions())
    for a in state.legal_actions():
        if a != 3:  # anything else loses at once
            assert state.step(a).step(3).winner() == 1
    blocked = state.step(3)
    assert all(blocked.step(b).winner() is None for b in blocked.legal_actions())
    solver = ConnectFourSolver()
    assert solver.best_actions(state) == [3]
    assert solver(state) == 3


def test_play_is_seeded_and_keeps_to_the_best_actions():
    rng = random.Random(3)
    states = [random_position(10, rng) for _ in range(20)]
    picks = [ConnectFourSolver(seed=s, exact=False) for s in (0, 0, 1)]
    moves = [[p(state) for state in states] for p in picks]
    assert moves[0] == moves[1]
    checker = ConnectFourSolver()
    for state, move in zip(states, moves[2], strict=True):
        assert move in checker.best_actions(state, exact=False)


# -- time and size ---------------------------------------------------------------------------


def test_twelve_empty_cells_solve_within_the_bound():
    # issue 13 asks for a second per endgame of 12 empty cells; measured: 7 ms at worst over
    # 200 (scripts/bench/connect_four_solver.py). The bound here is 2 s, loose on purpose so
    # that a loaded CI machine does not fail it: it guards against a search gone exponential.
    rng = random.Random(12)
    for _ in range(5):
        state = random_position(12, rng)
        t = time.perf_counter()
        ConnectFourSolver().score(state)
        ConnectFourSolver()(state)
        assert time.perf_counter() - t < 2.0


def test_refuses_positions_with_too_many_empty_cells():
    solver = ConnectFourSolver(max_empty=12)
    with pytest.raises(ValueError, match="at most 12 empty cells"):
        solver.value(random_position(13, random.Random(0)))
    with pytest.raises(ValueError, match="at most 20 empty cells"):
        ConnectFourSolver()(ConnectFourState())  # the opening: out of reach by default
    with pytest.raises(ValueError, match="max_empty"):
        ConnectFourSolver(max_empty=43)
    with pytest.raises(TypeError, match="Connect Four"):
        ConnectFourSolver().value(TicTacToeState())
