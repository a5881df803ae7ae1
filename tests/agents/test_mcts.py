"""UCT and the MCTS-Solver against hand-made positions and perfect play: it takes a win, blocks
a loss, proves what minimax proves, never loses tic-tac-toe with 1,000 simulations, and its
selection follows UCT's formula on a hand-computed tree."""

import math

import pytest

from sige_rl.agents.search.mcts import LOSS, MCTS, WIN, MCTSConfig, Node, play
from sige_rl.agents.search.minimax import Minimax
from sige_rl.agents.search.protocol import GameState
from sige_rl.envs.board_games.tictactoe import TicTacToeState


def position(*moves):
    s = TicTacToeState()
    for a in moves:
        s = s.step(a)
    return s


def test_states_satisfy_the_search_protocol():
    assert isinstance(TicTacToeState(), GameState)


def test_minimax_knows_tictactoe_is_a_draw_over_5478_positions():
    m = Minimax()
    assert m.value(TicTacToeState()) == 0
    assert len(m.table) == 5478  # every legal position, the empty board included


@pytest.mark.parametrize("solver", [True, False])
def test_takes_an_immediate_win(solver):
    # X: 0, 1; O: 3, 4; X to move: 2 completes the top row
    s = position(0, 3, 1, 4)
    assert MCTS(MCTSConfig(simulations=300, solver=solver), seed=0).search(s) == 2


@pytest.mark.parametrize("solver", [True, False])
def test_blocks_an_immediate_loss(solver):
    # X: 0, 8; O: 4, 3; X to move must block 5 (O threatens the middle row)
    s = position(0, 4, 8, 3)
    assert MCTS(MCTSConfig(simulations=1000, solver=solver), seed=0).search(s) == 5


def test_solver_proves_a_forced_win_and_stops_searching():
    # X: 0, 8; O: 1, 7; X to move: 4 or 6 make two threats at once
    s = position(0, 1, 8, 7)
    m = Minimax()
    assert m.value(s) == 1  # X wins by force
    mcts = MCTS(MCTSConfig(simulations=20_000), seed=0)
    action = mcts.search(s)
    assert mcts.root.proven is not None and mcts.simulations_done < 20_000
    assert mcts.root.children[action].proven == WIN
    assert action in m.best_actions(s)


@pytest.mark.parametrize("mcts_first", [True, False])
def test_uct_with_1000_simulations_never_loses_to_perfect_play(mcts_first):
    for game in range(10):
        mcts = MCTS(MCTSConfig(simulations=1000), seed=game)
        perfect = Minimax(seed=game)
        players = [mcts.search, perfect] if mcts_first else [perfect, mcts.search]
        returns = play(TicTacToeState(), players)
        assert returns[0 if mcts_first else 1] >= 0, game


def test_uct_selection_follows_the_formula_on_a_hand_computed_tree():
    root = Node(TicTacToeState(), None, -1)
    root.n = 10
    a, b = Node(position(0), root, 0), Node(position(4), root, 0)
    root.children = {0: a, 4: b}
    root.untried = []
    a.n, a.w = 6, 4.0  # 0.667 + 1.414 * sqrt(ln 10 / 6) = 1.543
    b.n, b.w = 4, 2.0  # 0.5 + 1.414 * sqrt(ln 10 / 4) = 1.573
    assert 4.0 / 6 + math.sqrt(2) * math.sqrt(math.log(10) / 6) < 0.5 + math.sqrt(2) * math.sqrt(
        math.log(10) / 4
    )
    assert MCTS(MCTSConfig(solver=False, exploration=math.sqrt(2))).select(root) is b
    assert MCTS(MCTSConfig(solver=False, exploration=0.0)).select(root) is a


def test_the_tree_is_reused_after_the_opponents_reply():
    mcts = MCTS(MCTSConfig(simulations=500), seed=0)
    s = TicTacToeState()
    a = mcts.search(s)
    reply = next(iter(mcts.root.children[a].children))
    grandchild = mcts.root.children[a].children[reply]
    visits = grandchild.n
    mcts.search(s.step(a).step(reply))
    assert mcts.root is grandchild and mcts.root.n > visits  # the search went on from it


def test_a_time_budget_stops_the_search():
    mcts = MCTS(MCTSConfig(simulations=0, time_s=0.05), seed=0)
    mcts.search(TicTacToeState())
    assert mcts.simulations_done > 10


