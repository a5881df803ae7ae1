"""scripts/arena.py: matches checked against what is known independently of our code (perfect
tic-tac-toe is a draw and never loses; a player that always takes the centre makes an illegal
move in its second turn), the first mover counted by hand, Wilson's interval against a textbook
value and its formula, clear errors for bad player specs, saved runs as players, and the command
line end to end."""

import json
import math
import shutil

import pytest

from sige_rl.agents.search.arena import (
    ArenaError,
    MatchSummary,
    PlayerSpec,
    RandomPlayer,
    main,
    parse_spec,
    play_match,
    score_interval,
    wilson_interval,
)
from sige_rl.agents.search.minimax import Minimax
from sige_rl.agents.training.train import main as train_main
from sige_rl.envs.board_games import ConnectFourState, TicTacToeState


def test_perfect_against_perfect_draws_every_game():
    results = play_match(TicTacToeState, Minimax(seed=1), Minimax(seed=2), games=20)
    assert [r.outcome for r in results] == [0] * 20  # tic-tac-toe's value is a draw
    s = MatchSummary.of(results).overall
    assert (s.wins, s.draws, s.losses, s.score) == (0, 20, 0, 0.5)


def test_perfect_never_loses_to_random_and_wins_most_games():
    perfect, rand = parse_spec("perfect", "tictactoe"), parse_spec("random", "tictactoe")
    s = MatchSummary.of(play_match(TicTacToeState, perfect, rand, games=40, seed=3))
    assert s.overall.losses == 0
    # random play rarely holds a draw: expected about 19 wins of 20 as X, 16 as O
    assert s.overall.wins >= 30


def test_each_side_moves_first_in_alternate_games():
    """Each player records, at its first move of a game, whether the board was empty; a spec's
    player is built per game with the seeds seed + 2i (A) and seed + 2i + 1 (B)."""
    first_moves = []

    def recording(side):
        def build(seed):
            rng = RandomPlayer(seed)
            moved = []

            def player(state):
                if not moved:
                    first_moves.append((seed, side, state.num_moves == 0))
                    moved.append(True)
                return rng(state)

            return player

        return PlayerSpec(side, side, build)

    results = play_match(TicTacToeState, recording("A"), recording("B"), games=6, seed=10)
    assert [r.a_first for r in results] == [True, False, True, False, True, False]
    openers = sorted((seed, side) for seed, side, empty in first_moves if empty)
    # games 0..5: A (seed 10 + 2i) opens the even ones, B (seed 11 + 2i) the odd ones
    assert openers == [(10, "A"), (13, "B"), (14, "A"), (17, "B"), (18, "A"), (21, "B")]
    s = MatchSummary.of(results)
    assert s.a_first.games == s.b_first.games == 3


def test_odd_number_of_games_is_refused():
    with pytest.raises(ValueError, match="even"):
        play_match(TicTacToeState, RandomPlayer(0), RandomPlayer(1), games=5)


def test_illegal_moves_lose_and_are_counted():
    """do_nothing:action=4 always plays the centre: legal once at most, so it loses every game by
    an illegal move: at move 2 when it opens (centre, reply, centre again), at move 1 or 3 when
    the opponent does (1 if the opponent took the centre)."""
    centre = parse_spec("do_nothing:action=4", "tictactoe")
    results = play_match(TicTacToeState, centre, parse_spec("random", "tictactoe"), games=10)
    assert all(r.outcome == -1 and r.illegal == "a" and r.illegal_action == 4 for r in results)
    assert all(r.moves == 2 if r.a_first else r.moves in (1, 3) for r in results)
    s = MatchSummary.of(results).overall
    assert (s.losses, s.illegal_a, s.illegal_b) == (10, 10, 0)


def test_wilson_interval_matches_the_textbook_and_the_formula():
    # 8 successes in 10 at 95%: (0.490, 0.943) (Newcombe 1998, Table I; any Wilson calculator)
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    # the formula by hand at 90% (z = 1.644854): centre (p + z^2/2n) / (1 + z^2/n), ...
    z, n, p = 1.6448536, 25, 0.2
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson_interval(5, 25, 0.9) == pytest.approx((centre - half, centre + half))
    # no success: the upper bound is z^2 / (n + z^2)
    z = 1.959964
    assert wilson_interval(0, 10) == pytest.approx((0.0, z * z / (10 + z * z)))


def test_score_interval_is_the_normal_interval_of_the_per_game_scores():
    # scores 1, 1/2, 1/2, 0: mean 1/2, sample sd sqrt((1/4 + 1/4) / 3), half 1.96 sd / sqrt(4)
    half = 1.959964 * math.sqrt(0.5 / 3) / 2
    assert score_interval([1, 0.5, 0.5, 0]) == pytest.approx((0.5 - half, 0.5 + half))


