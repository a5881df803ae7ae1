"""Suite-wide settings."""

import torch

# Small networks on a 2-core machine: one intra-op thread is several times faster than two
# competing with the other tests' processes (Stable-Baselines3 advises the same on CPU).
torch.set_num_threads(1)
