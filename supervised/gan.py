"""DCGAN generator and discriminator (Radford, Metz & Chintala 2015, "Unsupervised
Representation Learning with Deep Convolutional Generative Adversarial Networks").

Following the paper's guidelines: strided convolutions and no pooling; fractionally-strided
(transposed) convolutions in G; BatchNorm everywhere except G's output layer and D's input layer;
ReLU in G with a Tanh output (images scaled to [-1, 1]); LeakyReLU(0.2) in D; no fully connected
hidden layers, only G's projection of z and D's single output; weights from N(0, 0.02).
Each stride-2 stage (4x4 kernels, padding 1) doubles or halves the image side.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sige_rl.supervised.cnn import image_shape


def dcgan_init(module: nn.Module) -> None:
    """The paper's init, for ``module.apply``: conv and linear weights N(0, 0.02), BatchNorm
    weights N(1, 0.02), biases 0."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def dcgan_stages(h: int, w: int) -> int:
    """Stride-2 stages for an ``h x w`` image: the most that leave a start size of at least 4 a
    side (the paper's 64 -> 4 takes 4), or of at least 2 when that gives fewer than 2 stages
    (8x8 digits: 8 -> 4 -> 2). ``ValueError`` if ``h`` or ``w`` is odd."""
    for smallest in (4, 2):
        k = 0
        while h % 2 ** (k + 1) == 0 and w % 2 ** (k + 1) == 0 and min(h, w) >> (k + 1) >= smallest:
            k += 1
        if k >= 2:
            return k
    if k == 0:
        raise ValueError(f"dcgan needs an even image side to halve, got {h}x{w}")
    return k


def _shape_and_stages(
    name: str, shape: Sequence[int], stages: int | None
) -> tuple[int, int, int, int]:
    """``(C, H, W)`` and the number of stride-2 stages (given, or :func:`dcgan_stages`), which
    must divide both sides."""
    c, h, w = image_shape(name, shape, smallest=2)
    k = stages or dcgan_stages(h, w)
    if h % 2**k or w % 2**k:
        raise ValueError(f"{k} stages need sides divisible by {2**k}, got {h}x{w}")
    return c, h, w, k


class DCGANGenerator(nn.Module):
    """DCGAN's G: ``z`` ``(batch, z_dim)`` -> images ``(batch, *out_shape)`` in [-1, 1].

    ``Linear(z_dim, C0 * h0 * w0)`` reshaped to ``(C0, h0, w0)``, BN, ReLU; then ``stages``
    transposed convs (4x4, stride 2) halving the channels, ``BN -> ReLU`` after all but the last,
    which makes ``C`` channels and ends in Tanh. ``C0 = base_channels * 2 ** (stages - 1)``.

    Args:
        z_dim: size of the noise vector.
        out_shape: ``(C, H, W)`` of the images; ``H`` and ``W`` even (8, 28, 32, 64 ...).
        base_channels: channels before the output layer (the paper's 64x64 net: 128).
        stages: stride-2 stages; default ``dcgan_stages(H, W)``.
    """

    def __init__(
        self,
        z_dim: int,
        out_shape: Sequence[int],
        base_channels: int = 64,
        stages: int | None = None,
    ) -> None:
        super().__init__()
        c, h, w, k = _shape_and_stages("dcgan_generator", out_shape, stages)
        self.z_dim, self.out_shape = z_dim, (c, h, w)
        width = base_channels * 2 ** (k - 1)
        layers: list[nn.Module] = [
            nn.Linear(z_dim, width * (h >> k) * (w >> k), bias=False),
            nn.Unflatten(1, (width, h >> k, w >> k)),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        ]
        for i in range(k - 1):
            layers += [
                nn.ConvTranspose2d(width >> i, width >> (i + 1), 4, 2, 1, bias=False),
                nn.BatchNorm2d(width >> (i + 1)),
                nn.ReLU(),
            ]
        layers += [nn.ConvTranspose2d(base_channels, c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(len(z), -1))


class DCGANDiscriminator(nn.Module):
    """DCGAN's D: images ``(batch, C, H, W)`` -> real-vs-fake logits ``(batch,)`` (no sigmoid: train
    with ``BCEWithLogitsLoss``).

    ``stages`` strided convs (4x4, stride 2) doubling the channels from ``base_channels``, each
    ``[BN] -> LeakyReLU(0.2)`` (no BN after the first), then flatten and one ``Linear(., 1)``.

    Args:
        in_shape: ``(C, H, W)``; ``H`` and ``W`` even.
        base_channels: channels of the first conv.
        stages: stride-2 stages; default ``dcgan_stages(H, W)``, mirroring the generator.
    """

    def __init__(
        self, in_shape: Sequence[int], base_channels: int = 64, stages: int | None = None
    ) -> None:
        super().__init__()
        c, h, w, k = _shape_and_stages("dcgan_discriminator", in_shape, stages)
        layers: list[nn.Module] = [nn.Conv2d(c, base_channels, 4, 2, 1), nn.LeakyReLU(0.2)]
        for i in range(k - 1):
            layers += [
                nn.Conv2d(base_channels << i, base_channels << (i + 1), 4, 2, 1, bias=False),
                nn.BatchNorm2d(base_channels << (i + 1)),
                nn.LeakyReLU(0.2),
            ]
        width = base_channels << (k - 1)
        layers += [nn.Flatten(), nn.Linear(width * (h >> k) * (w >> k), 1)]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
