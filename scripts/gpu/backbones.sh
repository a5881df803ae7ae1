#!/usr/bin/env bash
# GPU check of supervised/backbones.py and the network families (< 2 min): the gpu-marked tests
# (every NETWORKS entry forward+backward under fp16 autocast with a GradScaler), then nature_cnn
# forward+backward timing at batch 256, CUDA against CPU. Run from the repo root:
#   bash scripts/gpu/backbones.sh          (PYTHON=... to pick the interpreter)
set -euo pipefail
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
"$PY" -c "import sige_rl.supervised, pytest" 2>/dev/null || "$PY" -m pip install -q -e ".[dev]"
"$PY" -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'"

"$PY" -m pytest -q -m gpu -rs tests/supervised/test_backbones.py tests/supervised/test_modules.py

"$PY" - <<'PYEOF'
import time

import numpy as np
import torch
from gymnasium import spaces

from sige_rl.supervised.backbones import make_backbone

space = spaces.Box(0, 255, (4, 84, 84), np.uint8)
x = torch.randint(0, 256, (256, 4, 84, 84), dtype=torch.uint8)
for device in ("cuda", "cpu"):
    net, xd = make_backbone("nature_cnn", space).to(device), x.to(device)
    times = []
    for i in range(13):  # 3 warm-up steps, then 10 timed
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        net(xd).sum().backward()
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t)
    print(f"nature_cnn fwd+bwd batch 256 on {device}: {1e3 * np.median(times):.1f} ms (median of 10)")
PYEOF
