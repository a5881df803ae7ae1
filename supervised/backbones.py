"""Networks built from shapes, and feature extractors built from observation spaces.

The families live one a file: ``mlp`` (MLP), ``cnn`` (NatureCNN, ImpalaCNN, MinAtarCNN, MnistCNN,
SmallVGG, ResNet, Conv1dNet), ``recurrent`` (SequenceModel), ``transformer`` (TransformerEncoder,
AttentionTextClassifier), ``gan`` (DCGAN) and ``autoencoder`` (Autoencoder, VAE); this module
re-exports them and holds the two factories.

``make_network(name, in_shape, out_dim)`` builds any of ``NETWORKS`` from the shape of one sample:
a feature extractor becomes ``Network(body, head)`` with a Linear head (classifier, regressor),
a generative model is returned as it is.

``make_backbone(name, obs_space)`` is for agents: an input adapter (one-hot, flatten, image
layout and scaling, float cast) followed by a body, so observations go in exactly as the env
returns them, in any dtype, and a float32 ``(batch, out_dim)`` tensor comes out.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sige_rl.supervised.autoencoder import VAE, Autoencoder, vae_loss
from sige_rl.supervised.cnn import (
    BasicBlock,
    Conv1dNet,
    ImpalaCNN,
    MinAtarCNN,
    MnistCNN,
    NatureCNN,
    ResidualBlock,
    ResNet,
    SmallVGG,
    flat_size,
)
from sige_rl.supervised.gan import DCGANDiscriminator, DCGANGenerator, dcgan_init
from sige_rl.supervised.mlp import ACTIVATIONS, MLP, NORMS, make_activation
from sige_rl.supervised.recurrent import SequenceModel
from sige_rl.supervised.transformer import (
    AttentionTextClassifier,
    PositionalEncoding,
    TransformerEncoder,
)

__all__ = [
    "ACTIVATIONS",
    "BACKBONES",
    "GENERATIVE",
    "MLP",
    "NETWORKS",
    "NORMS",
    "VAE",
    "AttentionTextClassifier",
    "Autoencoder",
    "Backbone",
    "BasicBlock",
    "Conv1dNet",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "FlatFloat",
    "ImageInput",
    "ImpalaCNN",
    "MinAtarCNN",
    "MnistCNN",
    "NatureCNN",
    "Network",
    "OneHot",
    "PositionalEncoding",
    "ResNet",
    "ResidualBlock",
    "SequenceInput",
    "SequenceModel",
    "SmallVGG",
    "TransformerEncoder",
    "dcgan_init",
    "flat_size",
    "is_image_space",
    "make_activation",
    "make_backbone",
    "make_network",
    "vae_loss",
    "vector_input",
]

IMAGE_NEEDED = (
    "an image Box of shape (C, H, W) (or (H, W, C), permuted inside), dtype uint8 in [0, 255] "
    "or float already normalised to [0, 1]"
)


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


SEQUENCE_NEEDED = "a 2-D Box of shape (T, F): T steps of F features, read as float"


class SequenceInput(nn.Module):
    """Sequence batch ``(batch, T, F)`` -> float32, for the recurrent and attention bodies."""

    def __init__(self, space: gym.spaces.Space) -> None:
        super().__init__()
        if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 2):
            raise ValueError(f"a sequence model needs {SEQUENCE_NEEDED}; got {space}")
        self.shape = space.shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float()


class Backbone(nn.Sequential):
    """An input adapter followed by a body; ``out_dim`` is the body's."""

    def __init__(self, adapter: nn.Module, body: nn.Module) -> None:
        super().__init__(adapter, body)
        self.out_dim: int = body.out_dim


# --- make_network: any family from the shape of one sample ------------------------------------


