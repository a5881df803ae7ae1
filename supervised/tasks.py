"""The tasks of ``scripts/train_supervised.py``: each a dataset, a network from
:func:`~sige_rl.supervised.backbones.make_network`, a kind of fit loop and the test figures it
writes to summary.json.

Every task's settings are one dataclass extending :class:`~sige_rl.supervised.fit.FitConfig`
with the model's and the data's own fields, so ``--set`` and ``--config`` reach all of them and
an unknown key is an error listing the valid ones. Classification tasks report
``test_accuracy`` (a fraction) with the confusion matrix and per-class sensitivity and
specificity; the series task reports ``test_mse`` beside the persistence baseline's
``baseline_mse``; the VAE its reconstruction error beside the mean image's; the GAN how
confidently and how evenly a digits classifier recognises its samples.

The series task's data comes from the building env (``sige/BuildingHVAC-v0`` rolled out under
its thermostat). This package knows nothing of RL, so it names that generator
(:data:`SERIES_SOURCE`) and imports it on first use, as the agent registry names its classes
(ARCHITECTURE.md, "Layers").
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sige_rl.supervised import datasets
from sige_rl.supervised.backbones import make_network
from sige_rl.supervised.fit import (
    AutoencoderFit,
    ClassifierFit,
    FitConfig,
    FitLoop,
    GANConfig,
    GANFit,
    Optimizer,
    RegressorFit,
    Schedule,
)
from sige_rl.supervised.tracking import Run
from sige_rl.supervised.transfer import freeze, replace_head, unfreeze

SERIES_SOURCE = "sige_rl.envs.building.dataset"


# -- what a task runs in ------------------------------------------------------------------------
@dataclass
class Context:
    """What the job gives a task: its settings, seed, run folder and stop request.

    :meth:`fit` trains one fit loop in the run folder (or in a phase's folder inside it),
    resuming from its last checkpoint, or loading its final weights when that phase finished
    before an interruption."""

    config: Any
    seed: int
    root: Path
    progress: bool = False
    should_stop: Callable[[], bool] = lambda: False
    run: Run | None = None
    epochs_done: int = 0

    def fit(self, loop: FitLoop, train, val=None, *, phase: str | None = None) -> FitLoop:
        root = self.root if phase is None else self.root / phase
        final = root / "final"
        if final.is_dir():
            loop.load_weights(final)
            return loop
        probe = Run(root)
        latest = probe.latest_checkpoint()
        run = probe if latest is None else Run(root, resume_step=latest[0])
        if latest is not None:
            loop.load_checkpoint(latest[1])
        loop.run, loop.progress, loop.should_stop = run, self.progress, self.should_stop
        if self.progress and phase is not None:
            print(f"{phase}:", flush=True)
        try:
            loop.fit(train, val)
        finally:
            run.close()
        loop.save_weights(final)
        self.epochs_done += loop.epoch
        return loop


@dataclass(frozen=True)
class Task:
    name: str
    dataset: str
    model: str
    metric: str
    """The headline figure in summary.json: ``test_accuracy`` or ``test_mse``."""
    config: type
    run: Callable[[Context], dict[str, Any]]
    loop: type[FitLoop]
    """The kind of training of its main network, whose metrics ``monitor`` may name."""

    def check(self, config: Any) -> None:
        """Settings of the right type that make no sense: ``ValueError``, before any run."""
        self.loop.check(config)
        for name in ("test_fraction", "label_fraction"):
            value = getattr(config, name, None)
            if value is not None and not 0 < value < 1:
                raise ValueError(f"{name} must be in (0, 1), got {value}")
        if getattr(config, "network", None) not in (None, *DIGIT_CNNS):
            raise ValueError(
                f"network must be one of {', '.join(DIGIT_CNNS)}, got {config.network!r}"
            )
        if hasattr(config, "target"):
            columns = importlib.import_module(SERIES_SOURCE).SERIES_COLUMNS
            if config.target not in columns:
                raise ValueError(
                    f"target must be one of {', '.join(columns)}, got {config.target!r}"
                )


DIGIT_CNNS = ("vgg", "mnist_cnn", "resnet")


# -- settings ---------------------------------------------------------------------------------
@dataclass
class DigitsSplit:
    test_fraction: float = 0.2
    """Share of the 1,797 digits held out for the test, stratified by class (seeded by --seed)."""


@dataclass
class DigitsMLPConfig(FitConfig, DigitsSplit):
    epochs: int = 100
    batch_size: int = 32
    hidden: list[int] = field(default_factory=lambda: [256, 128])
    """Widths of the hidden layers."""
    dropout: float = 0.2
    """Dropout after each hidden layer."""
    norm: str | None = None
    """None, layer or batch normalisation after each hidden layer."""
    patience: int = 15
    val_fraction: float = 0.1


@dataclass
class DigitsCNNConfig(FitConfig, DigitsSplit):
    epochs: int = 100
    batch_size: int = 32
    network: str = "vgg"
    """The CNN: vgg (two VGG blocks with batch norm), mnist_cnn or resnet."""
    augmentation: str = "shift=1,rotate=15"
    schedule: Schedule = "cosine"
    patience: int = 0
    val_fraction: float = 0.0


@dataclass
class DigitsTransferConfig(DigitsCNNConfig):
    label_fraction: float = 0.1
    """Share of the training images of digits 5-9 whose labels the new task gets."""
    pretrain_epochs: int = 40
    """Epochs on digits 0-4 with all their labels."""
    head_epochs: int = 100
    """Epochs training the new head while the first ``frozen_layers`` layers stay frozen."""
    head_lr: float = 1e-3
    """Learning rate of the new layers on the frozen ones."""
    frozen_layers: int = 8
    """Layers frozen from the input while the new head trains: 8 is VGG's convolution base (its
    dense layer trains with the head); -1 the whole body (pure feature extraction)."""
    finetune_epochs: int = 100
    """Epochs fine-tuning everything afterwards, at finetune_lr."""
    finetune_lr: float = 5e-4
    """Learning rate of the fine-tuning phase."""
    val_fraction: float = 0.0


@dataclass
class Mnist1DConfig(FitConfig):
    epochs: int = 100
    batch_size: int = 100
    lr: float = 1e-2
    weight_decay: float = 0.0
    schedule: Schedule = "cosine"
    val_fraction: float = 0.1
    monitor: str = "val/accuracy"
    augmentation: str = "shift=3"


@dataclass
class Mnist1DCNNConfig(Mnist1DConfig):
    channels: int = 25
    """Filters of each of the three convolutions (the paper's 25)."""


@dataclass
class Mnist1DGRUConfig(Mnist1DConfig):
    hidden: int = 128
    """Width of the GRU's state."""
    layers: int = 1
    """Stacked GRU layers."""
    lr: float = 3e-3
    clip_grad_norm: float | None = 1.0


@dataclass
class Mnist1DTransformerConfig(Mnist1DConfig):
    d_model: int = 64
    """Width of the encoder."""
    nhead: int = 4
    """Attention heads."""
    layers: int = 2
    """Encoder layers."""
    dropout: float = 0.1
    """Dropout inside the encoder."""
    lr: float = 1e-3
    optimizer: Optimizer = "adamw"
    weight_decay: float = 0.01
    patch: int = 4
    """Consecutive points per token (40 points: 10 tokens of 4)."""


@dataclass
class SeriesConfig(FitConfig):
    weeks: int = 52
    """Weeks of the building's simulated year."""
    lookback: int = 24
    """Past steps each forecast reads."""
    horizon: int = 4
    """Steps ahead forecast."""
    target: str = "load_kw"
    """The column forecast."""
    hidden: int = 64
    """Width of the LSTM's state."""
    epochs: int = 30
    batch_size: int = 128
    patience: int = 8
    schedule: Schedule = "cosine"


@dataclass
class DigitsVAEConfig(FitConfig, DigitsSplit):
    latent_dim: int = 16
    """Size of the latent code."""
    hidden: list[int] = field(default_factory=lambda: [256, 128])
    """Widths of the encoder's hidden layers (the decoder mirrors them)."""
    beta: float = 1.0
    """Weight of the KL term (1: the VAE's evidence lower bound)."""
    epochs: int = 150
    batch_size: int = 64
    patience: int = 20


@dataclass
class DigitsGANConfig(GANConfig, DigitsSplit):
    epochs: int = 150
    batch_size: int = 64
    z_dim: int = 32
    base_channels: int = 64
    """Channels of the generator's last and the discriminator's first convolution."""
    judge_epochs: int = 40
    """Epochs of the digits CNN that judges the samples (trained first, in the same run)."""
    samples: int = 1000
    """Generated images judged at the end."""
    confidence: float = 0.9
    """A sample counts as a recognisable digit when the judge's top probability exceeds this."""


# -- runners ----------------------------------------------------------------------------------
def digits_split(config: Any, seed: int):
    x, y = datasets.load_digits()
    return datasets.stratified_split(x, y, config.test_fraction, seed)


def classifier_results(loop: ClassifierFit, test, n_classes: int) -> dict[str, Any]:
    report = loop.report_metrics(test, n_classes)
    return {
        "test_accuracy": report["accuracy"],
        "test_loss": report["loss"],
        "mean_sensitivity": report["mean_sensitivity"],
        "mean_specificity": report["mean_specificity"],
        "sensitivity": report["sensitivity"],
        "specificity": report["specificity"],
        "confusion_matrix": report["confusion_matrix"],
    }


def cnn_kwargs(config: Any) -> dict[str, Any]:
    return {"mnist_cnn": {"padding": 1}}.get(config.network, {})


def run_digits_mlp(ctx: Context) -> dict[str, Any]:
    c = ctx.config
    x_tr, y_tr, x_te, y_te = digits_split(c, ctx.seed)
    model = make_network("mlp", x_tr.shape[1:], 10, hidden=c.hidden, dropout=c.dropout, norm=c.norm)
    loop = ctx.fit(ClassifierFit(model, c, seed=ctx.seed), (x_tr, y_tr))
    return classifier_results(loop, (x_te, y_te), 10)


def run_digits_cnn(ctx: Context) -> dict[str, Any]:
    c = ctx.config
    x_tr, y_tr, x_te, y_te = digits_split(c, ctx.seed)
    model = make_network(c.network, x_tr.shape[1:], 10, **cnn_kwargs(c))
    loop = ctx.fit(ClassifierFit(model, c, seed=ctx.seed), (x_tr, y_tr))
    return classifier_results(loop, (x_te, y_te), 10)


def run_digits_transfer(ctx: Context) -> dict[str, Any]:
    """Pre-train on digits 0-4, then learn 5-9 from ``label_fraction`` of their labels: a new
    head trained over the frozen first ``frozen_layers`` layers, then everything fine-tuned;
    against the same network trained from scratch on the same labels for as many epochs."""
    c = ctx.config
    x_tr, y_tr, x_te, y_te = digits_split(c, ctx.seed)
    src, src_te = y_tr < 5, y_te < 5
    tgt, tgt_te = ~src, ~src_te
    x_lab, y_lab, _, _ = datasets.stratified_split(
        x_tr[tgt], y_tr[tgt] - 5, 1 - c.label_fraction, ctx.seed
    )
    target_test = (x_te[tgt_te], y_te[tgt_te] - 5)
    shape = x_tr.shape[1:]

    phase = dataclasses.replace
    model = make_network(c.network, shape, 5, **cnn_kwargs(c))
    pre = ctx.fit(
        ClassifierFit(model, phase(c, epochs=c.pretrain_epochs, val_fraction=0.1), seed=ctx.seed),
        (x_tr[src], y_tr[src]),
        phase="pretrain",
    )
    pretrain_acc = pre.report_metrics((x_te[src_te], y_te[src_te]), 5)["accuracy"]

    replace_head(model, 5)
    if c.frozen_layers < 0:
        freeze(model, "body")
    else:
        freeze(model, depth=c.frozen_layers)
    head_cfg = phase(c, epochs=c.head_epochs, lr=c.head_lr, schedule="constant")
    head = ctx.fit(ClassifierFit(model, head_cfg, seed=ctx.seed + 1), (x_lab, y_lab), phase="head")
    head_acc = head.report_metrics(target_test, 5)["accuracy"]
    unfreeze(model, "body")
    fine_cfg = phase(c, epochs=c.finetune_epochs, lr=c.finetune_lr)
    fine = ctx.fit(
        ClassifierFit(model, fine_cfg, seed=ctx.seed + 2), (x_lab, y_lab), phase="finetune"
    )
    results = classifier_results(fine, target_test, 5)

    scratch_model = make_network(c.network, shape, 5, **cnn_kwargs(c))
    scratch_cfg = phase(c, epochs=c.head_epochs + c.finetune_epochs)
    scratch = ctx.fit(
        ClassifierFit(scratch_model, scratch_cfg, seed=ctx.seed + 3),
        (x_lab, y_lab),
        phase="scratch",
    )
    return {
        **results,
        "feature_extraction_accuracy": head_acc,
        "scratch_accuracy": scratch.report_metrics(target_test, 5)["accuracy"],
        "pretrain_accuracy": pretrain_acc,
        "labelled_samples": len(y_lab),
    }


class ChannelsLast(torch.nn.Module):
    """``(B, C, L)`` signals -> ``(B, L / patch, C * patch)`` sequences: the data stays in the
    layout that augmentation shifts along, and a sequence model reads it time-major, one step
    per ``patch`` consecutive points (a Vision Transformer's patches, Dosovitskiy et al. 2021,
    in one dimension)."""

    def __init__(self, patch: int = 1):
        super().__init__()
        self.patch = patch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, length = x.shape
        steps = x.reshape(b, c, length // self.patch, self.patch)
        return steps.permute(0, 2, 1, 3).reshape(b, length // self.patch, c * self.patch)


def run_mnist1d(network: str, sequence: bool = False, **kw_of: str):
    """A classifier of MNIST-1D's signals, ``(N, 1, 40)``; a sequence model reads them as 40
    steps of one feature."""

    def run(ctx: Context) -> dict[str, Any]:
        c = ctx.config
        x_tr, y_tr, x_te, y_te = datasets.load_mnist1d()
        x_tr, x_te = x_tr[:, None, :], x_te[:, None, :]
        kw = {k: getattr(c, v) for k, v in kw_of.items()}
        if sequence:
            patch = getattr(c, "patch", 1)
            if x_tr.shape[2] % patch:
                raise ValueError(f"patch {patch} does not divide the signals' 40 points")
            net = make_network(network, (x_tr.shape[2] // patch, patch), 10, **kw)
            model = torch.nn.Sequential(ChannelsLast(patch), net)
        else:
            model = make_network(network, x_tr.shape[1:], 10, **kw)
        loop = ctx.fit(ClassifierFit(model, c, seed=ctx.seed), (x_tr, y_tr))
        return classifier_results(loop, (x_te, y_te), 10)

    return run


def series_data(config: Any, seed: int):
    """The building's series as forecasting windows, standardised on the training part:
    ``(train, val, test, x_test_raw, scaler_of_target, target_index)``."""
    source = importlib.import_module(SERIES_SOURCE)
    data = source.simulate_series(weeks=config.weeks, seed=seed)
    columns = list(source.SERIES_COLUMNS)
    if config.target not in columns:
        raise ValueError(f"target {config.target!r} is not a series column; allowed: {columns}")
    t = columns.index(config.target)
    series = source.series_matrix(data)
    x, y = datasets.make_windows(series, config.lookback, config.horizon, targets=[t])
    x_tr, y_tr, x_va, y_va, x_te, y_te = datasets.chronological_split(x, y, gap=config.horizon - 1)
    scaler = datasets.Standardizer().fit(x_tr)
    mean, std = float(scaler.mean[t]), float(scaler.std[t])

    def scaled(xs, ys):
        return (
            scaler.transform(xs).astype(np.float32),
            ((ys - mean) / std).reshape(len(ys), -1).astype(np.float32),
        )

    return scaled(x_tr, y_tr), scaled(x_va, y_va), scaled(x_te, y_te), x_te, y_te, (mean, std), t


def run_series_lstm(ctx: Context) -> dict[str, Any]:
    c = ctx.config
    train, val, test, x_te_raw, y_te_raw, (mean, std), t = series_data(c, ctx.seed)
    model = make_network("lstm", train[0].shape[1:], train[1].shape[1], hidden=c.hidden)
    loop = ctx.fit(RegressorFit(model, c, seed=ctx.seed), train, val)
    pred, _ = loop.predict(test)
    pred = pred.reshape(y_te_raw.shape) * std + mean
    base = datasets.persistence_forecast(x_te_raw, [t], c.horizon)
    test_mse = float(np.mean((pred - y_te_raw) ** 2))
    baseline_mse = float(np.mean((base - y_te_raw) ** 2))
    return {
        "test_mse": test_mse,
        "baseline_mse": baseline_mse,
        "test_mae": float(np.mean(np.abs(pred - y_te_raw))),
        "baseline_mae": float(np.mean(np.abs(base - y_te_raw))),
        "mse_ratio": test_mse / baseline_mse,
        "target": c.target,
        "test_windows": len(y_te_raw),
    }


def run_digits_vae(ctx: Context) -> dict[str, Any]:
    c = ctx.config
    x_tr, y_tr, x_te, y_te = digits_split(c, ctx.seed)
    model = make_network("vae", x_tr.shape[1:], latent_dim=c.latent_dim, hidden=c.hidden)
    loop = ctx.fit(AutoencoderFit(model, c, beta=c.beta, seed=ctx.seed), (x_tr,))
    rec, xs = loop.reconstruct((x_te,))
    mean_image = x_tr.mean(0, keepdims=True)
    return {
        "test_mse": float(np.mean((rec - xs) ** 2)),
        "baseline_mse": float(np.mean((mean_image - x_te) ** 2)),
        **{f"test_{k}": v for k, v in loop.evaluate((x_te,)).items() if k != "mse"},
    }


def run_digits_gan(ctx: Context) -> dict[str, Any]:
    """DCGAN on the training digits; a digits CNN, trained first in the same run, judges
    ``samples`` generated images."""
    c = ctx.config
    x_tr, y_tr, x_te, y_te = digits_split(c, ctx.seed)
    judge_cfg = DigitsCNNConfig(
        epochs=c.judge_epochs, test_fraction=c.test_fraction, device=c.device, amp=c.amp
    )
    judge = make_network(judge_cfg.network, x_tr.shape[1:], 10)
    judge_loop = ctx.fit(
        ClassifierFit(judge, judge_cfg, seed=ctx.seed), (x_tr, y_tr), phase="judge"
    )
    judge_acc = judge_loop.report_metrics((x_te, y_te), 10)["accuracy"]

    g = make_network(
        "dcgan_generator", x_tr.shape[1:], z_dim=c.z_dim, base_channels=c.base_channels
    )
    d = make_network("dcgan_discriminator", x_tr.shape[1:], base_channels=c.base_channels)
    gan = ctx.fit(GANFit(g, d, c, seed=ctx.seed), (x_tr * 2 - 1,), phase="gan")
    images = (gan.sample(c.samples, seed=ctx.seed + 1000) + 1) / 2
    probs = judge_loop.predict_proba((images.astype(np.float32), np.zeros(len(images), np.int64)))
    top, label = probs.max(1), probs.argmax(1)
    confident = top > c.confidence
    counts = np.bincount(label[confident], minlength=10)
    return {
        "mean_confidence": float(top.mean()),
        "confident_fraction": float(confident.mean()),
        "classes_covered": int((counts > 0).sum()),
        "smallest_class_share": float(counts.min() / max(confident.sum(), 1)),
        "class_counts": counts.tolist(),
        "judge_test_accuracy": judge_acc,
    }


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "digits-mlp",
            "scikit-learn digits 8x8",
            "MLP 256-128, dropout",
            "test_accuracy",
            DigitsMLPConfig,
            run_digits_mlp,
            ClassifierFit,
        ),
        Task(
            "digits-cnn",
            "scikit-learn digits 8x8",
            "small VGG CNN, shifts and rotations",
            "test_accuracy",
            DigitsCNNConfig,
            run_digits_cnn,
            ClassifierFit,
        ),
        Task(
            "digits-transfer",
            "digits 0-4 -> 5-9 with 10% of the labels",
            "VGG: pre-train, new head on the frozen conv base, fine-tune; vs scratch",
            "test_accuracy",
            DigitsTransferConfig,
            run_digits_transfer,
            ClassifierFit,
        ),
        Task(
            "mnist1d-cnn",
            "MNIST-1D 4,000/1,000 x 40",
            "the paper's 1-D CNN (3 conv)",
            "test_accuracy",
            Mnist1DCNNConfig,
            run_mnist1d("cnn1d", channels="channels"),
            ClassifierFit,
        ),
        Task(
            "mnist1d-gru",
            "MNIST-1D 4,000/1,000 x 40",
            "GRU, many-to-one",
            "test_accuracy",
            Mnist1DGRUConfig,
            run_mnist1d("gru", sequence=True, hidden="hidden", layers="layers"),
            ClassifierFit,
        ),
        Task(
            "mnist1d-transformer",
            "MNIST-1D 4,000/1,000 x 40",
            "Transformer encoder, mean pooling",
            "test_accuracy",
            Mnist1DTransformerConfig,
            run_mnist1d(
                "transformer",
                sequence=True,
                d_model="d_model",
                nhead="nhead",
                layers="layers",
                dropout="dropout",
            ),
            ClassifierFit,
        ),
        Task(
            "series-lstm",
            "sige/BuildingHVAC-v0 under its thermostat, 52 winter weeks",
            "LSTM forecaster vs persistence",
            "test_mse",
            SeriesConfig,
            run_series_lstm,
            RegressorFit,
        ),
        Task(
            "digits-gan",
            "scikit-learn digits 8x8",
            "DCGAN, judged by a digits CNN",
            "confident_fraction",
            DigitsGANConfig,
            run_digits_gan,
            GANFit,
        ),
        Task(
            "digits-vae",
            "scikit-learn digits 8x8",
            "VAE vs the mean image",
            "test_mse",
            DigitsVAEConfig,
            run_digits_vae,
            AutoencoderFit,
        ),
    )
}
