"""Time to solve CartPole-v1: our PQN and DQN against Stable-Baselines3's DQN and Tianshou's DQN,
side by side in one run, one torch thread, seed by seed.

    python scripts/bench/cartpole_time_to_solve.py [--seeds 10] [--first-seed 0]
        [--sides pqn,dqn,sb3,tianshou] [--interval 2048] [--eval-episodes 20]

Solved (the same for every side): the greedy policy's mean return over ``--eval-episodes`` (20)
evaluation episodes is >= 475. The evaluation is one function here for all sides,
:func:`evaluate`: 20 CartPole-v1 envs reset with the seeds 10_000..10_019 (the same episodes at
every check), all unfinished episodes stepped together, one batch of observations per step
through the side's greedy ``policy(obs_batch) -> actions`` (numpy; no exploration at all). It is
run at a fixed interval of training env steps (``--interval``, 2048): at the first point where
the learner can be paused at or after each multiple of the interval, and once more after
``learn`` returns if its last steps passed a multiple not yet checked (PQN's last rollout). No
check between the last multiple and the end of the budget. The pause points, each after the
training on every transition collected so far:

* pqn: ``Callback.at_safe_point``, before each iteration (32 envs x 64 steps = 2048 steps);
* dqn: ``Callback.at_safe_point``, before each env step;
* sb3: ``BaseCallback._on_rollout_start``, before each rollout of ``train_freq`` (256) steps,
  after the previous rollout's ``train``. SB3's ``_on_step`` comes before that rollout is trained
  on, so checking there would judge SB3 one training round (128 gradient steps) behind; a
  solved check makes the next ``_on_step`` return False, which ends ``learn`` (one env step
  later, not counted: the clock and the step count are taken at the check);
* tianshou: its trainer's ``training_fn``, called before each collection step (10 steps over
  10 envs, then one gradient step); a solved check raises an exception that ends the trainer.

Time to solve: training wall-clock (``time.perf_counter``) summed from the start of each side's
construction (train envs, agent/model, replay buffer: included in the clock, and also shown
alone as "build s") until the evaluation that first passes, the clock paused during every
evaluation. Imports and one-off costs (torch's first calls, Tianshou's numba compilation of its
n-step returns) fall on no seed: every side first runs an untimed warm-up (2048 steps and one
evaluation), which imports its library too. Also reported: the
training env steps at that evaluation. A side that does not solve within its own step budget
is unsolved: infinity for the medians.

The sides and their settings (all on CPU, ``torch.set_num_threads(1)``):

* pqn (ours): ``agents.make("pqn", env, seed=seed)`` with its tuned entry for CartPole-v1
  (agents/hyperparams/pqn.yaml: 32 envs, budget 100k steps, the entry's ``n_timesteps``), on the
  train env that train_agent.py builds for it (``make_train_env``: a sync vector env of 32).
* dqn (ours): ``agents.make("dqn", gym.make("CartPole-v1"), seed=seed)`` with its tuned entry
  (agents/hyperparams/dqn.yaml: Double, dueling, 3-step returns; budget 50k steps).
  Both of ours ``learn`` inside ``flush_denormals()`` (subnormals flushed), as they ship.
* sb3: Stable-Baselines3 DQN with RL Zoo's tuned CartPole-v1 settings (``ZOO`` in
  dqn_vs_sb3.py: rl-baselines3-zoo hyperparams/dqn.yml), ``seed=seed``, ``device="cpu"``;
  budget 50k steps, RL Zoo's ``n_timesteps``.
* tianshou: Tianshou 2.0.1's own CartPole DQN example, examples/discrete/discrete_dqn.py (the
  one whose stop criterion is CartPole-v1's 475): ``Net`` [128, 128, 128], Adam lr 1e-3, gamma
  0.9, 3-step returns, a target copy every 320 updates (Double Q, its default), MSE loss, a
  ``VectorReplayBuffer`` of 20000 over 10 ``DummyVectorEnv`` train envs, batch 64, eps 0.1
  while training (fixed: the example has no ``train_fn``), 10 env steps per collection and 0.1
  gradient steps per env step, 10 epochs x 10000 steps = budget 100k steps. Run by Tianshou's
  own ``OffPolicyTrainer`` (``algorithm.run_training``) with its collector and the algorithm's
  update; only the example's test collector (100 episodes at eps 0.05 after each epoch and when
  training returns reach 475), logger and progress bars are left out: our evaluation replaces
  them, greedy (the policy's ``forward``, an argmax over Q without the exploration noise).
  Seeded as test/discrete/test_dqn.py does: ``np.random.seed``, ``torch.manual_seed`` and
  ``training_envs.seed(seed)``. (test_dqn.py's settings differ: 4 x 128 units, eps annealed by
  a ``train_fn``, 200k steps, and it stops at 195.) Not a dependency of the project:
  ``pip install tianshou==2.0.1`` (its pins would downgrade deepdiff, which pandapower
  needs, and filelock: BENCHMARKS.md installs it without them); left out of a default run
  when absent.

``--run-on`` trains every side to the end of its budget, evaluating at every interval, and
reports besides when each side *held*: the first check from which every later check passed,
the last included (its steps and training seconds; unheld when the last check failed). A first
pass can be a lucky snapshot of a policy that falls back at the next check (PQN's greedy policy
early on, especially): held is the stricter time to solve. Without ``--run-on`` the held
columns only repeat the first pass.

Per seed, in this order, every selected side: whether and when it solved (env steps), its
training seconds to solve (total training seconds when unsolved), build seconds, number of
evaluations, last evaluation's mean return and wall seconds with evaluations. Summary per side:
seeds solved, median steps and median seconds to solve (unsolved as infinity; "unsolved" when
the median is), and pqn's median over the best peer's (dqn, sb3, tianshou). Targets: pqn solves
every seed, its median is <= 15 s, and <= 0.5x the best peer's median. Exit code 0 when the
targets are met (or not applicable: pqn not run), 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from dqn_vs_sb3 import ENV_ID, EVAL_SEED, SOLVED, ZOO

from sige_rl import agents
from sige_rl.agents.common.config import tuned_job_options
from sige_rl.agents.training.run_setup import make_train_env
from sige_rl.supervised.config import parse_sets

SIDES = ("pqn", "dqn", "sb3", "tianshou")
PEERS = ("dqn", "sb3", "tianshou")
SB3_STEPS = 50_000  # RL Zoo's n_timesteps for CartPole-v1 (5e4)
# Tianshou 2.0.1, examples/discrete/discrete_dqn.py.
TIANSHOU = dict(
    lr=1e-3,
    epochs=10,
    epoch_num_steps=10_000,
    batch_size=64,
    num_training_envs=10,
    gamma=0.9,
    n_step=3,
    target_freq=320,
    buffer_size=20_000,
    eps_train=0.1,
    eps_test=0.05,
    collection_step_num_env_steps=10,
    hidden_sizes=[128, 128, 128],
)
WARMUP_STEPS = 2048
TARGET_SECONDS = 15.0
TARGET_RATIO = 0.5

Policy = Callable[[np.ndarray], np.ndarray]


# -- the evaluation shared by every side -----------------------------------------------------------
_EVAL_ENVS: list[gym.Env] = []


def evaluate(policy: Policy, episodes: int = 20, first_seed: int = EVAL_SEED) -> float:
    """The mean return of ``policy`` (a greedy ``obs_batch -> actions``) over ``episodes``
    CartPole-v1 episodes, env ``i`` reset with seed ``first_seed + i``; the unfinished episodes
    are stepped together, their observations passed in one batch."""
    while len(_EVAL_ENVS) < episodes:
        _EVAL_ENVS.append(gym.make(ENV_ID))
    envs = _EVAL_ENVS[:episodes]
    obs = np.stack([env.reset(seed=first_seed + i)[0] for i, env in enumerate(envs)])
    returns = np.zeros(episodes)
    live = np.ones(episodes, dtype=bool)
    while live.any():
        idx = np.flatnonzero(live)
        actions = np.asarray(policy(obs[idx])).reshape(len(idx))
        for i, action in zip(idx, actions, strict=True):
            obs[i], reward, terminated, truncated, _ = envs[i].step(int(action))
            returns[i] += reward
            live[i] = not (terminated or truncated)
    return float(returns.mean())


# -- the training clock and the checks ------------------------------------------------------------
class Clock:
    """A stopwatch: the seconds between ``start`` and ``stop`` calls, summed."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self._since: float | None = None

    @property
    def running(self) -> bool:
        return self._since is not None

    def start(self) -> None:
        if self._since is None:
            self._since = time.perf_counter()

    def stop(self) -> None:
        if self._since is not None:
            self.elapsed += time.perf_counter() - self._since
            self._since = None

    def read(self) -> float:
        return self.elapsed + (0.0 if self._since is None else time.perf_counter() - self._since)


