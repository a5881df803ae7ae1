"""PUCT and AlphaZero: selection and backup against a tree worked out by hand, the root noise,
the mirror used to augment positions against the rules themselves, exact resume, and a quick
learning guard (a few minutes' training on tic-tac-toe never loses to perfect play)."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import sige_rl.envs  # noqa: F401  (registers the sige/ ids)
from sige_rl.agents.search.alphazero import AlphaZero, batched_match, mirror_actions
from sige_rl.agents.search.minimax import Minimax
from sige_rl.agents.search.protocol import GameState
from sige_rl.agents.search.puct import PUCT, PUCTNode, policy_from_visits
from sige_rl.envs.board_games.connect_four import ConnectFourState
from sige_rl.envs.board_games.tictactoe import TicTacToeState


class Toy:
    """Two moves for player 0, then two for player 1, then the end. Player 0's payoffs:
    (0, 0) -> +1, (0, 1) -> -1, (1, x) -> 0. Not a board game: PUCT needs only the protocol."""

    PAYOFF = {(0, 0): 1.0, (0, 1): -1.0, (1, 0): 0.0, (1, 1): 0.0}

    def __init__(self, moves=()):
        self.moves = tuple(moves)

    def legal_actions(self):
        return [] if self.is_terminal() else [0, 1]

    def step(self, action):
        return Toy((*self.moves, action))

    def is_terminal(self):
        return len(self.moves) == 2

    def returns(self):
        if not self.is_terminal():
            return (0.0, 0.0)
        v = self.PAYOFF[self.moves]
        return (v, -v)

    def current_player(self):
        return len(self.moves) % 2


def uniform(states):
    """Equal priors, value 0 everywhere: only the rules and the formula move the search."""
    return np.full((len(states), 2), 0.5), np.zeros(len(states))


def test_toy_satisfies_the_protocol():
    assert isinstance(Toy(), GameState)


def test_puct_selection_and_backup_match_a_tree_worked_by_hand():
    root = PUCTNode(Toy())
    search = PUCT(uniform, c_puct=1.0)
    search.search([root], simulations=3)
    # expansion: priors (.5, .5), N(root) = 1.
    # sim 1: scores 0 + 1*.5*sqrt(1)/1 = .5 both -> move 0; leaf A = (0,) gets value 0.
    # sim 2: N = 2: move 0: 0 + .5*sqrt(2)/2 = .354, move 1: .5*sqrt(2)/1 = .707 -> move 1; leaf B.
    # sim 3: N = 3: both .5*sqrt(3)/2 = .433 -> move 0; at A (N = 1) both .5 -> move 0: the
    #   end (0, 0), +1 for player 0: A's edge (player 1 chooses) gets -1, the root's +1.
    assert root.n == 4
    assert root.child_n == [2, 1] and root.child_w == [1.0, 0.0]
    a = root.children[0]
    assert a.n == 2 and a.child_n == [1, 0] and a.child_w == [-1.0, 0.0]
    assert root.children[1].n == 1 and not root.children[1].child_n[0]
    # sim 4 by the formula: N = 4, move 0: 1/2 + .5*2/3 = .833, move 1: 0 + .5*2/2 = .5
    assert search.select(root) == 0


def test_puct_counts_one_network_call_per_simulation_for_all_trees():
    calls = []

    def counting(states):
        calls.append(len(states))
        return uniform(states)

    roots = [PUCTNode(Toy()) for _ in range(5)]
    PUCT(counting, 1.0).search(roots, simulations=2)
    assert calls == [5, 5, 5]  # the roots, then one leaf per tree per simulation


def test_root_noise_is_mixed_in_as_alphazero_does():
    root = PUCTNode(TicTacToeState())
    flat = lambda states: (np.full((len(states), 9), 1 / 9), np.zeros(len(states)))  # noqa: E731
    PUCT(flat, 1.5).search([root], 0, noise=(0.3, 0.25), rng=np.random.default_rng(7))
    noise = np.random.default_rng(7).dirichlet([0.3] * 9)
    assert np.allclose(root.priors, 0.75 / 9 + 0.25 * noise)


def test_policy_from_visits_temperatures():
    counts = np.array([1.0, 3.0, 0.0, 3.0])
    assert np.allclose(policy_from_visits(counts, 1.0), [1 / 7, 3 / 7, 0, 3 / 7])
    assert np.allclose(policy_from_visits(counts, 0.0), [0, 0.5, 0, 0.5])
    assert np.allclose(policy_from_visits(counts, 0.5), np.array([1, 9, 0, 9]) / 19)


def test_puct_takes_a_win_and_blocks_a_loss_with_a_uniform_network():
    flat = lambda states: (np.full((len(states), 9), 1 / 9), np.zeros(len(states)))  # noqa: E731
    win = TicTacToeState().step(0).step(3).step(1).step(4)  # X: 0, 1; O: 3, 4 -> X plays 2
    block = TicTacToeState().step(0).step(4).step(8).step(3)  # O threatens 5
    for state, move in ((win, 2), (block, 5)):
        root = PUCTNode(state)
        PUCT(flat, 1.5).search([root], 400)
        assert root.actions[int(np.argmax(root.child_n))] == move


@pytest.mark.parametrize("game", [TicTacToeState, ConnectFourState])
def test_mirror_follows_the_rules(game):
    """Playing the mirrored moves gives the mirrored board, in any game."""
    mirror = mirror_actions(game)
    rng = np.random.default_rng(0)
    for _ in range(30):
        s, m = game(), game()
        while not s.is_terminal():
            a = int(rng.choice(s.legal_actions()))
            s, m = s.step(a), m.step(int(mirror[a]))
            assert np.array_equal(s.board()[:, ::-1], m.board())


def tiny(env_id="sige/TicTacToe-v0", **kw):
    settings = dict(
        network="mlp",
        hidden=[32],
        simulations=4,
        eval_simulations=4,
        parallel_games=4,
        batch_size=16,
        reference_every=1,
        reference_games=2,
        reference_mcts_simulations=5,
    )
    return AlphaZero(gym.make(env_id), seed=3, **{**settings, **kw})


def test_save_load_goes_on_exactly(tmp_path):
    straight = tiny()
    for _ in range(3):
        straight.iteration()
    resumed = tiny()
    for _ in range(2):
        resumed.iteration()
    resumed.save(tmp_path / "ck")
    resumed = AlphaZero.load(tmp_path / "ck", gym.make("sige/TicTacToe-v0"))
    resumed.iteration()
    assert resumed.num_steps == straight.num_steps and resumed.iterations == 3
    a, b = straight.net.state_dict(), resumed.net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resnet_plays_connect_four_and_logs_reference_scores():
    agent = tiny("sige/ConnectFour-v0", network="resnet", channels=8, blocks=1)
    stats = agent.iteration()
    assert {"eval/score_random", "eval/win_rate_mcts", "losses/policy_loss"} <= set(stats)
    assert 0 <= stats["eval/score_random"] <= 1
    env = agent.env
    env.reset(seed=0)
    assert env.unwrapped.state.legal_mask()[agent.act(None)] == 1


def test_batched_match_alternates_the_first_player():
    firsts = []

    def ours(states):
        firsts.extend(s.num_moves == 0 for s in states)
        return [s.legal_actions()[0] for s in states]

    batched_match(TicTacToeState, ours, lambda s: s.legal_actions()[0], 6)
    assert sum(firsts) == 3  # we opened games 0, 2 and 4 only


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="board games"):
        AlphaZero(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="network"):
        tiny(network="transformer")
    with pytest.raises(ValueError, match="simulations"):
        tiny(simulations=0)


STEPS_GUARD = 30_000  # 20-30 s on one core; the tuned budget is 50,000


@pytest.mark.slow
def test_half_a_minute_of_training_never_loses_tictactoe_to_perfect_play():
    """The learning guard (the evidence, on 5 seeds at the tuned budget, is
    scripts/bench/alphazero_tictactoe.py): against perfect play that answers with every one of
    its optimal moves in turn, as either player, the agent never makes a losing move."""
    from sige_rl import agents

    torch.set_num_threads(1)
    agent = agents.make("alphazero", gym.make("sige/TicTacToe-v0"), seed=0)
    agent.learn(STEPS_GUARD)
    perfect = Minimax()
    judged = [perfect.mistakes(agent, TicTacToeState(), seat) for seat in (0, 1)]
    mistakes = judged[0][0] + judged[1][0]
    assert judged[0][1] + judged[1][1] > 200 and not mistakes, "\n\n".join(map(str, mistakes))


@pytest.mark.parametrize("env_id", ["sige/TicTacToe-v0", "sige/ConnectFour-v0"])
def test_the_network_reads_the_planes_the_env_shows(env_id):
    """The batched encoding equals each state's own ``planes`` for its player to move."""
    agent = tiny(env_id)
    rng = np.random.default_rng(1)
    states, s = [], agent.game_cls()
    while not s.is_terminal():
        states.append(s)
        s = s.step(int(rng.choice(s.legal_actions())))
    expected = np.stack([s.planes(s.current_player()) for s in states])
    assert np.array_equal(agent.encode(states), expected)


