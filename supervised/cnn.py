"""Convolutional networks, each a plain ``nn.Module`` built from the shape of one input.

Image networks read float ``(batch, C, H, W)`` and return ``(batch, out_dim)`` features;
``Conv1dNet`` reads ``(batch, C, L)`` signals. Classifier heads are added by
``backbones.make_network``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def flat_size(convs: nn.Module, in_shape: Sequence[int]) -> int:
    """Width of ``convs``' flattened output for one ``in_shape`` input, by a dry run."""
    with torch.no_grad():
        return convs(torch.zeros(1, *in_shape)).shape[1]


def image_shape(name: str, in_shape: Sequence[int], smallest: int = 1) -> tuple[int, int, int]:
    """``in_shape`` as ``(C, H, W)`` ints; ``ValueError`` if it is not 3-D or under ``smallest``
    pixels a side."""
    if len(in_shape) != 3:
        raise ValueError(f"{name} needs an image shape (C, H, W); got {tuple(in_shape)}")
    c, h, w = (int(s) for s in in_shape)
    if min(h, w) < smallest:
        raise ValueError(f"{name} needs images of at least {smallest}x{smallest}, got {h}x{w}")
    return c, h, w


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
    """``x + conv(relu(conv(relu(x))))``, 3x3 convs keeping channels and size (He et al. 2016),
    the pre-activation block of IMPALA's network (no batch norm)."""

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


class MnistCNN(nn.Module):
    """The CNN of the Keras ``mnist_cnn.py`` example (Chollet et al., Keras 2015-2020): conv 32
    3x3, conv 64 3x3 (ReLU), 2x2 max-pool, dropout 0.25, flatten, Linear 128, ReLU, dropout 0.5.
    With a 10-way Linear head on 28x28 it has Keras' published 1,199,882 parameters.

    ``(batch, C, H, W)`` in, ``(batch, features_dim)`` out.

    Args:
        in_shape: ``(C, H, W)``; at least 6x6 with ``padding=0`` (Keras' "valid": 8x8 digits go
            8 -> 6 -> 4 -> pooled 2), 2x2 with ``padding=1`` ("same").
        channels: filters of the two convolutions.
        features_dim: width of the hidden Linear layer, ``out_dim``.
        padding: zero padding of both convolutions.
        dropout: drop probabilities after the pool and after the hidden layer (0 leaves it out).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int] = (32, 64),
        features_dim: int = 128,
        padding: int = 0,
        dropout: Sequence[float] = (0.25, 0.5),
    ) -> None:
        super().__init__()
        c, h, w = image_shape("mnist_cnn", in_shape, smallest=max(2, 6 - 4 * padding))
        c1, c2 = channels
        convs: list[nn.Module] = [
            nn.Conv2d(c, c1, 3, padding=padding),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=padding),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]
        if dropout[0] > 0:
            convs.append(nn.Dropout(dropout[0]))
        self.convs = nn.Sequential(*convs, nn.Flatten())
        fc: list[nn.Module] = [
            nn.Linear(flat_size(self.convs, (c, h, w)), features_dim),
            nn.ReLU(),
        ]
        if dropout[1] > 0:
            fc.append(nn.Dropout(dropout[1]))
        self.fc = nn.Sequential(*fc)
        self.out_dim = features_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x))


class SmallVGG(nn.Module):
    """A small VGG net (Simonyan & Zisserman 2014, "Very Deep Convolutional Networks for
    Large-Scale Image Recognition"): per block ``convs_per_block`` 3x3 same-padded convs, each
    ``[BatchNorm] -> ReLU``, then a 2x2 max-pool; then flatten, Linear, ReLU, [dropout].

    ``(batch, C, H, W)`` in, ``(batch, features_dim)`` out.

    Args:
        in_shape: ``(C, H, W)``, at least ``2 ** len(channels)`` a side (each block halves it).
        channels: filters of each block's convolutions.
        convs_per_block: convolutions per block.
        features_dim: width of the final layer, ``out_dim``.
        batch_norm: BatchNorm after each conv (Ioffe & Szegedy 2015; not in the original VGG);
            the convs then have no bias.
        dropout: drop probability after the final layer (the paper used 0.5 in its FC layers).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int] = (32, 64),
        convs_per_block: int = 2,
        features_dim: int = 128,
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        c, h, w = image_shape("vgg", in_shape, smallest=2 ** len(channels))
        layers: list[nn.Module] = []
        in_channels = c
        for out_channels in channels:
            for _ in range(convs_per_block):
                layers.append(
                    nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=not batch_norm)
                )
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out_channels))
                layers.append(nn.ReLU())
                in_channels = out_channels
            layers.append(nn.MaxPool2d(2))
        self.convs = nn.Sequential(*layers, nn.Flatten())
        fc: list[nn.Module] = [
            nn.Linear(in_channels * (h >> len(channels)) * (w >> len(channels)), features_dim),
            nn.ReLU(),
        ]
        if dropout > 0:
            fc.append(nn.Dropout(dropout))
        self.fc = nn.Sequential(*fc)
        self.out_dim = features_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x))


