"""The fit loop: Keras' ``model.fit`` on PyTorch, with the run folder of the training job.

One epoch loop (:class:`FitLoop`) does what every kind of training shares: batches from
``torch.utils.data``, a validation split or an explicit validation set, L1 / L2 penalties,
gradient clipping, a ``torch.optim.lr_scheduler`` schedule, mixed precision on CUDA
(``torch.amp``), early stopping that can restore the best weights, TensorBoard and an
``epochs.csv`` table through :class:`~sige_rl.supervised.tracking.Run`, a progress bar, and
atomic checkpoints from which a run resumes bit for bit on CPU. Its subclasses say what one batch
is: :class:`ClassifierFit` (cross-entropy), :class:`RegressorFit` (mean squared error),
:class:`AutoencoderFit` (reconstruction, plus the KL term for a VAE) and :class:`GANFit` (the
alternating discriminator and generator steps of DCGAN, Radford et al. 2015).

Randomness: shuffling, the validation split and augmentation draw from generators of the loop's
own, seeded by ``seed``; dropout and a VAE's sampling draw from a private torch stream
(:class:`~sige_rl.supervised.seeding.GlobalRNGStreams`). All of them are saved in checkpoints.
The model's initial weights are the caller's (build it after seeding).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, TensorDataset

from sige_rl.supervised import metrics
from sige_rl.supervised.augment import make_augmentation
from sige_rl.supervised.autoencoder import vae_loss
from sige_rl.supervised.checkpoint import CheckpointError, load_state, load_tensors, save_state
from sige_rl.supervised.device import resolve_device
from sige_rl.supervised.seeding import GlobalRNGStreams
from sige_rl.supervised.tracking import Run
from sige_rl.supervised.transfer import train_mode

FORMAT = "sige-fit"
FORMAT_VERSION = 1
KEEP_CHECKPOINTS = 2
SCHEDULES = ("constant", "step", "exponential", "cosine", "plateau", "onecycle")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
#: Types of the ``optimizer`` and ``schedule`` settings, for configs that change their defaults.
Optimizer = Literal["adam", "adamw", "sgd", "rmsprop"]
Schedule = Literal["constant", "step", "exponential", "cosine", "plateau", "onecycle"]


@dataclass
class FitConfig:
    """How to train: the optimizer, the regularisers, the schedule, early stopping."""

    epochs: int = 20
    """Passes over the training set."""
    batch_size: int = 64
    """Samples per gradient step."""
    optimizer: Optimizer = "adam"
    """The torch.optim optimizer."""
    lr: float = 1e-3
    """Learning rate (the peak of a onecycle schedule)."""
    beta1: float = 0.9
    """Adam's first-moment decay (DCGAN uses 0.5)."""
    momentum: float = 0.9
    """Momentum of SGD and RMSprop."""
    weight_decay: float = 0.0
    """The optimizer's weight decay (decoupled for adamw)."""
    l1: float = 0.0
    """L1 penalty on the weights (not biases or norm scales), added to the loss."""
    l2: float = 0.0
    """L2 penalty on the weights, added to the loss (Keras' kernel_regularizer)."""
    clip_grad_norm: float | None = None
    """Clip the gradients' global norm to this; None: no clipping."""
    schedule: Schedule = "constant"
    """Learning-rate schedule: StepLR, ExponentialLR, CosineAnnealingLR over the epochs,
    ReduceLROnPlateau on ``monitor``, or OneCycleLR (stepped every batch)."""
    schedule_step: int = 10
    """Epochs between StepLR's decays; ReduceLROnPlateau's patience."""
    schedule_gamma: float = 0.1
    """Decay factor of step, exponential and plateau schedules."""
    val_fraction: float = 0.1
    """Share of the training set held out for validation when no validation set is given."""
    monitor: str = "val/loss"
    """The epoch metric that early stopping and the best checkpoint follow; accuracy,
    sensitivity and specificity are maximised, everything else minimised."""
    patience: int = 0
    """Epochs without improvement before stopping; 0: never stop early."""
    min_delta: float = 0.0
    """Smallest change of ``monitor`` that counts as an improvement."""
    restore_best: bool = True
    """At the end, put back the weights of the best epoch (when there is a validation set)."""
    augmentation: str = ""
    """Training-time augmentation, e.g. ``shift=1,rotate=10,noise=0.05`` (empty: none)."""
    amp: bool = True
    """Mixed precision (float16 autocast and a gradient scaler) when training on CUDA."""
    device: str = "auto"
    """auto | cpu | cuda."""


