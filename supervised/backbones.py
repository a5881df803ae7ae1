"""Feature extractors built from an observation space: MLP, Nature DQN CNN, IMPALA CNN.

Every backbone is an input adapter (one-hot, flatten, image layout and scaling) followed by a body
(the network proper), so observations go in exactly as the env returns them, in any dtype, and a
float32 ``(batch, out_dim)`` tensor comes out. ``make_backbone`` picks both from the space.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}
NORMS = (None, "layer", "batch")
IMAGE_NEEDED = (
    "an image Box of shape (C, H, W) (or (H, W, C), permuted inside), dtype uint8 in [0, 255] "
    "or float already normalised to [0, 1]"
)


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name; ``ValueError`` listing the allowed names otherwise."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


# --- input adapters: env observations -> float tensors -----------------------------------------


class OneHot(nn.Module):
    """Integer indices of a ``Discrete(n, start)`` space -> one-hot float ``(batch, n)``.

    Lets an MLP read tabular observations (a gridworld's state index) without a lookup table.
    """

    def __init__(self, n: int, start: int = 0) -> None:
        super().__init__()
        self.n, self.start, self.out_dim = n, start, n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.one_hot(x.long().reshape(-1) - self.start, self.n).float()


class FlatFloat(nn.Module):
    """Any ``(batch, *shape)`` tensor -> float32 ``(batch, prod(shape))``."""

    def __init__(self, out_dim: int) -> None:
        super().__init__()
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), -1).float()


class ImageInput(nn.Module):
    """Image batch -> float32 ``(batch, C, H, W)``: channel-last is permuted, uint8 divided by 255.

    Scaling happens here, on the tensor's dtype, so replay buffers can keep uint8 (4x smaller);
    float input is taken as already normalised.
    """

    def __init__(self, space: gym.spaces.Space) -> None:
        super().__init__()
        if not is_image_space(space):
            raise ValueError(f"a CNN needs {IMAGE_NEEDED}; got {space}")
        self.channel_last = space.shape[-1] in (1, 3, 4) and space.shape[0] > 4
        self.shape = tuple(np.roll(space.shape, 1)) if self.channel_last else space.shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channel_last:
            x = x.permute(0, 3, 1, 2)
        return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


def is_image_space(space: gym.spaces.Space) -> bool:
    """A 3-D ``Box``: one image, channel-first or channel-last."""
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 3


# --- bodies ------------------------------------------------------------------------------------


class MLP(nn.Module):
    """Fully connected layers: ``Linear -> [norm] -> activation -> [dropout]`` per hidden size.

    Args:
        in_dim: size of the flat float input.
        hidden: width of each hidden layer; ``out_dim`` is the last one (``in_dim`` if empty).
        activation: one of ``ACTIVATIONS``.
        norm: ``None``, ``"layer"`` (Ba et al. 2016) or ``"batch"`` (Ioffe & Szegedy 2015).
        dropout: drop probability after each activation (Srivastava et al. 2014); off in eval().
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu",
        norm: str | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; allowed: None, 'layer', 'batch'")
        layers: list[nn.Module] = []
        for width in hidden:
            layers.append(nn.Linear(in_dim, width))
            if norm == "layer":
                layers.append(nn.LayerNorm(width))
            elif norm == "batch":
                layers.append(nn.BatchNorm1d(width))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            in_dim = width
        self.net = nn.Sequential(*layers)
        self.out_dim = in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class NatureCNN(nn.Module):
    """The DQN network of Mnih et al. 2015, "Human-level control through deep reinforcement
    learning", Nature 518: conv 32 8x8 s4, conv 64 4x4 s2, conv 64 3x3 s1, Linear, all ReLU.

    Args:
        in_shape: ``(C, H, W)``, at least 36x36 (smaller images vanish under the strides).
        features_dim: width of the final layer, ``out_dim``.
    """

    def __init__(self, in_shape: Sequence[int], features_dim: int = 512) -> None:
        super().__init__()
        c, h, w = in_shape
        if min(h, w) < 36:
            raise ValueError(
                f"nature_cnn needs images of at least 36x36, got {h}x{w}; "
                "use 'impala_cnn' or 'mlp' for small images"
            )
        self.convs = nn.Sequential(
            nn.Conv2d(c, 32, 8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Linear(flat_size(self.convs, in_shape), features_dim), nn.ReLU()
        )
        self.out_dim = features_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x))


