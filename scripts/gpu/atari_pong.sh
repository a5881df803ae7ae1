#!/usr/bin/env bash
# DQN on Pong from pixels in one call of the lent GPU machine (< 9 min in all): Double + dueling
# + 3-step returns, 32 envs on ale-py's C++ AtariVectorEnv, two gradient steps of 256 per vector
# step, TF32 matrix products, a frame-once replay of 300k transitions. Training stops after
# TRAIN_SECONDS (SIGTERM: the run checkpoints and exits cleanly), then the saved agent plays
# EVAL_EPISODES whole games. Log lines print the steps/s and each evaluation as they come.
#   bash scripts/gpu/atari_pong.sh                    (on the GPU machine, from the repo root)
#   DEVICE=cpu NUM_ENVS=2 STEPS=300 LEARNING_STARTS=64 BATCH=8 BUFFER=1000 TRAIN_SECONDS=60 \
#       EVAL_EPISODES=1 TRAIN_EVAL_EPISODES=1 bash scripts/gpu/atari_pong.sh  (a smoke budget)
# AGENT=pqn runs PQN instead (issue 15; the moonshot is Pong >= +18 within the call): 128 envs on
# AtariVectorEnv, its tuned Pong entry (agents/hyperparams/pqn.yaml: 32-step rollouts, 32
# minibatches, 2 epochs, step size 2.5e-4, epsilon to 0.001 over 10% of 10M steps, rewards
# clipped, LayerNorm on the CNN's features); no replay, so BATCH, BUFFER and LEARNING_STARTS do
# not apply. Its smoke budget: AGENT=pqn DEVICE=cpu NUM_ENVS=2 STEPS=128 EVAL_EVERY=128 ...
set -euo pipefail
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
AGENT=${AGENT:-dqn}
DEVICE=${DEVICE:-cuda}
case "$AGENT" in
    dqn) NUM_ENVS=${NUM_ENVS:-32}; STEPS=${STEPS:-3000000} ;;
    pqn) NUM_ENVS=${NUM_ENVS:-128}; STEPS=${STEPS:-10000000} ;;
    *) echo "AGENT must be dqn or pqn, got $AGENT" >&2; exit 2 ;;
esac
# STEPS is the schedules' horizon; the time limit usually ends training first.
TRAIN_SECONDS=${TRAIN_SECONDS:-450}
LEARNING_STARTS=${LEARNING_STARTS:-20000}
BATCH=${BATCH:-256}
BUFFER=${BUFFER:-300000}
EVAL_EVERY=${EVAL_EVERY:-250000}
EVAL_EPISODES=${EVAL_EPISODES:-3}       # games the saved agent plays at the end
TRAIN_EVAL_EPISODES=${TRAIN_EVAL_EPISODES:-2}  # games per evaluation during training
LOGDIR=${LOGDIR:-runs/gpu}

"$PY" - "$DEVICE" <<'PYEOF'
import sys

missing = []
for module in ("torch", "ale_py", "cv2", "sige_rl.envs"):
    try:
        __import__(module)
    except ImportError:
        missing.append(module)
if missing:
    sys.exit(f"missing {', '.join(missing)}: install with pip install -e '.[atari]' first")
import torch

if sys.argv[1] == "cuda" and not torch.cuda.is_available():
    sys.exit("torch sees no CUDA device (DEVICE=cpu runs the script on the CPU)")
print(f"torch {torch.__version__} on {sys.argv[1]}", torch.cuda.get_device_name() if sys.argv[1] == "cuda" else "")
PYEOF

export TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1  # TF32 for the linear layers (cuDNN convs use it already)
if [ "$AGENT" = dqn ]; then
    settings=(--set learning_rate=2.5e-4 --set batch_size="$BATCH" --set buffer_size="$BUFFER"
        --set learning_starts="$LEARNING_STARTS" --set train_freq=1 --set gradient_steps=2
        --set target_update_interval=8000 --set exploration_fraction=0.1
        --set epsilon_final=0.01 --set clip_rewards=true --set double=true --set dueling=true
        --set n_step=3)
else
    settings=()  # the tuned entry
fi
set +e
timeout -s TERM "$TRAIN_SECONDS" "$PY" scripts/train_agent.py \
    --env sige/Pong-v0 --agent "$AGENT" --seed 0 --device "$DEVICE" --no-progress \
    --num-envs "$NUM_ENVS" --steps "$STEPS" --logdir "$LOGDIR" \
    --eval-every "$EVAL_EVERY" --eval-episodes "$TRAIN_EVAL_EPISODES" --save-every "$EVAL_EVERY" \
    "${settings[@]}"
code=$?
set -e
# 0: the budget ran out first; 124: the time limit stopped it (SIGTERM: a clean, checkpointed
# stop; timeout reports 124 whatever the child returns).
if [ "$code" -ne 0 ] && [ "$code" -ne 124 ]; then
    echo "training failed with exit code $code" >&2
    exit "$code"
fi
run=$(ls -td "$LOGDIR"/sige_Pong-v0/"$AGENT"/*/ | head -1)
echo "== evaluations during training ($run/evaluations.csv)"
cat "$run/evaluations.csv"
echo "== the saved agent, $EVAL_EPISODES whole games"
"$PY" scripts/evaluate.py "$run" --episodes "$EVAL_EPISODES"