class BasicBlock(nn.Module):
    """The basic residual block of He et al. 2016, "Deep Residual Learning for Image Recognition":
    ``relu(x + bn(conv(relu(bn(conv(x))))))``, 3x3 convs keeping channels and size."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class ResNet(nn.Module):
    """A ResNet that keeps the spatial size (He et al. 2016, "Deep Residual Learning for Image
    Recognition"): a stem ``conv 3x3 -> BN -> ReLU`` then ``blocks`` ``BasicBlock``s, all with
    ``channels`` filters, as in AlphaZero's residual tower; then features for classification.

    ``tower`` maps ``(batch, C, H, W)`` to ``(batch, channels, H, W)`` (``tower_shape``);
    ``forward`` returns ``(batch, out_dim)``: the global average of the tower's output
    (``out_dim = channels``) when ``features_dim`` is None, else flatten, Linear, ReLU.
    Convolutions start from He et al. 2015's normal init (fan-out, ReLU gain).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: int = 64,
        blocks: int = 4,
        features_dim: int | None = None,
    ) -> None:
        super().__init__()
        c, h, w = image_shape("resnet", in_shape)
        self.tower = nn.Sequential(
            nn.Conv2d(c, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            *(BasicBlock(channels) for _ in range(blocks)),
        )
        self.tower_shape = (channels, h, w)
        if features_dim is None:
            self.fc = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.out_dim = channels
        else:
            self.fc = nn.Sequential(
                nn.Flatten(), nn.Linear(channels * h * w, features_dim), nn.ReLU()
            )
            self.out_dim = features_dim
        for m in self.tower.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.tower(x))


class Conv1dNet(nn.Module):
    """The 1-D CNN of Greydanus 2020, "Scaling down Deep Learning" (MNIST-1D; ``ConvBase`` in the
    mnist1d repository): ``Conv1d -> ReLU`` layers of ``channels`` filters, then flatten.

    ``(batch, C, L)`` in (``(batch, L)`` is read as one channel), ``(batch, out_dim)`` out, with
    ``out_dim`` = channels x the last layer's length. The paper's setup on 40-sample signals:
    kernels 5, 3, 3, stride 2, padding 1, so 40 -> 19 -> 10 -> 5 and ``out_dim`` 125.

    Args:
        in_shape: ``(C, L)`` or ``(L,)``.
        channels: filters of every layer.
        layers: number of conv layers; defaults to ``len(kernel)``, or 3 for an int ``kernel``.
        kernel: kernel size of each layer, or one for all.
        stride, padding: of every layer.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: int = 25,
        layers: int | None = None,
        kernel: int | Sequence[int] = (5, 3, 3),
        stride: int = 2,
        padding: int = 1,
    ) -> None:
        super().__init__()
        if len(in_shape) not in (1, 2):
            raise ValueError(f"cnn1d needs a signal shape (C, L) or (L,); got {tuple(in_shape)}")
        c, length = (1, int(in_shape[0])) if len(in_shape) == 1 else (int(s) for s in in_shape)
        if isinstance(kernel, int):
            kernels = (kernel,) * (3 if layers is None else layers)
        else:
            kernels = tuple(kernel)
        if layers is not None and layers != len(kernels):
            raise ValueError(f"cnn1d got layers={layers} but {len(kernels)} kernel sizes")
        convs: list[nn.Module] = []
        for k in kernels:
            convs += [nn.Conv1d(c, channels, k, stride=stride, padding=padding), nn.ReLU()]
            c, length = channels, (length + 2 * padding - k) // stride + 1
            if length < 1:
                raise ValueError(
                    f"cnn1d: signals of length {in_shape[-1]} vanish under the strides"
                )
        self.convs = nn.Sequential(*convs, nn.Flatten())
        self.out_dim = channels * length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x.unsqueeze(1) if x.dim() == 2 else x)
