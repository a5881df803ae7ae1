"""The fit loop against hand-computed cases and behaviour that can be watched: early stopping
restores the best epoch, resume equals an uninterrupted run bit for bit, frozen weights stay
bit-identical, the penalties, clipping and schedules do what their formulas say."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from torch import nn

from sige_rl.supervised.backbones import make_network
from sige_rl.supervised.checkpoint import CheckpointError
from sige_rl.supervised.fit import (
    AutoencoderFit,
    ClassifierFit,
    FitConfig,
    GANConfig,
    GANFit,
    Interrupted,
    RegressorFit,
    load_weights,
)
from sige_rl.supervised.tracking import Run
from sige_rl.supervised.transfer import freeze


def blobs(n=300, classes=3, dim=8, seed=0, noise=1.0):
    """Gaussian clusters: an easy classification problem with known structure."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (classes, dim))
    y = rng.integers(0, classes, n)
    x = centres[y] + rng.normal(0, noise, (n, dim))
    return x.astype(np.float32), y.astype(np.int64)


def params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def cpu(**kw):
    return FitConfig(device="cpu", **kw)


def test_classifier_learns_separable_blobs():
    x, y = blobs()
    torch.manual_seed(0)
    model = make_network("mlp", (8,), 3, hidden=[32])
    loop = ClassifierFit(model, cpu(epochs=15, batch_size=32, lr=1e-2), seed=0)
    history = loop.fit((x[:240], y[:240]))
    assert len(history) == 15
    assert history[-1]["val/accuracy"] >= 0.95
    assert loop.report_metrics((x[240:], y[240:]))["accuracy"] >= 0.95


def test_early_stopping_restores_the_best_epoch_on_an_overfit_run(tmp_path):
    # 40 noisy samples, a wide network, a large step: validation loss bottoms out, then climbs
    x, y = blobs(n=140, dim=20, noise=4.0, seed=1)
    torch.manual_seed(0)
    model = make_network("mlp", (20,), 3, hidden=[256, 256])
    config = cpu(epochs=200, batch_size=8, lr=3e-3, patience=8, restore_best=True)
    loop = ClassifierFit(model, config, seed=0, run=Run(tmp_path))
    history = loop.fit((x[:40], y[:40]), (x[40:], y[40:]))
    val = [h["val/loss"] for h in history]
    best = int(np.argmin(val))
    assert loop.stopped_early and len(history) == best + 1 + 8 < 200
    assert val[-1] > val[best]  # it did overfit after the best epoch
    # the weights now in the model are the best epoch's: their validation loss is that epoch's
    assert loop.evaluate((x[40:], y[40:]))["loss"] == pytest.approx(val[best], rel=1e-6)
    _, saved = load_weights(tmp_path / "best")
    for k, v in model.state_dict().items():
        assert torch.equal(saved["model"][k], v)


def test_without_restore_best_the_last_weights_stay():
    x, y = blobs(n=140, dim=20, noise=4.0, seed=1)
    torch.manual_seed(0)
    model = make_network("mlp", (20,), 3, hidden=[256, 256])
    config = cpu(epochs=200, batch_size=8, lr=3e-3, patience=8, restore_best=False)
    loop = ClassifierFit(model, config, seed=0)
    history = loop.fit((x[:40], y[:40]), (x[40:], y[40:]))
    assert loop.evaluate((x[40:], y[40:]))["loss"] == pytest.approx(history[-1]["val/loss"])