class ResidualBlock(nn.Module):
    """``x + conv(relu(conv(relu(x))))``, 3x3 convs keeping channels and size (He et al. 2016)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(F.relu(self.conv0(F.relu(x))))


class ImpalaCNN(nn.Module):
    """The deep network of Espeholt et al. 2018, "IMPALA: Scalable Distributed Deep-RL with
    Importance Weighted Actor-Learner Architectures" (Fig. 3): per stage a 3x3 conv, a 3x3 max-pool
    of stride 2 and two residual blocks; then ReLU, Linear, ReLU.

    Args:
        in_shape: ``(C, H, W)``; any size, each stage halves it (rounding up).
        channels: output channels of each stage.
        features_dim: width of the final layer, ``out_dim``.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int] = (16, 32, 32),
        features_dim: int = 256,
    ) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        in_channels = in_shape[0]
        for out_channels in channels:
            stages += [
                nn.Conv2d(in_channels, out_channels, 3, padding=1),
                nn.MaxPool2d(3, stride=2, padding=1),
                ResidualBlock(out_channels),
                ResidualBlock(out_channels),
            ]
            in_channels = out_channels
        self.convs = nn.Sequential(*stages, nn.ReLU(), nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(flat_size(self.convs, in_shape), features_dim), nn.ReLU()
        )
        self.out_dim = features_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x))


class MinAtarCNN(nn.Module):
    """The network of MinAtar's DQN baseline (Young & Tian 2019,
    https://arxiv.org/abs/1903.03176): conv 16 3x3 s1, then Linear 128, ReLU, for 10x10 grids
    and other small images.

    Args:
        in_shape: ``(C, H, W)``, at least 3x3.
        channels: filters of the convolution.
        features_dim: width of the final layer, ``out_dim``.
    """

    def __init__(self, in_shape: Sequence[int], channels: int = 16, features_dim: int = 128):
        super().__init__()
        c, h, w = in_shape
        if min(h, w) < 3:
            raise ValueError(f"minatar_cnn needs images of at least 3x3, got {h}x{w}")
        self.convs = nn.Sequential(nn.Conv2d(c, channels, 3, stride=1), nn.ReLU(), nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(flat_size(self.convs, in_shape), features_dim), nn.ReLU()
        )
        self.out_dim = features_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x))


def flat_size(convs: nn.Module, in_shape: Sequence[int]) -> int:
    """Width of ``convs``' flattened output for one ``in_shape`` input, by a dry run."""
    with torch.no_grad():
        return convs(torch.zeros(1, *in_shape)).shape[1]


# --- the factory -------------------------------------------------------------------------------


class Backbone(nn.Sequential):
    """An input adapter followed by a body; ``out_dim`` is the body's."""

    def __init__(self, adapter: nn.Module, body: nn.Module) -> None:
        super().__init__(adapter, body)
        self.out_dim: int = body.out_dim


def vector_input(space: gym.spaces.Space) -> nn.Module:
    """The adapter that turns observations of a non-image space into flat float vectors."""
    if isinstance(space, gym.spaces.Discrete):
        return OneHot(int(space.n), int(space.start))
    if isinstance(space, gym.spaces.Box | gym.spaces.MultiBinary):
        return FlatFloat(gym.spaces.flatdim(space))
    raise ValueError(f"mlp reads Box, Discrete or MultiBinary observations; got {space}")


BODIES: dict[str, type[nn.Module]] = {
    "mlp": MLP,
    "nature_cnn": NatureCNN,
    "impala_cnn": ImpalaCNN,
    "minatar_cnn": MinAtarCNN,
}
BACKBONES = (*BODIES, "auto")


def make_backbone(name: str, obs_space: gym.spaces.Space, **kw) -> Backbone:
    """Build backbone ``name`` (one of ``BACKBONES``) reading ``obs_space``; ``kw`` go to its body.

    ``"auto"`` is ``nature_cnn`` for image (3-D Box) spaces of at least 36x36, ``minatar_cnn``
    for smaller images, and ``mlp`` otherwise.
    """
    if name not in BACKBONES:
        close = difflib.get_close_matches(name, BACKBONES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown backbone {name!r}; {hint}allowed: {', '.join(BACKBONES)}")
    if name == "auto":
        if not is_image_space(obs_space):
            name = "mlp"
        else:
            name = "nature_cnn" if min(ImageInput(obs_space).shape[1:]) >= 36 else "minatar_cnn"
    if name == "mlp":
        adapter = vector_input(obs_space)
        return Backbone(adapter, MLP(adapter.out_dim, **kw))
    adapter = ImageInput(obs_space)
    return Backbone(adapter, BODIES[name](adapter.shape, **kw))
