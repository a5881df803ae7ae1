"""The DQN benchmark script still runs end to end, on a tiny budget (real runs: BENCHMARKS.md)."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "scripts" / "bench"


def load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dqn_vs_sb3_prints_a_row_per_seed_and_the_verdict(capsys):
    bench = load("dqn_vs_sb3")
    code = bench.main(["--seeds", "2", "--steps", "1500", "--eval-episodes", "2", "--flush-sb3"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line[:4].strip() in ("0", "1")]
    assert [r[0] for r in rows] == ["0", "1"] and all(r[-1].endswith("x") for r in rows)
    assert "solved (mean eval return >= 475): ours " in out
    assert code == (0 if "targets (>= 90% solved, >= 2x steps/s): met" in out else 1)
