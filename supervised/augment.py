"""Data augmentation of batches in torch, drawn from an explicit ``torch.Generator`` (so that a
training loop can checkpoint the generator's state and replay the same augmentations).

Each augmentation is called as ``aug(x, generator)`` on a batch and returns a new tensor (the
input is never modified): 1-D signals ``(B, C, L)`` or images ``(B, C, H, W)``. The random
numbers are drawn on the generator's device and moved to the batch's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

# make_augmentation's keys, in the order the augmentations are applied
AUGMENTATION_KEYS = ("rotate", "shift", "noise")
_SHAPES = {3: "(B, C, L)", 4: "(B, C, H, W)"}


def _check_batch(x: Tensor, ndims: tuple[int, ...], what: str) -> None:
    if not isinstance(x, Tensor) or x.dim() not in ndims:
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        expected = " or ".join(_SHAPES[d] for d in ndims)
        raise ValueError(f"{what} expects a batch {expected}, got {got}")


def shift(x: Tensor, shifts: Tensor) -> Tensor:
    """Shift each sample by whole pixels with zero fill. ``x`` ``(B, C, L)`` with ``shifts``
    ``(B, 1)``, or ``(B, C, H, W)`` with ``shifts`` ``(B, 2)`` (rows, columns). A positive
    shift moves the content toward higher indices: ``out[..., i] = x[..., i - s]`` (like
    ``torch.roll`` with the wrapped-around part zeroed)."""
    _check_batch(x, (3, 4), "shift")
    n = x.dim() - 2
    if shifts.shape != (x.shape[0], n):
        raise ValueError(f"shifts must be ({x.shape[0]}, {n}) for x {tuple(x.shape)}")
    out = x
    for k in range(n):
        dim = x.dim() - n + k
        size = x.shape[dim]
        s = shifts[:, k].to(device=x.device, dtype=torch.long)
        src = torch.arange(size, device=x.device)[None, :] - s[:, None]  # (B, size)
        valid = (src >= 0) & (src < size)
        view = [x.shape[0]] + [1] * (x.dim() - 1)
        view[dim] = size
        index = src.clamp(0, size - 1).view(view).expand(out.shape)
        mask = valid.view(view)
        out = torch.where(mask, out.gather(dim, index), out.new_zeros(()))
    return out


def rotate(x: Tensor, degrees: Tensor) -> Tensor:
    """Rotate each image ``(B, C, H, W)`` about its centre by ``degrees`` ``(B,)``: a positive
    angle turns it counter-clockwise as displayed with row 0 at the top (like
    ``scipy.ndimage.rotate`` and ``torch.rot90``). Bilinear sampling, zeros outside
    (``affine_grid`` + ``grid_sample``, ``align_corners=False``); non-square images are rotated
    in pixel units."""
    _check_batch(x, (4,), "rotate")
    if not x.is_floating_point():
        raise ValueError(f"rotate needs a floating-point batch, got {x.dtype}")
    b, _, h, w = x.shape
    if degrees.shape != (b,):
        raise ValueError(f"degrees must be ({b},), got {tuple(degrees.shape)}")
    rad = degrees.to(device=x.device, dtype=torch.float64) * (math.pi / 180.0)
    c, s = torch.cos(rad), torch.sin(rad)
    zero = torch.zeros_like(c)
    # The output pixel (x, y) (normalised, y down) samples the input at the inverse rotation.
    theta = torch.stack(
        [torch.stack([c, -s * (h / w), zero], 1), torch.stack([s * (w / h), c, zero], 1)], 1
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _uniform(n: int, generator: torch.Generator) -> Tensor:
    """``n`` float64 draws uniform in [-1, 1) on the generator's device."""
    u = torch.rand(n, generator=generator, device=generator.device, dtype=torch.float64)
    return 2.0 * u - 1.0


