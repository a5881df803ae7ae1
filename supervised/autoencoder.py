"""Fully connected autoencoders for inputs in [0, 1]: a plain one and the variational one of
Kingma & Welling 2014, "Auto-Encoding Variational Bayes". Decoders return logits (apply a
sigmoid for pixel means, or train with ``binary_cross_entropy_with_logits``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sige_rl.supervised.mlp import MLP


def _shape(in_shape: int | Sequence[int]) -> tuple[int, ...]:
    shape = (int(in_shape),) if isinstance(in_shape, int) else tuple(int(s) for s in in_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"an autoencoder needs a sample shape of positive sizes; got {shape}")
    return shape


def _decoder(latent_dim: int, hidden: Sequence[int], shape: tuple[int, ...], act: str):
    body = MLP(latent_dim, tuple(reversed(hidden)), activation=act)
    return nn.Sequential(body, nn.Linear(body.out_dim, math.prod(shape)), nn.Unflatten(1, shape))


class Autoencoder(nn.Module):
    """An MLP autoencoder: ``encode`` ``(batch, *in_shape)`` -> codes ``(batch, latent_dim)``
    through ``hidden`` widths; ``decode`` mirrors it back to logits ``(batch, *in_shape)``;
    ``forward`` = ``decode(encode(x))``."""

    def __init__(
        self,
        in_shape: int | Sequence[int],
        latent_dim: int = 16,
        hidden: Sequence[int] = (256, 128),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.in_shape, self.latent_dim = _shape(in_shape), latent_dim
        body = MLP(math.prod(self.in_shape), hidden, activation=activation)
        self.encoder = nn.Sequential(nn.Flatten(), body, nn.Linear(body.out_dim, latent_dim))
        self.decoder = _decoder(latent_dim, hidden, self.in_shape, activation)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class VAE(nn.Module):
    """A variational autoencoder (Kingma & Welling 2014) with a Gaussian encoder
    ``q(z|x) = N(mu, exp(logvar))``, a N(0, I) prior and a Bernoulli decoder (logits).

    ``encode(x) -> (mu, logvar)``, each ``(batch, latent_dim)``; ``reparameterize`` draws
    ``mu + exp(logvar / 2) * eps``; ``decode(z)`` -> logits ``(batch, *in_shape)``;
    ``forward(x) -> (recon_logits, mu, logvar)``, decoding a sample in training mode and ``mu``
    in eval mode; ``sample(n)`` -> ``n`` pixel means (sigmoid of decoded prior draws).
    Pass a ``torch.Generator`` for reproducible draws (on any device: noise is drawn on the
    generator's device and moved).
    """

    def __init__(
        self,
        in_shape: int | Sequence[int],
        latent_dim: int = 16,
        hidden: Sequence[int] = (256, 128),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.in_shape, self.latent_dim = _shape(in_shape), latent_dim
        body = MLP(math.prod(self.in_shape), hidden, activation=activation)
        self.encoder = nn.Sequential(nn.Flatten(), body)
        self.mu = nn.Linear(body.out_dim, latent_dim)
        self.logvar = nn.Linear(body.out_dim, latent_dim)
        self.decoder = _decoder(latent_dim, hidden, self.in_shape, activation)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def reparameterize(
        self,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        return mu + torch.exp(0.5 * logvar) * _normal(mu.shape, mu, generator)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator) if self.training else mu
        return self.decode(z), mu, logvar

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        ref = next(self.parameters())
        return torch.sigmoid(self.decode(_normal((n, self.latent_dim), ref, generator)))


def _normal(shape, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise of ``shape`` with ``like``'s device and float dtype."""
    dtype = like.dtype if like.is_floating_point() else torch.float32
    if generator is None:
        return torch.randn(shape, device=like.device, dtype=dtype)
    eps = torch.randn(shape, generator=generator, device=generator.device, dtype=dtype)
    return eps.to(like.device)


def vae_loss(
    recon_logits: torch.Tensor,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The negative ELBO per sample (Kingma & Welling 2014, eq. 10; ``beta`` weights the KL as in
    Higgins et al. 2017): ``(recon + beta * kl, recon, kl)``, each averaged over the batch.

    ``recon`` is the Bernoulli negative log-likelihood, BCE-with-logits summed over features;
    ``kl`` is ``KL(N(mu, exp(logvar)) || N(0, I)) = -1/2 sum(1 + logvar - mu^2 - exp(logvar))``.
    ``x`` in [0, 1], shaped like ``recon_logits``.
    """
    bce = F.binary_cross_entropy_with_logits(recon_logits.float(), x.float(), reduction="none")
    recon = bce.reshape(len(x), -1).sum(1).mean()
    mu, logvar = mu.float(), logvar.float()
    kl = (-0.5 * (1 + logvar - mu.square() - logvar.exp())).sum(1).mean()
    return recon + beta * kl, recon, kl