class Interrupted(Exception):
    """``should_stop`` asked the loop to stop; the last checkpoint is where it resumes."""


class FitLoop:
    """The epoch loop shared by every kind of training.

    Args:
        modules: the networks, by name; they are moved to the config's device.
        config: a :class:`FitConfig` (or a dataclass extending it).
        seed: seeds shuffling, the validation split, augmentation and dropout.
        run: where epochs are logged and checkpoints written; None: nowhere.
        progress: show a tqdm bar; otherwise print a line per epoch (when ``run`` is given).
        should_stop: polled every batch; True stops at once (:class:`Interrupted`), so a stop
            signal leaves the last epoch's checkpoint to resume from.

    Subclasses implement :meth:`loss` (one batch's loss and logs) and :meth:`evaluate`.
    """

    kind: ClassVar[str] = "base"
    #: metrics that improve upwards (by the last part of their name); the rest improve downwards
    maximise: ClassVar[tuple[str, ...]] = ("accuracy", "sensitivity", "specificity")
    #: whether a share of the training set is held out when no validation set is given
    has_validation: ClassVar[bool] = True
    #: the metrics of each epoch, logged as ``train/<name>`` and ``val/<name>``
    metrics: ClassVar[tuple[str, ...]] = ("loss",)

    def __init__(
        self,
        modules: Mapping[str, nn.Module],
        config: FitConfig | None = None,
        seed: int = 0,
        run: Run | None = None,
        progress: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ):
        self.config = config or FitConfig()
        self.check(self.config)
        self.seed = int(seed)
        self.device = resolve_device(self.config.device)
        self.modules = {name: m.to(self.device) for name, m in modules.items()}
        self.run, self.progress = run, progress
        self.should_stop = should_stop or (lambda: False)
        self.amp = bool(self.config.amp and self.device.startswith("cuda"))
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.streams = GlobalRNGStreams(self.seed)
        self.shuffle_rng = torch.Generator().manual_seed(self.seed)
        self.augment_rng = torch.Generator().manual_seed(self.seed + 1)
        self.augment = make_augmentation(self.config.augmentation or None)
        self.optimizers = self.make_optimizers()
        self.schedulers: dict[str, Any] = {}
        self._pending_schedulers: dict[str, Any] | None = None  # loaded before they exist
        self.epoch = 0
        self.history: list[dict[str, float]] = []
        self.best_value: float | None = None
        self.best_epoch = 0
        self.bad_epochs = 0
        self.best_state: dict[str, dict[str, torch.Tensor]] | None = None
        self.stopped_early = False

    @classmethod
    def check(cls, config: FitConfig) -> None:
        """:func:`check_config`, and ``monitor`` must be one of this kind's epoch metrics."""
        check_config(config)
        parts = ("train", "val") if cls.has_validation else ("train",)
        allowed = [f"{part}/{m}" for part in parts for m in cls.metrics]
        if config.monitor not in allowed:
            raise ValueError(
                f"monitor {config.monitor!r} is not an epoch metric of {cls.kind} training; "
                f"allowed: {', '.join(allowed)}"
            )

    # -- what subclasses define -----------------------------------------------------------------
    def loss(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of one training batch (before penalties) and what to log about it."""
        raise NotImplementedError

    def evaluate(self, data: Dataset | Sequence[Any]) -> dict[str, float]:
        """Metrics of the modules on ``data`` (eval mode, no gradients)."""
        raise NotImplementedError

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        params = [p for m in self.modules.values() for p in m.parameters() if p.requires_grad]
        return {"main": make_optimizer(params, self.config)}

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, train: Dataset | Sequence[Any], val: Dataset | Sequence[Any] | None = None):
        """Train up to ``config.epochs`` (from :attr:`epoch`, so a loaded checkpoint continues);
        return :attr:`history`, one dict of metrics per epoch. Without ``val``, a
        ``val_fraction`` of ``train`` is held out (the same split on every resume)."""
        train, val = as_dataset(train), None if val is None else as_dataset(val)
        if val is None and self.config.val_fraction > 0 and self.has_validation:
            train, val = split_dataset(train, self.config.val_fraction, self.seed + 2)
        loader = self.loader(train)
        self.make_schedulers(len(loader))
        bar = self.open_bar(len(loader))
        try:
            while self.epoch < self.config.epochs and not self.stopped_early:
                start = time.perf_counter()
                logs = self.train_epoch(loader, bar)
                if val is not None:
                    logs.update({f"val/{k}": v for k, v in self.evaluate(val).items()})
                logs["charts/learning_rate"] = self.learning_rate()
                logs["charts/epoch_time_s"] = time.perf_counter() - start
                self.epoch += 1
                self.step_schedulers(logs)
                self.end_epoch(logs, val is not None, bar)
        finally:
            if bar is not None:
                bar.close()
        if self.config.restore_best and self.best_state is not None:
            self.load_module_state(self.best_state)
        return self.history

    def train_epoch(self, loader: DataLoader, bar) -> dict[str, float]:
        for m in self.modules.values():
            train_mode(m)  # frozen batch-norm layers stay in eval mode
        sums: dict[str, float] = {}
        count = 0
        with self.streams:
            for batch in loader:
                if self.should_stop():
                    raise Interrupted(f"stopped during epoch {self.epoch + 1}")
                batch = [t.to(self.device, non_blocking=True) for t in batch]
                if self.augment is not None:
                    batch[0] = self.augment(batch[0], self.augment_rng)
                logs = self.train_batch(batch)
                n = len(batch[0])
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + v * n
                count += n
                if self.config.schedule == "onecycle":
                    for s in self.schedulers.values():
                        s.step()
                if bar is not None:
                    bar.update(1)
        return {f"train/{k}": v / max(count, 1) for k, v in sums.items()}

    def train_batch(self, batch: Sequence[torch.Tensor]) -> dict[str, float]:
        """One gradient step of the main optimizer on ``loss(batch)`` plus the penalties."""
        opt = self.optimizers["main"]
        opt.zero_grad(set_to_none=True)
        with self.autocast():
            loss, logs = self.loss(batch)
            penalty = self.penalty()
        self.backward_step(loss + penalty, opt)
        if self.config.l1 or self.config.l2:
            logs["penalty"] = penalty.item()
        return logs

    def backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        self.scaler.scale(loss).backward()
        if self.config.clip_grad_norm is not None:
            self.scaler.unscale_(opt)
            params = [p for g in opt.param_groups for p in g["params"]]
            nn.utils.clip_grad_norm_(params, self.config.clip_grad_norm)
        self.scaler.step(opt)
        self.scaler.update()

    def penalty(self) -> torch.Tensor:
        """``l1 * sum|w| + l2 * sum w^2`` over the weight matrices and kernels (parameters of
        two or more dimensions: biases and norm scales are not penalised, as in Keras)."""
        c = self.config
        total = torch.zeros((), device=self.device)
        if not (c.l1 or c.l2):
            return total
        for m in self.modules.values():
            for p in m.parameters():
                if p.requires_grad and p.dim() > 1:
                    if c.l1:
                        total = total + c.l1 * p.abs().sum()
                    if c.l2:
                        total = total + c.l2 * p.pow(2).sum()
        return total

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.float16, enabled=self.amp)

    def end_epoch(self, logs: dict[str, float], validated: bool, bar) -> None:
        """Log the epoch, follow the monitored metric, checkpoint."""
        logs = {"epoch": self.epoch, **logs}
        self.history.append(logs)
        improved = False
        key = self.config.monitor
        if key in logs:  # a val/ metric is missing when there is no validation set
            value = logs[key]
            if self.best_value is None or self.is_better(value, self.best_value):
                self.best_value, self.best_epoch, self.bad_epochs = value, self.epoch, 0
                self.best_state = self.module_state()
                improved = True
            else:
                self.bad_epochs += 1
                if self.config.patience and self.bad_epochs >= self.config.patience:
                    self.stopped_early = True
        if self.run is not None:
            scalars = {k: v for k, v in logs.items() if k != "epoch"}
            self.run.log_scalars(scalars, self.epoch)
            self.run.append_row("epochs", {"step": self.epoch, **scalars})
            self.log_extras()
            if improved:
                self.save_weights(self.run.root / "best")
            self.save_checkpoint(self.run.checkpoint_path(self.epoch))
            for _, old in self.run.checkpoints()[:-KEEP_CHECKPOINTS]:
                shutil.rmtree(old, ignore_errors=True)
            self.run.flush()
        self.report(logs, bar)

    def log_extras(self) -> None:
        """Anything more a kind of training shows in TensorBoard each epoch (GAN samples)."""

    def is_better(self, value: float, best: float) -> bool:
        delta = self.config.min_delta
        if self.config.monitor.rpartition("/")[2] in self.maximise:
            return value > best + delta
        return value < best - delta

    # -- batches, optimizers, schedules ---------------------------------------------------------
    def loader(self, data: Dataset) -> DataLoader:
        """Shuffled batches from the loop's own generator. A ``TensorDataset`` is indexed a batch
        at a time (one gather per tensor instead of a Python call per sample)."""
        bs = self.config.batch_size
        sampler = RandomSampler(data, generator=self.shuffle_rng)
        if isinstance(data, TensorDataset):
            batches = BatchSampler(sampler, bs, drop_last=False)
            return DataLoader(data, sampler=batches, batch_size=None)
        return DataLoader(data, batch_size=bs, sampler=sampler)

    def make_schedulers(self, batches_per_epoch: int) -> None:
        c = self.config
        sched = torch.optim.lr_scheduler
        if self.schedulers or c.schedule == "constant":
            return
        for name, opt in self.optimizers.items():
            if c.schedule == "step":
                s = sched.StepLR(opt, c.schedule_step, c.schedule_gamma)
            elif c.schedule == "exponential":
                s = sched.ExponentialLR(opt, c.schedule_gamma)
            elif c.schedule == "cosine":
                s = sched.CosineAnnealingLR(opt, T_max=c.epochs)
            elif c.schedule == "plateau":
                mode = "max" if c.monitor.rpartition("/")[2] in self.maximise else "min"
                s = sched.ReduceLROnPlateau(
                    opt, mode, factor=c.schedule_gamma, patience=c.schedule_step
                )
            else:
                s = sched.OneCycleLR(opt, c.lr, total_steps=c.epochs * batches_per_epoch)
            self.schedulers[name] = s
        if self._pending_schedulers is not None:
            for name, state in self._pending_schedulers.items():
                self.schedulers[name].load_state_dict(state)
            self._pending_schedulers = None

    def step_schedulers(self, logs: Mapping[str, float]) -> None:
        if self.config.schedule == "onecycle":  # stepped every batch
            return
        for s in self.schedulers.values():
            if isinstance(s, torch.optim.lr_scheduler.ReduceLROnPlateau):
                s.step(logs.get(self.config.monitor, logs.get("train/loss")))
            else:
                s.step()

    def learning_rate(self) -> float:
        return float(next(iter(self.optimizers.values())).param_groups[0]["lr"])

    # -- progress ---------------------------------------------------------------------------------
    def open_bar(self, batches_per_epoch: int):
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(
            total=self.config.epochs * batches_per_epoch,
            initial=self.epoch * batches_per_epoch,
            unit="batch",
            dynamic_ncols=True,
            mininterval=0.5,
        )

    def report(self, logs: Mapping[str, float], bar) -> None:
        shown = {
            k.replace("train/", "").replace("val/", "val_"): v
            for k, v in logs.items()
            if k.startswith(("train/", "val/")) and isinstance(v, float)
        }
        text = " ".join(f"{k} {v:.4g}" for k, v in list(shown.items())[:6])
        if bar is not None:
            bar.set_postfix_str(f"epoch {self.epoch}: {text}", refresh=False)
        elif self.run is not None:
            print(f"epoch {self.epoch}/{self.config.epochs} | {text}", flush=True)

    # -- state ------------------------------------------------------------------------------------
    def module_state(self) -> dict[str, dict[str, torch.Tensor]]:
        """A copy of every module's weights, on the CPU."""
        return {
            name: {k: v.detach().to("cpu", copy=True) for k, v in m.state_dict().items()}
            for name, m in self.modules.items()
        }

    def load_module_state(self, state: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
        for name, m in self.modules.items():
            m.load_state_dict(state[name])

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "modules": sorted(self.modules),
            "epoch": self.epoch,
            "seed": self.seed,
            "config": dataclasses.asdict(self.config),
        }

    def save_weights(self, path: str | Path) -> None:
        """The modules' weights alone, atomically (``best/``, ``final/``); read them back with
        :func:`load_weights`."""
        save_state(path, self.meta(), {}, {"modules": self.module_state()})

    def save_checkpoint(self, path: str | Path) -> None:
        """Everything a resumed run needs to continue bit for bit, atomically."""
        meta = {
            **self.meta(),
            "history": self.history,
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "stopped_early": self.stopped_early,
        }
        tensors: dict[str, Any] = {
            "modules": self.module_state(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scaler": self.scaler.state_dict(),
            "shuffle_rng": self.shuffle_rng.get_state(),
            "augment_rng": self.augment_rng.get_state(),
            "streams": self.streams.state_dict(),
        }
        if self.best_state is not None:
            tensors["best"] = self.best_state
        save_state(path, meta, {}, tensors)

    def load_checkpoint(self, path: str | Path) -> None:
        """Continue from a checkpoint written by :meth:`save_checkpoint` of the same kind of
        training with the same modules; :class:`CheckpointError` otherwise."""
        meta = self._check_meta(path)
        if "history" not in meta:
            raise CheckpointError(f"{path} holds weights only, not a resumable checkpoint")
        t = load_tensors(path)
        try:
            self.load_module_state(t["modules"])
            for k, o in self.optimizers.items():
                o.load_state_dict(t["optimizers"][k])
            self._pending_schedulers = dict(t["schedulers"]) or None
            self.scaler.load_state_dict(t["scaler"])
            self.shuffle_rng.set_state(t["shuffle_rng"])
            self.augment_rng.set_state(t["augment_rng"])
            self.streams.load_state_dict(t["streams"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"{path} does not fit this training: {e}") from e
        self.best_state = t.get("best")
        self.epoch = int(meta["epoch"])
        self.history = list(meta["history"])
        self.best_value = meta["best_value"]
        self.best_epoch = int(meta["best_epoch"])
        self.bad_epochs = int(meta["bad_epochs"])
        self.stopped_early = bool(meta["stopped_early"])

    def load_weights(self, path: str | Path) -> None:
        """Load the weights of a ``best/``, ``final/`` or checkpoint folder into the modules."""
        self._check_meta(path)
        try:
            self.load_module_state(load_tensors(path)["modules"])
        except (KeyError, RuntimeError) as e:
            raise CheckpointError(f"{path} does not fit these modules: {e}") from e

    def _check_meta(self, path: str | Path) -> dict[str, Any]:
        meta, _ = load_state(path)
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"{path} is not a fit checkpoint (format {meta.get('format')!r})")
        if meta.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(
                f"{path} has format version {meta.get('format_version')}; "
                f"this code reads {FORMAT_VERSION}"
            )
        if meta.get("kind") != self.kind or meta.get("modules") != sorted(self.modules):
            raise CheckpointError(
                f"{path} was written by {meta.get('kind')} training of {meta.get('modules')}; "
                f"this is {self.kind} training of {sorted(self.modules)}"
            )
        return meta

    # -- inference ------------------------------------------------------------------------------
    @torch.no_grad()
    def outputs(self, data: Dataset | Sequence[Any], module: str = "model") -> list[Any]:
        """``module``'s outputs batch by batch in eval mode, with each batch's tensors."""
        net = self.modules[module]
        net.eval()
        out = []
        data, size = as_dataset(data), max(self.config.batch_size, 256)
        if isinstance(data, TensorDataset):
            n = len(data)
            batches = [[t[i : i + size] for t in data.tensors] for i in range(0, n, size)]
        else:
            batches = list(DataLoader(data, batch_size=size))
        with self.streams:
            for batch in batches:
                batch = [t.to(self.device) for t in batch]
                with self.autocast():
                    out.append((net(batch[0]), batch))
        return out


# -- the kinds of training ----------------------------------------------------------------------
class SingleModelFit(FitLoop):
    """A fit loop of one network, ``model``."""

    def __init__(self, model: nn.Module, config: FitConfig | None = None, **kw):
        super().__init__({"model": model}, config, **kw)

    @property
    def model(self) -> nn.Module:
        return self.modules["model"]


class ClassifierFit(SingleModelFit):
    """Cross-entropy on logits; validation loss and accuracy each epoch, and
    :meth:`report_metrics` (accuracy, confusion matrix, per-class sensitivity and specificity)
    on a test set. Batches are ``(x, y)`` with integer labels."""

    kind = "classifier"
    metrics = ("loss", "accuracy")

    def loss(self, batch):
        x, y = batch[0], batch[1]
        logits = self.model(x)
        loss = F.cross_entropy(logits.float(), y)
        acc = (logits.argmax(1) == y).float().mean()
        return loss, {"loss": loss.item(), "accuracy": acc.item()}

    def evaluate(self, data):
        logits, y = self.predict_logits(data)
        loss = F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y))
        return {"loss": float(loss), "accuracy": metrics.accuracy(y, logits.argmax(1))}

    def predict_logits(self, data) -> tuple[np.ndarray, np.ndarray]:
        """Logits (N, classes) and the labels of ``data``, as numpy."""
        parts = self.outputs(data)
        logits = torch.cat([o.float().cpu() for o, _ in parts]).numpy()
        y = torch.cat([b[1].cpu() for _, b in parts]).numpy()
        return logits, y

    def predict_proba(self, data) -> np.ndarray:
        logits, _ = self.predict_logits(data)
        return torch.softmax(torch.from_numpy(logits), 1).numpy()

    def report_metrics(self, data, n_classes: int | None = None) -> dict[str, Any]:
        """Test metrics: loss, accuracy, the confusion matrix (rows true, columns predicted),
        per-class sensitivity and specificity (one class against the rest) and their means."""
        logits, y = self.predict_logits(data)
        n_classes = n_classes or logits.shape[1]
        pred = logits.argmax(1)
        cm = metrics.confusion_matrix(y, pred, n_classes)
        sens, spec = metrics.sensitivity_specificity(cm)
        loss = F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y))
        return {
            "loss": float(loss),
            "accuracy": metrics.accuracy(y, pred),
            "confusion_matrix": cm.tolist(),
            "sensitivity": sens.tolist(),
            "specificity": spec.tolist(),
            "mean_sensitivity": float(np.mean(sens)),
            "mean_specificity": float(np.mean(spec)),
        }


