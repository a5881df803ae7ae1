"""ObservationScaling: a fixed affine map of each agent's observation (numpy only, so that the
training job can name one without importing Stable-Baselines3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ObservationScaling:
    """The fixed affine map ``(obs - centre) / scale`` applied to every agent's observation
    before the agent id is appended: one value per feature, or one for all. Features past the
    given values' length (an env's own one-hot id, say) pass unchanged."""

    centre: Sequence[float] | float
    scale: Sequence[float] | float

    def arrays(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """``(centre, scale)`` as float64 arrays of ``dim`` features."""
        out = []
        for name, value, fill in (("centre", self.centre, 0.0), ("scale", self.scale, 1.0)):
            v = np.asarray(value, np.float64)
            if v.ndim > 1 or v.size > dim:
                raise ValueError(
                    f"ObservationScaling's {name} has {v.size} values for observations of {dim}"
                )
            full = np.full(dim, float(v) if v.ndim == 0 else fill)
            if v.ndim == 1:
                full[: v.size] = v
            out.append(full)
        if not np.all(np.isfinite(out[0]) & np.isfinite(out[1]) & (out[1] > 0)):
            raise ValueError(
                f"ObservationScaling needs finite centres and finite scales > 0, got {out}"
            )
        return out[0], out[1]
