#!/usr/bin/env bash
# AlphaZero on Connect Four in one call of the lent GPU machine (< 9 min in all): a 64-filter,
# 5-block residual tower on the GPU, 256 self-play games searched together (a network call
# evaluates a leaf of each), 50 simulations per self-play move. Training stops after
# TRAIN_SECONDS (SIGTERM: the run checkpoints and exits cleanly); then the saved agent plays
# GAMES games against UCT with 1,000 simulations, 100 simulations per move for itself
# (scripts/bench/alphazero_connect_four.py). TensorBoard's eval/score_mcts follows it meanwhile.
#   bash scripts/gpu/alphazero_c4.sh                  (on the GPU machine, from the repo root)
#   DEVICE=cpu STEPS=300 PARALLEL=4 CHANNELS=8 BLOCKS=1 TRAIN_SECONDS=60 GAMES=2 \
#       bash scripts/gpu/alphazero_c4.sh              (a smoke budget)
set -euo pipefail
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-1000000}          # the step-size schedule's horizon; the time limit ends it first
TRAIN_SECONDS=${TRAIN_SECONDS:-390}
PARALLEL=${PARALLEL:-256}
CHANNELS=${CHANNELS:-64}
BLOCKS=${BLOCKS:-5}
GAMES=${GAMES:-200}
LOGDIR=${LOGDIR:-runs/gpu}

"$PY" - "$DEVICE" <<'PYEOF'
import sys

import torch

import sige_rl.envs  # noqa: F401

if sys.argv[1] == "cuda" and not torch.cuda.is_available():
    sys.exit("torch sees no CUDA device (DEVICE=cpu runs the script on the CPU)")
print(f"torch {torch.__version__} on {sys.argv[1]}", torch.cuda.get_device_name() if sys.argv[1] == "cuda" else "")
PYEOF

set +e
timeout -s TERM "$TRAIN_SECONDS" "$PY" scripts/train_agent.py \
    --env sige/ConnectFour-v0 --agent alphazero --seed 0 --device "$DEVICE" --no-progress \
    --steps "$STEPS" --logdir "$LOGDIR" --eval-every "$STEPS" --save-every 20000 \
    --set network=resnet --set channels="$CHANNELS" --set blocks="$BLOCKS" \
    --set parallel_games="$PARALLEL" --set batch_size=512 --set reference_every=0
code=$?
set -e
# 0: the budget ran out first; 124: the time limit stopped it (a clean, checkpointed stop).
if [ "$code" -ne 0 ] && [ "$code" -ne 124 ]; then
    echo "training failed with exit code $code" >&2
    exit "$code"
fi
run=$(ls -td "$LOGDIR"/sige_ConnectFour-v0/alphazero/*/ | head -1)
echo "== $run against UCT with 1,000 simulations"
"$PY" scripts/bench/alphazero_connect_four.py "$run" --games "$GAMES"