def test_the_agent_beats_the_random_opponent_at_connect_four_and_refuses_other_envs(tmp_path):
    import gymnasium as gym

    import sige_rl.envs  # noqa: F401  (registers the ids)
    from sige_rl import agents

    env = gym.make("sige/ConnectFour-v0", agent_plays="alternate")
    agent = agents.make("mcts", env, seed=0, simulations=200)
    wins = 0
    for episode in range(10):
        obs, info = env.reset(seed=episode)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(agent.act(obs))
            done = terminated or truncated
        wins += reward > 0
    assert wins >= 9  # a random player almost never beats 200 simulations a move
    agent.save(tmp_path / "mcts")
    assert agents.load(tmp_path / "mcts", env=env).config.simulations == 200
    with pytest.raises(ValueError, match="needs an env whose unwrapped.state"):
        agents.make("mcts", gym.make("sige/GridWorld-v0"))


class Plain:
    """A tic-tac-toe position with the five protocol methods only (no ``rollout_returns``),
    so that the MCTS takes its generic rollout loop."""

    def __init__(self, state: TicTacToeState):
        self.state = state

    def legal_actions(self):
        return self.state.legal_actions()

    def step(self, action):
        return Plain(self.state.step(action))

    def is_terminal(self):
        return self.state.is_terminal()

    def returns(self):
        return self.state.returns()

    def current_player(self):
        return self.state.current_player()

    def __eq__(self, other):
        return isinstance(other, Plain) and other.state == self.state

    def __hash__(self):
        return hash(self.state)


def test_the_generic_rollout_draws_random_play_and_the_search_still_plays():
    """Without the hook the rollouts step the protocol: from the empty board random play ends
    737/1260 X, 363/1260 O, 160/1260 drawn (exact counts of random tic-tac-toe), within 4.5
    standard errors; and the search on such positions takes a win and blocks a loss."""
    assert not hasattr(Plain(TicTacToeState()), "rollout_returns")
    mcts, n = MCTS(seed=0), 20_000
    counts: dict[tuple, int] = {}
    for _ in range(n):
        outcome = mcts.rollout(Plain(TicTacToeState()))
        counts[outcome] = counts.get(outcome, 0) + 1
    for outcome, p in {
        (1.0, -1.0): 737 / 1260,
        (-1.0, 1.0): 363 / 1260,
        (0.0, 0.0): 160 / 1260,
    }.items():
        assert abs(counts[outcome] / n - p) <= 4.5 * math.sqrt(p * (1 - p) / n)
    assert MCTS(MCTSConfig(simulations=300), seed=0).search(Plain(position(0, 3, 1, 4))) == 2
    assert MCTS(MCTSConfig(simulations=1000), seed=0).search(Plain(position(0, 4, 8, 3))) == 5


def test_the_seed_fixes_the_search():
    """The tree's and the rollouts' draws come from the seed: the same seed grows the same
    tree, another seed (almost surely) another."""

    def visits(seed):
        mcts = MCTS(MCTSConfig(simulations=300), seed=seed)
        mcts.search(TicTacToeState())
        return mcts.visits()

    assert visits(3) == visits(3)
    assert visits(3) != visits(4)


@pytest.mark.parametrize("moves", [(), (4,), (0, 4), (0, 1, 8)])
def test_every_proof_is_minimaxs_and_no_provable_node_is_left_open(moves):
    """After a search, each proven node's value for its mover is minimax's, and each node whose
    moves are all expanded and proven, or that has a reply proven to win, is itself proven (the
    solver only looks above a newly proven node, so this checks that nothing provable is
    skipped)."""
    m = Minimax()
    for seed in range(3):
        mcts = MCTS(MCTSConfig(simulations=3000), seed=seed)
        mcts.search(position(*moves))
        stack, proven = [mcts.root], 0
        while stack:
            node = stack.pop()
            stack.extend(node.children.values())
            if node.proven is not None and node.mover >= 0:
                proven += 1
                assert node.proven == -m.value(node.state)  # value() is the player to move's
            kids = node.children.values()
            if any(ch.proven == WIN for ch in kids):
                assert node.proven == LOSS  # the player to move here has a winning reply
            if kids and not node.untried and all(ch.proven is not None for ch in kids):
                assert node.proven is not None
        assert proven > 0


def test_minimax_judges_a_player_against_every_optimal_reply():
    judge = Minimax()
    perfect_play, met = judge.mistakes(Minimax(seed=3), TicTacToeState(), 0)
    assert perfect_play == [] and met > 10
    found, _ = judge.mistakes(lambda s: s.legal_actions()[0], TicTacToeState(), 1)
    # after a corner opening only the centre holds the draw; the first free cell, 1, loses
    assert position(0) in found
