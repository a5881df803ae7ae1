"""``scripts/evaluate.py RUN_DIR``: replay a saved agent, print its returns, maybe write a GIF or
an MP4 of one episode, and, on a grid env with an exact model, the policy maps of the run's
checkpoints. A multi-agent run is replayed on its env through the training adapter, and scored as
in training: the community return and the env's metrics (no GIF or video: such envs render text).

Whatever an output needs (a renderer, imageio-ffmpeg, matplotlib, a model and a grid) is checked
before the evaluation runs, so a missing piece is reported at once, not after it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import yaml

from sige_rl.agents.common import registry
from sige_rl.agents.multiagent import ids as ma_ids
from sige_rl.agents.training.evaluation import (
    evaluate,
    record_episode,
    require_imageio_ffmpeg,
    write_gif,
    write_video,
)
from sige_rl.agents.training.policy_map import (
    policy_map_problem,
    policy_maps_for_run,
    require_matplotlib,
)
from sige_rl.agents.training.run_setup import make_eval_env
from sige_rl.supervised import Run
from sige_rl.supervised.checkpoint import CheckpointError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evaluate.py", description="Replay a trained agent of a run.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by train_agent.py")
    p.add_argument("--episodes", type=int, default=10, metavar="K", help="episodes (default: 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode (default: 0)")
    p.add_argument("--gif", metavar="FILE", help="write the first episode as an animated GIF")
    p.add_argument(
        "--video",
        metavar="FILE",
        help="write the first episode as an MP4 video (H.264; needs imageio-ffmpeg, the video "
        "extra)",
    )
    p.add_argument(
        "--fps", type=int, default=4, help="frames per second of the GIF and the video (default: 4)"
    )
    p.add_argument(
        "--policy-map",
        metavar="FILE",
        help="draw V* and the greedy policy of every checkpoint and of final/ with its exact "
        "values as a PNG (grid envs with an exact model; needs matplotlib, the plots extra)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    if args.episodes < 1:
        parser.error(f"--episodes must be > 0, got {args.episodes}")
    if args.fps < 1:
        parser.error(f"--fps must be > 0, got {args.fps}")
    try:
        options = yaml.safe_load((run_dir / "config.yaml").read_text())["options"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        parser.error(f"{run_dir} is not a run folder (no readable config.yaml)")
    source = Run(run_dir).last_saved()
    if source is None:
        parser.error(f"{run_dir} has neither final/ nor a checkpoint")
    if source.name != "final":
        print(f"{run_dir} did not finish; using its latest checkpoint {source.name}")
    multi_agent = ma_ids.is_multi_agent(options["env"])
    record = [name for name, wanted in (("GIF", args.gif), ("video", args.video)) if wanted]
    if multi_agent and record:
        parser.error(
            f"{options['env']} is a multi-agent env that renders text only (ansi): no "
            f"{' or '.join(record)}; run without --gif and --video"
        )
    if multi_agent and args.policy_map:
        parser.error(f"{options['env']} is a multi-agent env: no policy map; run without it")
    if multi_agent:  # its training adapter and the community's score
        env, evaluate_fn = make_eval_env(options)
    else:
        kwargs = options.get("env_kwargs") or {}
        env = gym.make(options["env"], render_mode="rgb_array" if record else None, **kwargs)
        evaluate_fn = evaluate
    if args.policy_map and (problem := policy_map_problem(env)) is not None:
        parser.error(f"cannot draw a policy map: {problem}; run without --policy-map")
    try:  # the optional packages, before the evaluation
        if args.video:
            require_imageio_ffmpeg()
        if args.policy_map:
            require_matplotlib()
    except ImportError as e:
        print(f"cannot write the requested output: {e}", file=sys.stderr)
        return 1
    if record:  # find out now, not after the whole evaluation, whether frames can be drawn
        try:
            env.reset(seed=args.seed)
            env.render()
        except gym.error.DependencyNotInstalled as e:
            what = " and ".join(record)
            print(f"cannot render {options['env']} for the {what}: {e}", file=sys.stderr)
            return 1
    try:
        agent = registry.load(source, env)
    except CheckpointError as e:
        parser.error(f"cannot load {source}: {e}")
    result = evaluate_fn(agent, env, args.episodes, args.seed, epsilon=agent.eval_epsilon)
    print(f"{options['agent']} on {options['env']} ({source}):")
    capped = f", {result.capped.sum()} cut by the step cap" if result.capped.any() else ""
    what = "mean return (all agents' rewards summed)" if multi_agent else "mean return"
    print(
        f"{what} {result.returns.mean():.4g} +/- {result.returns.std():.3g}, mean length "
        f"{result.lengths.mean():.1f} over {args.episodes} episodes{capped}"
    )
    for name, values in result.metrics.items():
        print(f"mean {name} per episode {np.mean(values):.4g} +/- {np.std(values):.3g}")
    if record:
        frames, total = record_episode(agent, env, args.seed)
        episode = f"one episode ({len(frames)} frames, return {total:.4g})"
        if args.gif:
            write_gif(frames, args.gif, fps=args.fps)
            print(f"GIF of {episode} written to {args.gif}")
        if args.video:
            write_video(frames, args.video, fps=args.fps)
            print(f"video of {episode} written to {args.video}")
    if args.policy_map:
        policy_maps_for_run(run_dir, args.policy_map)
        print(f"policy maps of {run_dir}'s checkpoints written to {args.policy_map}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
