#!/usr/bin/env bash
# GPU check of supervised/ (< 6 min on one GPU): the gpu-marked tests (every network forward and
# backward under float16 autocast with a gradient scaler; the fit loop's mixed precision), then
# three tasks trained on the device with mixed precision, each printing its test figure and time.
# Run from the repo root:
#   bash scripts/gpu/supervised.sh              (PYTHON=... to pick the interpreter)
#   DEVICE=cpu EPOCHS=1 bash scripts/gpu/supervised.sh   (the CPU smoke run the suite makes)
set -euo pipefail
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
DEVICE=${DEVICE:-cuda}
LOGDIR=${LOGDIR:-runs}
"$PY" -c "import sige_rl.supervised, sklearn, mnist1d, pytest" 2>/dev/null \
  || "$PY" -m pip install -q -e ".[dev,datasets]"
if [ "$DEVICE" != cpu ]; then
  "$PY" -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'"
  "$PY" -m pytest -q -m gpu -rs tests/supervised/test_modules.py tests/supervised/test_fit.py
fi

for task in digits-cnn mnist1d-gru series-lstm; do
  extra=()
  if [ -n "${EPOCHS:-}" ]; then extra+=(--set "epochs=$EPOCHS"); fi
  if [ "$task" = series-lstm ] && [ -n "${EPOCHS:-}" ]; then extra+=(--set weeks=2); fi
  start=$(date +%s)
  "$PY" scripts/train_supervised.py --task "$task" --device "$DEVICE" --logdir "$LOGDIR" \
    --no-progress "${extra[@]}" | grep -E "^(Test|Run saved)"
  echo "$task on $DEVICE: $(( $(date +%s) - start )) s"
done