def train_with_everything(tmp_path, stop_after_batches=None, resume=False):
    """Dropout, batch norm, augmentation, shuffling, a validation split and a cosine schedule:
    every source of randomness and state that resume has to restore."""
    x, y = blobs(n=200, dim=16, seed=2)
    x = x.reshape(-1, 1, 4, 4)
    torch.manual_seed(0)
    model = make_network("mlp", (1, 4, 4), 3, hidden=[32, 32], dropout=0.3, norm="batch")
    config = cpu(
        epochs=6, batch_size=16, schedule="cosine", augmentation="noise=0.1", val_fraction=0.2
    )
    calls = {"n": 0}

    def should_stop():
        calls["n"] += 1
        return stop_after_batches is not None and calls["n"] > stop_after_batches

    run = Run(tmp_path)
    loop = ClassifierFit(model, config, seed=3, run=run, should_stop=should_stop)
    if resume:
        loop.load_checkpoint(run.latest_checkpoint()[1])
    try:
        loop.fit((x, y))
    except Interrupted:
        return None
    return loop


def test_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path):
    whole = train_with_everything(tmp_path / "whole")
    assert train_with_everything(tmp_path / "cut", stop_after_batches=35) is None  # in epoch 4
    assert [s for s, _ in Run(tmp_path / "cut").checkpoints()] == [2, 3]
    resumed = train_with_everything(tmp_path / "cut", resume=True)
    assert resumed.epoch == whole.epoch == 6
    for k, v in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[k], v), k
    timeless = [
        [{k: v for k, v in h.items() if "time" not in k} for h in r.history]
        for r in (resumed, whole)
    ]
    assert timeless[0] == timeless[1]
    rows = Run(tmp_path / "cut").read_table("epochs")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]


def test_freezing_keeps_frozen_weights_and_batch_norm_statistics_bit_identical():
    x, y = blobs(n=200, dim=16, seed=4)
    torch.manual_seed(0)
    model = make_network("mlp", (16,), 3, hidden=[32, 32], norm="batch")
    frozen = freeze(model, "body")
    assert frozen and all(name.startswith("body") for name in frozen)
    before = params(model)
    ClassifierFit(model, cpu(epochs=3, batch_size=16, lr=1e-2), seed=0).fit((x, y))
    after = params(model)
    for k in before:
        same = torch.equal(before[k], after[k])
        assert same == k.startswith("body"), k  # body (weights and running stats) untouched
    assert not torch.equal(before["head.weight"], after["head.weight"])


def test_l1_and_l2_penalties_equal_the_hand_computed_sums():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 3.0]]))
        model[0].bias.fill_(7.0)  # biases and norm scales are not penalised
    loop = RegressorFit(model, cpu(l1=0.1, l2=0.01))
    # l1 * (1 + 2 + 0.5 + 3) + l2 * (1 + 4 + 0.25 + 9)
    assert loop.penalty().item() == pytest.approx(0.1 * 6.5 + 0.01 * 14.25)


def test_gradient_clipping_limits_the_step_to_the_clip_norm():
    # SGD with lr 1 and no momentum moves the weights by exactly the (clipped) gradient
    model = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        model.weight.zero_()
    x = torch.tensor([[10.0, 0.0, 0.0]])
    y = torch.tensor([[100.0]])  # loss (w.x - y)^2: gradient -2 * 100 * 10 = -2000 on w0
    config = cpu(optimizer="sgd", lr=1.0, momentum=0.0, clip_grad_norm=0.5, epochs=1)
    loop = RegressorFit(model, config)
    loop.train_batch([x, y])
    assert model.weight.detach().numpy() == pytest.approx(np.array([[0.5, 0.0, 0.0]]))