def flat_ttt(states):
    """Uniform priors and value 0: what the search proves, the rules alone decide."""
    return np.full((len(states), 9), 1 / 9), np.zeros(len(states))


def test_the_solver_proves_a_forced_win_as_minimax_does():
    state = TicTacToeState().step(0).step(1).step(8).step(7)  # X: 0, 8; O: 1, 7; X forks
    root = PUCTNode(state)
    search = PUCT(flat_ttt, 1.5, win_check=True, solver=True)
    search.search([root], 600)
    perfect = Minimax()
    assert perfect.value(state) == 1 and root.proven == 1.0
    assert root.actions[search.best_move(root)] in perfect.best_actions(state)


def test_the_solver_proves_every_position_it_finishes_as_minimax_does():
    """Whatever the solver marks proven in a searched tree holds under perfect play."""
    perfect, rng = Minimax(), np.random.default_rng(2)
    checked = 0
    for _ in range(20):
        state = TicTacToeState()
        for _ in range(int(rng.integers(0, 4))):
            state = state.step(int(rng.choice(state.legal_actions())))
        root = PUCTNode(state)
        PUCT(flat_ttt, 1.5, win_check=True, solver=True).search([root], 300)
        stack = [root]
        while stack:
            node = stack.pop()
            if node.proven is not None:
                assert node.proven == perfect.value(node.state)
                checked += 1
            stack.extend(ch for ch in node.children if ch is not None)
    assert checked > 1000