class Network(nn.Module):
    """``head(body(x, **kw))``: a feature extractor ``body`` (with ``out_dim``) and ``head``, a
    ``Linear(body.out_dim, out_dim)`` or ``Identity``. Keyword arguments of ``forward``
    (``lengths=``, ``padding_mask=``) go to the body. Transfer learning swaps ``head``."""

    def __init__(self, body: nn.Module, out_dim: int | None = None) -> None:
        super().__init__()
        self.body = body
        self.head: nn.Module = (
            nn.Identity() if out_dim is None else nn.Linear(body.out_dim, out_dim)
        )
        self.out_dim: int = body.out_dim if out_dim is None else out_dim

    def forward(self, x: torch.Tensor, **kw) -> torch.Tensor:
        return self.head(self.body(x, **kw))


def _mlp(in_shape: Sequence[int], **kw) -> nn.Module:
    """An MLP on the flattened sample."""
    return Backbone(nn.Flatten(), MLP(math.prod(in_shape), **kw))


def _lstm(in_shape: Sequence[int], **kw) -> SequenceModel:
    return SequenceModel(in_shape, kind="lstm", **kw)


def _gru(in_shape: Sequence[int], **kw) -> SequenceModel:
    return SequenceModel(in_shape, kind="gru", **kw)


def _text_classifier(
    in_shape: Sequence[int], vocab_size: int | None = None, **kw
) -> AttentionTextClassifier:
    if vocab_size is None:
        raise ValueError("text_classifier needs vocab_size=...")
    kw.setdefault("max_len", in_shape[0])
    return AttentionTextClassifier(vocab_size, **kw)


def _dcgan_generator(in_shape: Sequence[int], z_dim: int = 100, **kw) -> DCGANGenerator:
    return DCGANGenerator(z_dim, in_shape, **kw)


NETWORKS: dict[str, Callable[..., nn.Module]] = {
    "mlp": _mlp,
    "mnist_cnn": MnistCNN,
    "vgg": SmallVGG,
    "resnet": ResNet,
    "nature_cnn": NatureCNN,
    "impala_cnn": ImpalaCNN,
    "minatar_cnn": MinAtarCNN,
    "cnn1d": Conv1dNet,
    "lstm": _lstm,
    "gru": _gru,
    "transformer": TransformerEncoder,
    "text_classifier": _text_classifier,
    "autoencoder": Autoencoder,
    "vae": VAE,
    "dcgan_generator": _dcgan_generator,
    "dcgan_discriminator": DCGANDiscriminator,
}
"""Each ``(in_shape, **kw) -> module``; see ``make_network``."""
GENERATIVE = ("autoencoder", "vae", "dcgan_generator", "dcgan_discriminator")
_IMAGE = ((3,), "an image shape (C, H, W)")
_SEQUENCE = ((2,), "a sequence shape (T, F)")
SHAPES: dict[str, tuple[tuple[int, ...] | None, str]] = {
    "mlp": (None, "any sample shape (flattened)"),
    "mnist_cnn": _IMAGE,
    "vgg": _IMAGE,
    "resnet": _IMAGE,
    "nature_cnn": _IMAGE,
    "impala_cnn": _IMAGE,
    "minatar_cnn": _IMAGE,
    "cnn1d": ((1, 2), "a signal shape (C, L) or (L,)"),
    "lstm": _SEQUENCE,
    "gru": _SEQUENCE,
    "transformer": _SEQUENCE,
    "text_classifier": ((1,), "a token sequence shape (T,), with vocab_size=..."),
    "autoencoder": (None, "any sample shape (flattened)"),
    "vae": (None, "any sample shape (flattened)"),
    "dcgan_generator": ((3,), "the shape (C, H, W) of the images it makes, with z_dim=..."),
    "dcgan_discriminator": _IMAGE,
}
"""Per network: the ranks of ``in_shape`` it accepts (None: any) and what they mean."""


def _check_name(name: str, allowed: Sequence[str], what: str) -> None:
    if name not in allowed:
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown {what} {name!r}; {hint}allowed: {', '.join(allowed)}")