class RandomShift:
    """Per-sample integer shifts in ``[-max_shift, max_shift]``, zero fill, along the last dim
    of ``(B, C, L)`` or the last two of ``(B, C, H, W)`` (independently); see :func:`shift`."""

    def __init__(self, max_shift: int):
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
            raise ValueError(f"max_shift must be an integer >= 0, got {max_shift!r}")
        self.max_shift = max_shift

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        _check_batch(x, (3, 4), "RandomShift")
        m = self.max_shift
        shape = (x.shape[0], x.dim() - 2)
        shifts = torch.randint(-m, m + 1, shape, generator=generator, device=generator.device)
        return shift(x, shifts)

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift})"


class RandomRotation:
    """Per-sample rotations of images ``(B, C, H, W)`` by an angle uniform in
    ``[-max_degrees, max_degrees]``; see :func:`rotate`."""

    def __init__(self, max_degrees: float):
        if not (isinstance(max_degrees, (int, float)) and 0 <= max_degrees <= 180):
            raise ValueError(f"max_degrees must be in [0, 180], got {max_degrees!r}")
        self.max_degrees = float(max_degrees)

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        _check_batch(x, (4,), "RandomRotation")
        return rotate(x, self.max_degrees * _uniform(x.shape[0], generator))

    def __repr__(self) -> str:
        return f"RandomRotation(max_degrees={self.max_degrees:g})"


class GaussianNoise:
    """Adds independent normal noise of standard deviation ``std`` to every element."""

    def __init__(self, std: float):
        if not (isinstance(std, (int, float)) and math.isfinite(std) and std >= 0):
            raise ValueError(f"std must be a finite number >= 0, got {std!r}")
        self.std = float(std)

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        if not x.is_floating_point():
            raise ValueError(f"GaussianNoise needs a floating-point batch, got {x.dtype}")
        noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
        return x + self.std * noise.to(x.device)

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std:g})"


class Compose:
    """Applies augmentations in order, each drawing from the same generator."""

    def __init__(self, augmentations: Sequence):
        self.augmentations = list(augmentations)

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        out = x.clone()
        for aug in self.augmentations:
            out = aug(out, generator)
        return out

    def __repr__(self) -> str:
        return f"Compose({self.augmentations!r})"


def make_augmentation(spec: str | None) -> Compose | None:
    """An augmentation from a short text spec, e.g. ``"shift=1,rotate=10,noise=0.05"``:
    ``shift`` (whole pixels, :class:`RandomShift`), ``rotate`` (degrees,
    :class:`RandomRotation`), ``noise`` (standard deviation, :class:`GaussianNoise`). They are
    applied in the order rotate, shift, noise whatever the spec's order; zero values are left
    out. ``None``, an empty spec or only zeros -> ``None`` (no augmentation)."""
    if spec is None or not spec.strip():
        return None
    allowed = ", ".join(AUGMENTATION_KEYS)
    values: dict[str, float] = {}
    for item in spec.split(","):
        key, sep, text = (part.strip() for part in item.partition("="))
        if not sep or not key or not text:
            raise ValueError(
                f"augmentation spec {spec!r}: expected key=value items separated by commas "
                f"(keys: {allowed}), got {item.strip()!r}"
            )
        if key not in AUGMENTATION_KEYS:
            raise ValueError(f"augmentation spec {spec!r}: unknown key {key!r}; allowed: {allowed}")
        if key in values:
            raise ValueError(f"augmentation spec {spec!r}: {key!r} given twice")
        try:
            v = float(text)
        except ValueError:
            raise ValueError(
                f"augmentation spec {spec!r}: {key}={text!r} is not a number"
            ) from None
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"augmentation spec {spec!r}: {key} must be >= 0, got {text}")
        if key == "shift" and not v.is_integer():
            raise ValueError(f"augmentation spec {spec!r}: shift must be whole pixels, got {text}")
        values[key] = v
    augs = []
    if values.get("rotate", 0) > 0:
        augs.append(RandomRotation(values["rotate"]))
    if values.get("shift", 0) > 0:
        augs.append(RandomShift(int(values["shift"])))
    if values.get("noise", 0) > 0:
        augs.append(GaussianNoise(values["noise"]))
    return Compose(augs) if augs else None
