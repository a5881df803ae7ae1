"""PyTorch building blocks shared by every agent, and the run tracker. Knows nothing of RL."""

from supervised.checkpoint import CheckpointError, atomic_dir, load_state, load_tensors, save_state
from supervised.device import flush_denormals, resolve_device
from supervised.seeding import seed_everything
from supervised.tracking import Run, run_name

__all__ = [
    "CheckpointError",
    "Run",
    "atomic_dir",
    "flush_denormals",
    "load_state",
    "load_tensors",
    "resolve_device",
    "run_name",
    "save_state",
    "seed_everything",
]
