"""PyTorch building blocks shared by every agent, and the run tracker. Knows nothing of RL."""

from sige_rl.supervised.checkpoint import (
    CheckpointError,
    atomic_dir,
    load_state,
    load_tensors,
    save_state,
)
from sige_rl.supervised.device import flush_denormals, resolve_device
from sige_rl.supervised.seeding import GlobalRNGStreams, seed_everything
from sige_rl.supervised.tracking import Run, run_name

__all__ = [
    "CheckpointError",
    "GlobalRNGStreams",
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