def test_step_schedule_follows_lr_times_gamma_to_the_epoch_over_step():
    x, y = blobs(n=64)
    model = make_network("mlp", (8,), 3, hidden=[8])
    config = cpu(epochs=7, lr=0.1, schedule="step", schedule_step=3, schedule_gamma=0.5)
    history = ClassifierFit(model, config).fit((x, y))
    # the rate logged for epoch e (1-based) is the one it trained with: 0.1 * 0.5^((e-1)//3)
    assert [h["charts/learning_rate"] for h in history] == pytest.approx(
        [0.1 * 0.5 ** ((e - 1) // 3) for e in range(1, 8)]
    )


def test_checkpoints_refuse_corruption_and_other_trainings(tmp_path):
    x, y = blobs(n=64)
    model = make_network("mlp", (8,), 3, hidden=[8])
    ClassifierFit(model, cpu(epochs=1), run=Run(tmp_path)).fit((x, y))
    ckpt = Run(tmp_path).latest_checkpoint()[1]
    other = RegressorFit(make_network("mlp", (8,), 3, hidden=[8]), cpu())
    with pytest.raises(CheckpointError, match="classifier training"):
        other.load_checkpoint(ckpt)
    with pytest.raises(CheckpointError, match="weights only"):
        ClassifierFit(make_network("mlp", (8,), 3, hidden=[8]), cpu()).load_checkpoint(
            tmp_path / "best"
        )
    (ckpt / "tensors.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="corrupted"):
        ClassifierFit(make_network("mlp", (8,), 3, hidden=[8]), cpu()).load_checkpoint(ckpt)
    meta = json.loads((ckpt / "meta.json").read_text())
    meta["format_version"] = 99
    (ckpt / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="format version 99"):
        ClassifierFit(make_network("mlp", (8,), 3, hidden=[8]), cpu()).load_checkpoint(ckpt)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"monitor": "val/f1"}, "allowed: train/loss, train/accuracy, val/loss, val/accuracy"),
        ({"clip_grad_norm": -1.0}, "clip_grad_norm"),
    ],
)
def test_bad_settings_are_refused_with_what_is_allowed(change, message):
    config = dataclasses.replace(cpu(), **change)
    with pytest.raises(ValueError, match=message):
        ClassifierFit(nn.Linear(2, 2), config)


def test_autoencoder_fit_reconstructs_digits_better_than_the_mean_image():
    datasets = pytest.importorskip("sige_rl.supervised.datasets")
    pytest.importorskip("sklearn")
    x, _ = datasets.load_digits()
    torch.manual_seed(0)
    vae = make_network("vae", (1, 8, 8), latent_dim=16, hidden=[256, 128])
    loop = AutoencoderFit(vae, cpu(epochs=40, batch_size=64), seed=0)
    loop.fit((x[:1400],))
    rec, xs = loop.reconstruct((x[1400:],))
    baseline = np.mean((x[:1400].mean(0) - x[1400:]) ** 2)
    assert np.mean((rec - xs) ** 2) < 0.65 * baseline  # 0.52 here; the task's 150 epochs: 0.35


def test_gan_fit_moves_the_generator_onto_a_single_pattern():
    # every real image is one fixed pattern: a generator that learns anything draws it
    pattern = torch.where(
        torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.5, 1.0, -1.0
    )
    real = pattern.expand(512, 1, 8, 8).contiguous()
    torch.manual_seed(0)
    g = make_network("dcgan_generator", (1, 8, 8), z_dim=8, base_channels=16)
    d = make_network("dcgan_discriminator", (1, 8, 8), base_channels=16)
    config = GANConfig(device="cpu", z_dim=8, epochs=20, batch_size=32, lr=1e-3)
    loop = GANFit(g, d, config, seed=0)
    before = np.mean((loop.sample(64) - pattern.numpy()) ** 2)
    history = loop.fit((real,))
    after = np.mean((loop.sample(64) - pattern.numpy()) ** 2)
    assert after < 0.01 * before
    assert set(history[-1]) >= {"train/loss_d", "train/loss_g", "train/d_real", "train/d_fake"}


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_mixed_precision_training_on_cuda_learns_and_scales():
    x, y = blobs()
    model = make_network("mlp", (8,), 3, hidden=[64])
    loop = ClassifierFit(model, FitConfig(device="cuda", amp=True, epochs=10, lr=1e-2), seed=0)
    assert loop.amp and loop.scaler.is_enabled()
    history = loop.fit((x[:240], y[:240]))
    assert history[-1]["val/accuracy"] >= 0.95