def make_network(
    name: str, in_shape: int | Sequence[int], out_dim: int | None = None, **kw
) -> nn.Module:
    """Build network ``name`` (one of ``NETWORKS``) for samples of shape ``in_shape`` (no batch
    dimension); ``kw`` go to its constructor.

    Feature extractors come as ``Network(body, head)``, ``head`` a ``Linear(body.out_dim,
    out_dim)`` or ``Identity`` when ``out_dim`` is None. The ``GENERATIVE`` ones (autoencoder,
    vae, dcgan_generator, whose ``in_shape`` is the shape of the images it makes, and
    dcgan_discriminator) come as they are, and take no ``out_dim``. ``text_classifier`` reads
    ``(T,)`` token ids and needs ``vocab_size``. ``ValueError`` for an unknown name or an
    ``in_shape`` of the wrong rank, saying what is allowed.
    """
    _check_name(name, tuple(NETWORKS), "network")
    shape = (in_shape,) if isinstance(in_shape, int) else tuple(in_shape)
    ranks, needed = SHAPES[name]
    if (ranks is not None and len(shape) not in ranks) or not all(
        isinstance(s, int | np.integer) and s > 0 for s in shape
    ):
        raise ValueError(f"{name} needs {needed} of positive ints; got in_shape={shape}")
    shape = tuple(int(s) for s in shape)
    if name in GENERATIVE:
        if out_dim is not None:
            raise ValueError(f"{name} is generative and takes no out_dim (got {out_dim})")
        return NETWORKS[name](shape, **kw)
    return Network(NETWORKS[name](shape, **kw), out_dim)


# --- make_backbone: a network reading an observation space ------------------------------------


def vector_input(space: gym.spaces.Space) -> nn.Module:
    """The adapter that turns observations of a non-image space into flat float vectors."""
    if isinstance(space, gym.spaces.Discrete):
        return OneHot(int(space.n), int(space.start))
    if isinstance(space, gym.spaces.Box | gym.spaces.MultiBinary):
        return FlatFloat(gym.spaces.flatdim(space))
    raise ValueError(f"mlp reads Box, Discrete or MultiBinary observations; got {space}")


IMAGE_BODIES = ("nature_cnn", "impala_cnn", "minatar_cnn", "mnist_cnn", "vgg", "resnet")
SEQUENCE_BODIES = ("lstm", "gru", "transformer")
BODIES: dict[str, Callable[..., nn.Module]] = {
    "mlp": MLP,
    **{name: NETWORKS[name] for name in (*IMAGE_BODIES, *SEQUENCE_BODIES)},
}
# The four first backbones and "auto" keep their places; the later families follow.
BACKBONES = (
    "mlp",
    "nature_cnn",
    "impala_cnn",
    "minatar_cnn",
    "auto",
    "mnist_cnn",
    "vgg",
    "resnet",
    *SEQUENCE_BODIES,
)


def make_backbone(name: str, obs_space: gym.spaces.Space, **kw) -> Backbone:
    """Build backbone ``name`` (one of ``BACKBONES``) reading ``obs_space``; ``kw`` go to its body.

    ``mlp`` reads Box, Discrete and MultiBinary spaces; the CNNs (nature_cnn, impala_cnn,
    minatar_cnn, mnist_cnn, vgg, resnet) image Boxes; lstm, gru and transformer 2-D Boxes
    ``(T, F)``, giving many-to-one features. ``"auto"`` is ``nature_cnn`` for image (3-D Box)
    spaces of at least 36x36, ``minatar_cnn`` for smaller images, and ``mlp`` otherwise.
    """
    _check_name(name, BACKBONES, "backbone")
    if name == "auto":
        if not is_image_space(obs_space):
            name = "mlp"
        else:
            name = "nature_cnn" if min(ImageInput(obs_space).shape[1:]) >= 36 else "minatar_cnn"
    if name == "mlp":
        adapter = vector_input(obs_space)
        return Backbone(adapter, MLP(adapter.out_dim, **kw))
    if name in SEQUENCE_BODIES:
        if kw.get("many_to_many") or kw.get("pooling") == "none":
            raise ValueError(f"a backbone returns one feature vector per observation; got {kw}")
        adapter = SequenceInput(obs_space)
    else:
        adapter = ImageInput(obs_space)
    return Backbone(adapter, BODIES[name](adapter.shape, **kw))