class RegressorFit(SingleModelFit):
    """Mean squared error; validation MSE (the loss) and MAE each epoch. Batches are ``(x, y)``
    with float targets of the model's output shape."""

    kind = "regressor"
    metrics = ("loss", "mae")

    def loss(self, batch):
        pred = self.model(batch[0]).float()
        loss = F.mse_loss(pred, batch[1].reshape(pred.shape))
        return loss, {"loss": loss.item()}

    def predict(self, data) -> tuple[np.ndarray, np.ndarray]:
        """Predictions and targets of ``data``, as numpy, each shaped like the model's output."""
        parts = self.outputs(data)
        pred = torch.cat([o.float().cpu() for o, _ in parts]).numpy()
        y = torch.cat([b[1].cpu() for _, b in parts]).numpy().reshape(pred.shape)
        return pred, y

    def evaluate(self, data):
        pred, y = self.predict(data)
        return {"loss": metrics.mse(y, pred), "mae": metrics.mae(y, pred)}


class AutoencoderFit(SingleModelFit):
    """Reconstruction of inputs in [0, 1]: binary cross-entropy on the decoder's logits, summed
    over features and averaged over the batch; for a VAE (a model whose forward returns
    ``(logits, mu, logvar)``) plus ``beta`` times the KL divergence. Batches are ``(x,)`` or
    ``(x, labels)``; labels are ignored. Epoch metrics: loss, and the reconstruction's mean
    squared error in input units."""

    kind = "autoencoder"
    metrics = ("loss", "reconstruction", "kl", "mse")

    def __init__(self, model: nn.Module, config: FitConfig | None = None, beta: float = 1.0, **kw):
        super().__init__(model, config, **kw)
        self.beta = float(beta)

    def losses(self, out, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss of the model's output ``out`` on inputs ``x``, and its parts to log."""
        if isinstance(out, tuple):
            total, recon, kl = vae_loss(out[0].float(), x, out[1], out[2], beta=self.beta)
            return total, {"loss": total, "reconstruction": recon, "kl": kl}
        total = reconstruction_loss(out.float(), x)
        return total, {"loss": total}

    def loss(self, batch):
        total, parts = self.losses(self.model(batch[0]), batch[0])
        return total, {k: v.item() for k, v in parts.items()}

    def reconstruct(self, data) -> tuple[np.ndarray, np.ndarray]:
        """Reconstructions (probabilities) and inputs of ``data``, as numpy."""
        rec, xs = [], []
        for out, batch in self.outputs(data):
            rec.append(self._probabilities(out, batch[0]))
            xs.append(batch[0].cpu())
        return torch.cat(rec).numpy(), torch.cat(xs).numpy()

    @staticmethod
    def _probabilities(out, x: torch.Tensor) -> torch.Tensor:
        logits = out[0] if isinstance(out, tuple) else out
        return torch.sigmoid(logits.float()).cpu().reshape(x.shape)

    def evaluate(self, data):
        sums: dict[str, float] = {}
        n = 0
        for out, batch in self.outputs(data):  # one pass: the losses and the squared error
            x = batch[0]
            _, parts = self.losses(out, x)
            parts["mse"] = (self._probabilities(out, x) - x.cpu()).square().mean()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(x)
            n += len(x)
        return {k: v / n for k, v in sums.items()}


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of ``x`` in [0, 1] under ``logits``, summed over a sample's features
    and averaged over the batch (the VAE's reconstruction term, Kingma & Welling 2014)."""
    bce = F.binary_cross_entropy_with_logits(logits.reshape(x.shape), x, reduction="none")
    return bce.reshape(len(x), -1).sum(1).mean()


@dataclass
class GANConfig(FitConfig):
    """DCGAN's settings (Radford et al. 2015, section 4): Adam at 2e-4 with beta1 0.5,
    batches of 128."""

    lr: float = 2e-4
    """Learning rate of both networks' Adam."""
    beta1: float = 0.5
    """Adam's beta1 (0.5 stabilises training, the paper found)."""
    batch_size: int = 128
    """Samples per step."""
    z_dim: int = 64
    """Size of the generator's noise input."""
    val_fraction: float = 0.0
    """A GAN has no validation loss."""
    monitor: str = "train/loss_g"
    """Followed for the best weights; no early stopping by default."""
    restore_best: bool = False
    """Keep the last weights: the generator's loss is no measure of sample quality."""


class GANFit(FitLoop):
    """Alternating GAN steps (Goodfellow et al. 2014), as DCGAN trains them: the discriminator
    on a real and a generated batch (binary cross-entropy on logits), then the generator on the
    non-saturating loss ``-log D(G(z))``. Real images must be scaled to [-1, 1], the range of the
    generator's tanh. Logs ``loss_d``, ``loss_g``, ``d_real`` and ``d_fake`` (the mean
    probabilities D gives real and generated images) and a grid of samples each epoch."""

    kind = "gan"
    has_validation = False
    metrics = ("loss_d", "loss_g", "d_real", "d_fake")

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        config: GANConfig | None = None,
        **kw,
    ):
        config = config or GANConfig()
        super().__init__({"generator": generator, "discriminator": discriminator}, config, **kw)
        self.fixed_z = torch.randn(
            64, config.z_dim, generator=torch.Generator().manual_seed(self.seed + 3)
        )

    def make_optimizers(self):
        return {
            name: make_optimizer(self.modules[name].parameters(), self.config)
            for name in ("discriminator", "generator")
        }

    def noise(self, n: int) -> torch.Tensor:
        # drawn on the CPU from the private stream, so runs agree across devices
        return torch.randn(n, self.config.z_dim).to(self.device)

    def train_batch(self, batch):
        g, d = self.modules["generator"], self.modules["discriminator"]
        opt_g, opt_d = self.optimizers["generator"], self.optimizers["discriminator"]
        real = batch[0]
        n = len(real)
        ones, zeros = torch.ones(n, device=self.device), torch.zeros(n, device=self.device)
        z = self.noise(n)
        opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            fake = g(z)
            logit_real = d(real).float().reshape(n)
            logit_fake = d(fake.detach()).float().reshape(n)
            loss_d = F.binary_cross_entropy_with_logits(
                logit_real, ones
            ) + F.binary_cross_entropy_with_logits(logit_fake, zeros)
        self.scaler.scale(loss_d).backward()
        self.scaler.step(opt_d)
        opt_g.zero_grad(set_to_none=True)
        with self.autocast():
            logit_gen = d(fake).float().reshape(n)
            loss_g = F.binary_cross_entropy_with_logits(logit_gen, ones)
        self.scaler.scale(loss_g).backward()
        self.scaler.step(opt_g)
        self.scaler.update()
        return {
            "loss_d": loss_d.item(),
            "loss_g": loss_g.item(),
            "d_real": torch.sigmoid(logit_real).mean().item(),
            "d_fake": torch.sigmoid(logit_fake).mean().item(),
        }

    def evaluate(self, data):  # no validation set for a GAN
        return {}

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` generated images in [-1, 1], from noise seeded by ``seed`` (eval mode)."""
        g = self.modules["generator"]
        g.eval()
        z = torch.randn(n, self.config.z_dim, generator=torch.Generator().manual_seed(seed))
        return g(z.to(self.device)).float().cpu().numpy()

    def log_extras(self) -> None:
        g = self.modules["generator"]
        g.eval()
        with torch.no_grad():
            images = g(self.fixed_z.to(self.device)).float().cpu()
        self.run.writer.add_images("samples", (images + 1) / 2, self.epoch)


# -- helpers ------------------------------------------------------------------------------------
def make_optimizer(params, config: FitConfig) -> torch.optim.Optimizer:
    params = list(params)
    c = config
    if c.optimizer == "adam":
        return torch.optim.Adam(params, c.lr, betas=(c.beta1, 0.999), weight_decay=c.weight_decay)
    if c.optimizer == "adamw":
        return torch.optim.AdamW(params, c.lr, betas=(c.beta1, 0.999), weight_decay=c.weight_decay)
    if c.optimizer == "sgd":
        return torch.optim.SGD(params, c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
    return torch.optim.RMSprop(params, c.lr, momentum=c.momentum, weight_decay=c.weight_decay)


def check_config(c: FitConfig) -> None:
    """Values that are of the right type but make no sense: a ``ValueError`` naming them."""
    problems = []
    for name in ("epochs", "batch_size"):
        if getattr(c, name) < 1:
            problems.append(f"{name} must be >= 1, got {getattr(c, name)}")
    for name in ("lr", "schedule_gamma"):
        if not getattr(c, name) > 0:
            problems.append(f"{name} must be > 0, got {getattr(c, name)}")
    for name in ("l1", "l2", "weight_decay", "min_delta", "patience"):
        if getattr(c, name) < 0:
            problems.append(f"{name} must be >= 0, got {getattr(c, name)}")
    if not 0 <= c.val_fraction < 1:
        problems.append(f"val_fraction must be in [0, 1), got {c.val_fraction}")
    if c.clip_grad_norm is not None and not c.clip_grad_norm > 0:
        problems.append(f"clip_grad_norm must be > 0 or null, got {c.clip_grad_norm}")
    if c.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {c.optimizer!r}")
    if c.schedule not in SCHEDULES:
        problems.append(f"schedule must be one of {', '.join(SCHEDULES)}, got {c.schedule!r}")
    if problems:
        raise ValueError("; ".join(problems))
    make_augmentation(c.augmentation or None)  # a bad spec raises, naming the allowed keys


def as_dataset(data: Dataset | Sequence[Any]) -> Dataset:
    """A ``Dataset`` as it is; a tuple of arrays or tensors (``(x, y)``, ``(x,)``) as a
    ``TensorDataset`` (float arrays as float32, integer arrays as int64)."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, torch.Tensor | np.ndarray):
        data = (data,)
    tensors = []
    for a in data:
        t = torch.as_tensor(a)
        t = t.float() if t.is_floating_point() else t.long()
        tensors.append(t)
    if len({len(t) for t in tensors}) != 1:
        raise ValueError(f"arrays of different lengths: {[len(t) for t in tensors]}")
    return TensorDataset(*tensors)


def split_dataset(data: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """A random ``fraction`` of ``data`` held out, from a generator seeded by ``seed``."""
    n = len(data)
    n_val = max(1, int(round(n * fraction)))
    if n_val >= n:
        raise ValueError(f"val_fraction {fraction} leaves nothing to train on ({n} samples)")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    if isinstance(data, TensorDataset):
        tr, va = perm[n_val:], perm[:n_val]
        return TensorDataset(*(t[tr] for t in data.tensors)), TensorDataset(
            *(t[va] for t in data.tensors)
        )
    return (
        torch.utils.data.Subset(data, perm[n_val:].tolist()),
        torch.utils.data.Subset(data, perm[:n_val].tolist()),
    )


def load_weights(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """The meta and the modules' weights of a fit folder (``final/``, ``best/``, a checkpoint),
    read without unpickling anything but tensors."""
    meta, _ = load_state(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a fit checkpoint (format {meta.get('format')!r})")
    tensors = load_tensors(path)
    if "modules" not in tensors:
        raise CheckpointError(f"{path} holds no module weights")
    return meta, tensors["modules"]