@pytest.mark.parametrize(
    ("spec", "game", "message"),
    [
        ("pefect", "tictactoe", "did you mean 'perfect'"),
        ("no_such_agent", "tictactoe", "unknown player 'no_such_agent'"),
        ("mcts:simulation=10", "tictactoe", "did you mean 'simulations'"),
        ("mcts:simulations=many", "tictactoe", "must be a number"),
        ("mcts:200", "tictactoe", "key=value"),
        ("do_nothing:actoin=4", "tictactoe", "unknown hyperparameter 'actoin'"),
        ("perfect", "connect_four", "tic-tac-toe only"),
        ("random:seed=3", "tictactoe", "no settings"),
        ("solver", "tictactoe", "Connect Four's endgame solver"),
        ("./no/such/run", "tictactoe", "no such run or checkpoint folder"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, game, message):
    with pytest.raises(ArenaError, match=message):
        parse_spec(spec, game)


def test_mcts_settings_are_typed_by_its_config():
    spec = parse_spec("mcts:simulations=20,exploration=1.4,solver=false", "tictactoe")
    config = spec.build(0).__self__.config
    assert (config.simulations, config.exploration, config.solver) == (20, 1.4, False)


def test_a_player_that_fails_stops_the_match_with_where_and_who():
    def broken(state):
        raise RuntimeError("out of order")

    with pytest.raises(ArenaError, match=r"game 0: B failed to play move 2: .*out of order"):
        play_match(TicTacToeState, Minimax(), broken, games=2)


@pytest.fixture(scope="module")
def mcts_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("runs")
    args = ["--env", "sige/TicTacToe-v0", "--agent", "mcts", "--steps", "10", "--no-progress"]
    assert train_main([*args, "--set", "simulations=50", "--logdir", str(logdir)]) == 0
    return next(p for p in logdir.glob("*/*/*") if not p.is_symlink())


def test_a_saved_run_plays_by_its_path(mcts_run):
    """The run's final/ is loaded through the agents' front door and plays both sides: the
    search must see each position (an agent searching another board would move illegally)
    and, against perfect play, can win nothing."""
    spec = parse_spec(str(mcts_run), "tictactoe")
    assert spec.label == f"mcts ({mcts_run}, final)"
    assert spec.build(0).agent.config.simulations == 50
    s = MatchSummary.of(play_match(TicTacToeState, spec, Minimax(), games=4)).overall
    assert s.games == 4 and s.wins == 0 and s.illegal_a == 0


def test_checkpoints_unfinished_runs_and_overrides(mcts_run, tmp_path):
    ckpt = parse_spec(f"{mcts_run / 'checkpoints' / 'step_0'}:simulations=20", "tictactoe")
    assert ckpt.build(0).agent.config.simulations == 20
    unfinished = shutil.copytree(mcts_run, tmp_path / "run")
    shutil.rmtree(unfinished / "final")
    assert "latest checkpoint step_0" in parse_spec(str(unfinished), "tictactoe").label
    with pytest.raises(ArenaError, match="trained on sige/TicTacToe-v0, not sige/ConnectFour"):
        parse_spec(str(mcts_run), "connect_four")
    with pytest.raises(ArenaError, match="neither a checkpoint"):
        parse_spec(str(tmp_path), "tictactoe")


def test_solver_needs_a_fallback_for_the_opening():
    pytest.importorskip("sige_rl.agents.search.connect_four_solver")
    with pytest.raises(ArenaError, match="fallback=mcts"):
        parse_spec("solver", "connect_four")
    with pytest.raises(ArenaError, match="unknown setting 'depth'"):
        parse_spec("solver:fallback=random,depth=3", "connect_four")
    spec = parse_spec("solver:fallback=random,max_empty=8", "connect_four")
    results = play_match(ConnectFourState, spec, RandomPlayer(0), games=2)
    assert all(r.illegal is None for r in results)


def test_main_prints_the_table_and_writes_json(tmp_path, capsys):
    out_file = tmp_path / "match.json"
    assert main(["perfect", "random", "--games", "6", "--json", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "tic-tac-toe, 6 games (each side first in 3)" in out
    assert "A: perfect" in out and "B: random" in out
    for row in ("all", "A moved first", "B moved first"):
        assert any(line.startswith(row) for line in out.splitlines())
    data = json.loads(out_file.read_text())
    assert (data["player_a"], data["player_b"], data["game"]) == ("perfect", "random", "tictactoe")
    total = data["all"]
    assert total["games"] == 6 and total["losses"] == 0
    assert total["wins"] + total["draws"] == 6
    assert data["a_first"]["games"] == data["b_first"]["games"] == 3
    assert [g["a_first"] for g in data["results"]] == [True, False] * 3
    assert total["score"] == pytest.approx((total["wins"] + total["draws"] / 2) / 6)


def test_main_on_connect_four_by_env_id(capsys):
    argv = ["mcts:simulations=20", "random", "--env", "sige/ConnectFour-v0", "--games", "2"]
    assert main(argv) == 0
    assert "Connect Four, 2 games" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["random", "random", "--games", "3"], "--games must be even"),
        (["random", "mcst"], "did you mean 'mcts'"),
        (["perfect", "random", "--game", "connect_four"], "tic-tac-toe only"),
    ],
)
def test_main_refuses_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err