class Check:
    """One side's run on one seed: its training clock, and the evaluations at each multiple of
    ``interval`` training steps (the clock paused during them)."""

    def __init__(self, interval: int, episodes: int, run_on: bool = False) -> None:
        self.interval, self.episodes, self.run_on = interval, episodes, run_on
        self.clock = Clock()
        self.policy: Policy | None = None
        self.build_seconds = math.nan
        self.next_due = interval
        self.evals: list[tuple[int, float, float]] = []  # (steps, mean return, clock seconds)
        self.solved_steps: int | None = None
        self.solved_seconds = math.inf

    @property
    def done(self) -> bool:
        """Whether learning should stop: solved, unless told to run on to the budget's end."""
        return self.solved_steps is not None and not self.run_on

    def held(self) -> tuple[int | None, float]:
        """Steps and clock seconds at the first evaluation from which every later one passed
        too (the last included); ``(None, inf)`` when the last one failed."""
        at = None
        for steps, mean, seconds in reversed(self.evals):
            if mean < SOLVED:
                break
            at = (steps, seconds)
        return at if at is not None else (None, math.inf)

    def built(self, policy: Policy) -> None:
        """The side's learner is constructed; ``policy`` is its greedy batch policy."""
        self.build_seconds = self.clock.read()
        self.policy = policy

    def __call__(self, steps: int) -> bool:
        """At a pause point after ``steps`` training steps: evaluate if a multiple of the interval
        has been reached since the last evaluation. True once solved (stop learning)."""
        if self.done:
            return True
        if steps < self.next_due:
            return False
        running = self.clock.running
        self.clock.stop()
        mean = evaluate(self.policy, self.episodes)
        self.evals.append((steps, mean, self.clock.elapsed))
        self.next_due = (steps // self.interval + 1) * self.interval
        if mean >= SOLVED and self.solved_steps is None:
            self.solved_steps, self.solved_seconds = steps, self.clock.elapsed
        if running and not self.done:
            self.clock.start()
        return self.done


# -- the four sides --------------------------------------------------------------------------------
class _StopWhenSolved(agents.Callback):
    def __init__(self, check: Check) -> None:
        self.check = check

    def at_safe_point(self, agent) -> bool:
        return not self.check(agent.num_steps)


def budget_of(side: str) -> int:
    if side in ("pqn", "dqn"):
        return tuned_job_options(side, ENV_ID)["n_timesteps"]
    if side == "sb3":
        return SB3_STEPS
    return TIANSHOU["epochs"] * TIANSHOU["epoch_num_steps"]


# Settings over the pqn side's tuned ones (--pqn-set): its replay and target-network switches.
PQN_SETTINGS: dict = {}


def train_ours(name: str, seed: int, check: Check, budget: int) -> int:
    n_envs = tuned_job_options(name, ENV_ID).get("n_envs", 1)
    env = make_train_env(ENV_ID, n_envs, agents.agent_class(name))
    agent = agents.make(name, env, seed=seed, **(PQN_SETTINGS if name == "pqn" else {}))
    check.built(lambda obs: agent.act(obs, deterministic=True))
    agent.learn(budget, callback=_StopWhenSolved(check))
    return agent.num_steps


def train_sb3(seed: int, check: Check, budget: int) -> int:
    from stable_baselines3 import DQN as SB3DQN
    from stable_baselines3.common.callbacks import BaseCallback

    class StopWhenSolved(BaseCallback):
        def _on_rollout_start(self) -> None:  # after the previous rollout's train()
            check(self.num_timesteps)

        def _on_step(self) -> bool:
            return not check.done

    model = SB3DQN("MlpPolicy", gym.make(ENV_ID), seed=seed, device="cpu", verbose=0, **ZOO)
    check.built(lambda obs: model.predict(obs, deterministic=True)[0])
    model.learn(budget, callback=StopWhenSolved())
    return model.num_timesteps


class _Solved(Exception):
    pass


def train_tianshou(seed: int, check: Check, budget: int) -> int:
    import tianshou as ts
    from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory
    from tianshou.data import Batch, CollectStats
    from tianshou.trainer import OffPolicyTrainerParams
    from tianshou.utils.net.common import Net
    from tianshou.utils.space_info import SpaceInfo

    s = TIANSHOU
    n_envs = s["num_training_envs"]
    training_envs = ts.env.DummyVectorEnv([lambda: gym.make(ENV_ID) for _ in range(n_envs)])
    np.random.seed(seed)  # noqa: NPY002 (its eps-greedy draws from np.random); as test_dqn.py
    torch.manual_seed(seed)
    training_envs.seed(seed)
    env = gym.make(ENV_ID)
    space_info = SpaceInfo.from_env(env)
    net = Net(
        state_shape=space_info.observation_info.obs_shape,
        action_shape=space_info.action_info.action_shape,
        hidden_sizes=s["hidden_sizes"],
    )
    policy = DiscreteQLearningPolicy(
        model=net,
        action_space=env.action_space,
        eps_training=s["eps_train"],
        eps_inference=s["eps_test"],
    )
    algorithm = ts.algorithm.DQN(
        policy=policy,
        optim=AdamOptimizerFactory(lr=s["lr"]),
        gamma=s["gamma"],
        n_step_return_horizon=s["n_step"],
        target_update_freq=s["target_freq"],
    )
    collector = ts.data.Collector[CollectStats](
        algorithm,
        training_envs,
        ts.data.VectorReplayBuffer(s["buffer_size"], n_envs),
        exploration_noise=True,
    )

    @torch.no_grad()
    def greedy(obs: np.ndarray) -> np.ndarray:
        return policy(Batch(obs=obs, info=Batch())).act  # argmax Q; no exploration noise

    check.built(greedy)

    def training_fn(epoch: int, env_step: int) -> None:  # before each collection step
        if check(env_step):
            raise _Solved

    full = budget == budget_of("tianshou")
    collect = s["collection_step_num_env_steps"]
    params = OffPolicyTrainerParams(
        training_collector=collector,
        max_epochs=s["epochs"] if full else 1,
        epoch_num_steps=s["epoch_num_steps"] if full else budget,
        collection_step_num_env_steps=collect,
        batch_size=s["batch_size"],
        update_step_num_gradient_steps_per_sample=1 / collect,
        training_fn=training_fn,
        verbose=False,
        show_progress=False,
    )
    with contextlib.suppress(_Solved):
        algorithm.run_training(params)
    return collector.collect_step


TRAIN = {
    "pqn": lambda seed, check, budget: train_ours("pqn", seed, check, budget),
    "dqn": lambda seed, check, budget: train_ours("dqn", seed, check, budget),
    "sb3": train_sb3,
    "tianshou": train_tianshou,
}


@dataclass
class Result:
    side: str
    seed: int
    solved_steps: int | None
    seconds: float  # training seconds to solve; inf when unsolved
    train_seconds: float  # training seconds in all
    build_seconds: float
    steps: int  # training steps taken
    evals: list[tuple[int, float, float]]
    wall_seconds: float  # with the evaluations
    held_steps: int | None  # the first evaluation from which all later ones passed (--run-on)
    held_seconds: float


def run(
    side: str,
    seed: int,
    interval: int,
    episodes: int,
    budget: int | None = None,
    run_on: bool = False,
) -> Result:
    check = Check(interval, episodes, run_on)
    wall = time.perf_counter()
    check.clock.start()
    steps = TRAIN[side](seed, check, budget_of(side) if budget is None else budget)
    check.clock.stop()
    check(steps)  # a multiple passed by the last steps of learn
    return Result(
        side,
        seed,
        check.solved_steps,
        check.solved_seconds,
        check.clock.elapsed,
        check.build_seconds,
        steps,
        check.evals,
        time.perf_counter() - wall,
        *check.held(),
    )


def fmt_seconds(x: float) -> str:
    return "unsolved" if math.isinf(x) else f"{x:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument(
        "--sides",
        default=None,
        help="a comma-separated subset of " + ",".join(SIDES) + " (default: all, tianshou "
        "only when installed)",
    )
    p.add_argument("--interval", type=int, default=2048, help="training env steps between checks")
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument(
        "--run-on",
        action="store_true",
        help="train every side to the end of its budget, evaluating at every interval, and "
        "report also when it held: the first check from which every later one passed",
    )
    p.add_argument(
        "--pqn-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a pqn setting over its tuned ones, e.g. replay_rollouts=1 (repeatable)",
    )
    args = p.parse_args(argv)
    PQN_SETTINGS.update(parse_sets(args.pqn_set))
    if args.sides is None and importlib.util.find_spec("tianshou") is None:
        print("tianshou is not installed: that side is left out (BENCHMARKS.md says how to add it)")
        args.sides = ",".join(s for s in SIDES if s != "tianshou")
    sides = [s.strip() for s in (args.sides or ",".join(SIDES)).split(",") if s.strip()]
    unknown = sorted(set(sides) - set(SIDES))
    if unknown or not sides:
        p.error(
            f"--sides: unknown {', '.join(unknown) or '(none)'}; choose from {', '.join(SIDES)}"
        )
    sides = [s for s in SIDES if s in sides]
    if "tianshou" in sides and importlib.util.find_spec("tianshou") is None:
        p.error(
            "tianshou is not installed (pip install tianshou==2.0.1), or leave it out of --sides"
        )
    if args.interval < 1 or args.seeds < 1 or args.eval_episodes < 1:
        p.error("--interval, --seeds and --eval-episodes must be positive")
    torch.set_num_threads(1)

    import stable_baselines3

    versions = f"torch {torch.__version__}, sb3 {stable_baselines3.__version__}, "
    if "tianshou" in sides:
        import tianshou

        versions += f"tianshou {tianshou.__version__}, "
    print(f"date      {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine   {platform.platform()} | {os.cpu_count()} cpus | torch threads 1")
    print(f"command   {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"versions  {versions}gymnasium {gym.__version__}")
    print(
        f"solved    greedy mean return over {args.eval_episodes} episodes >= {SOLVED:g}, checked "
        f"every {args.interval} training steps"
    )
    if PQN_SETTINGS:
        print(f"pqn set   {PQN_SETTINGS}")
    print("budgets   " + ", ".join(f"{s} {budget_of(s)}" for s in sides))

    warm = time.perf_counter()
    for side in sides:  # untimed: one-off costs (first torch calls, numba compilation)
        run(side, args.first_seed, WARMUP_STEPS, args.eval_episodes, budget=WARMUP_STEPS)
    print(f"warm-up   {time.perf_counter() - warm:.1f} s ({WARMUP_STEPS} steps per side)\n")

    print(
        f"{'seed':>4} {'side':9} {'solved at':>9} {'train s':>8} {'build s':>7} {'evals':>5} "
        f"{'last eval':>9} {'wall s':>7} {'held from':>9} {'held s':>8}",
        flush=True,
    )
    results: dict[str, list[Result]] = {s: [] for s in sides}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for side in sides:
            r = run(side, seed, args.interval, args.eval_episodes, run_on=args.run_on)
            results[side].append(r)
            at = "unsolved" if r.solved_steps is None else str(r.solved_steps)
            secs = r.train_seconds if r.solved_steps is None else r.seconds
            held_at = "-" if r.held_steps is None else str(r.held_steps)
            last = f"{r.evals[-1][1]:9.1f}" if r.evals else f"{'-':>9}"
            print(
                f"{seed:4d} {side:9} {at:>9} {secs:8.2f} {r.build_seconds:7.3f} "
                f"{len(r.evals):5d} {last} {r.wall_seconds:7.1f} {held_at:>9} "
                f"{fmt_seconds(r.held_seconds):>8}",
                flush=True,
            )

    n = args.seeds
    medians: dict[str, float] = {}
    held_medians: dict[str, float] = {}
    print(
        f"\n{'side':9} {'solved':>6} {'median steps':>12} {'median s':>9} {'held':>6} "
        f"{'median held s':>13}"
    )
    for side in sides:
        rs = results[side]
        solved = sum(r.solved_steps is not None for r in rs)
        steps = statistics.median(
            math.inf if r.solved_steps is None else r.solved_steps for r in rs
        )
        medians[side] = statistics.median(r.seconds for r in rs)
        steps_text = "unsolved" if math.isinf(steps) else f"{steps:.0f}"
        held = sum(r.held_steps is not None for r in rs)
        held_medians[side] = statistics.median(r.held_seconds for r in rs)
        print(
            f"{side:9} {f'{solved}/{n}':>6} {steps_text:>12} {fmt_seconds(medians[side]):>9} "
            f"{f'{held}/{n}':>6} {fmt_seconds(held_medians[side]):>13}"
        )

    if "pqn" not in sides:
        print("\ntargets   n/a (pqn not run)")
        return 0
    peers = [s for s in PEERS if s in sides]
    pqn = medians["pqn"]
    pqn_solved = sum(r.solved_steps is not None for r in results["pqn"])
    checks = [
        (f"pqn solves {n}/{n}", pqn_solved == n),
        (f"pqn median <= {TARGET_SECONDS:g} s", pqn <= TARGET_SECONDS),
    ]
    if peers:
        best = min(peers, key=lambda s: medians[s])
        peer = medians[best]
        ratio = math.inf if math.isinf(pqn) else pqn / peer  # 0 when no peer solves
        print(f"\npqn median / best peer median ({best}, {fmt_seconds(peer)} s): {ratio:.2f}x")
        checks.append((f"pqn <= {TARGET_RATIO:g}x the best peer", ratio <= TARGET_RATIO))
    else:
        print("\npqn median / best peer median: n/a (no peer run)")
    print("targets   " + "; ".join(f"{what}: {'met' if ok else 'MISSED'}" for what, ok in checks))
    if args.run_on and peers:
        best = min(peers, key=lambda s: held_medians[s])
        held_pqn, peer = held_medians["pqn"], held_medians[best]
        ratio = math.inf if math.isinf(held_pqn) else held_pqn / peer
        held = sum(r.held_steps is not None for r in results["pqn"])
        print(
            f"held      pqn held {held}/{n}; median {fmt_seconds(held_pqn)} s; over the best "
            f"peer's ({best}, {fmt_seconds(peer)} s): {ratio:.2f}x"
        )
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