TINY_SETS = [
    f"--set={kv}"
    for kv in (
        "network=mlp",
        "hidden=[16]",
        "simulations=4",
        "eval_simulations=4",
        "parallel_games=4",
        "batch_size=16",
        "reference_every=2",
        "reference_games=2",
        "reference_mcts_simulations=5",
    )
]


def job(logdir, *extra):
    from sige_rl.agents.training.train import main

    args = ["--env", "sige/TicTacToe-v0", "--agent", "alphazero", "--seed", "4", "--no-progress"]
    assert main([*args, "--logdir", str(logdir), *TINY_SETS, *extra]) == 0
    (run,) = [p for p in logdir.glob("*/*/*") if not p.is_symlink()]
    return run


def test_the_training_job_logs_scores_and_resumes_exactly(tmp_path):
    """train_agent.py's run folder: the reference scores in TensorBoard, and a run cut after a
    checkpoint and resumed ends with the network of one that was never cut."""
    import shutil

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from sige_rl.supervised import Run
    from sige_rl.supervised.checkpoint import load_tensors

    steps = ["--steps", "240", "--save-every", "60", "--eval-every", "120"]
    straight = job(tmp_path / "straight", *steps)
    events = EventAccumulator(str(straight))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"eval/score_random", "eval/score_mcts", "losses/policy_loss", "losses/value_loss",
            "charts/SPS", "eval/mean_return"} <= tags  # fmt: skip

    cut = job(tmp_path / "cut", *steps)
    for step, ck in Run(cut).checkpoints():
        if step > 120:  # as if killed after the checkpoint at 120 steps
            shutil.rmtree(ck)
    shutil.rmtree(cut / "final")
    from sige_rl.agents.training.train import main

    assert main(["--resume", str(cut), "--no-progress"]) == 0
    a, b = load_tensors(straight / "final")["net"], load_tensors(cut / "final")["net"]
    assert all(torch.equal(a[k], b[k]) for k in a)
