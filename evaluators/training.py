"""Proxy training of a built Keras model: cosine schedule with warm-up, label smoothing, weight decay.

The warm-up + cosine schedule follows Goyal et al. 2017 ("Accurate, Large Minibatch SGD") and
Loshchilov & Hutter 2017 (SGDR); decoupled weight decay follows Loshchilov & Hutter 2019 (AdamW);
label smoothing follows Szegedy et al. 2016. A NaN or inf loss stops training and is reported in
``TrainResult.diverged``; it is never raised.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from evaluators.datasets import Dataset

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adamw", "adam", "sgd", "rmsprop")


@dataclass(frozen=True)
class TrainConfig:
    """Proxy-training settings. ``warmup_epochs`` may be fractional; ``bn_momentum`` (if not None)
    overrides every BatchNormalization layer's momentum (tf_keras MobileNetV2 uses 0.999, too slow
    for a few epochs)."""

    epochs: int = 5
    optimizer: str = "adamw"
    lr: float = 3e-3
    warmup_epochs: float = 1.0
    min_lr_fraction: float = 0.0
    label_smoothing: float = 0.1
    weight_decay: float = 1e-2
    batch_size: int = 64
    seed: int = 0
    bn_momentum: float | None = 0.9
    momentum: float = 0.9
    steps_per_epoch: int | None = None
    validate_each_epoch: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose from {list(OPTIMIZERS)}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not self.lr > 0 or self.warmup_epochs < 0 or self.weight_decay < 0:
            raise ValueError("lr must be > 0; warmup_epochs and weight_decay must be >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.bn_momentum is not None and not 0 < self.bn_momentum < 1:
            raise ValueError(f"bn_momentum must be in (0, 1), got {self.bn_momentum}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """What a proxy training produced; ``val_accuracy`` is the Keras model's on the validation split."""

    history: dict[str, list[float]]
    val_accuracy: float | None
    val_loss: float | None
    seconds: float
    epochs_completed: int
    diverged: bool = False
    divergence_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def set_bn_momentum(model: Any, momentum: float) -> int:
    """Set ``momentum`` on every BatchNormalization layer, nested models included; returns the count."""
    from search_spaces.keras_backend import keras

    count = 0
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum
            count += 1
        stack.extend(getattr(layer, "layers", []))
    return count


def _steps_per_epoch(dataset: Dataset, cfg: TrainConfig) -> int:
    if cfg.steps_per_epoch:
        return cfg.steps_per_epoch
    cardinality = int(dataset.train.cardinality())
    if cardinality > 0:
        return cardinality
    return max(1, math.ceil(dataset.info["counts"]["train"] / dataset.batch_size))


def make_schedule(cfg: TrainConfig, steps_per_epoch: int, epochs: int, *, lr: float | None = None) -> Any:
    """Linear warm-up from 0 to ``lr`` over ``cfg.warmup_epochs``, then cosine decay to
    ``lr * cfg.min_lr_fraction`` at the end of ``epochs``."""
    from search_spaces.keras_backend import keras

    peak = cfg.lr if lr is None else lr
    total_steps = max(2, steps_per_epoch * epochs)
    warmup_steps = min(int(round(cfg.warmup_epochs * steps_per_epoch)), total_steps - 1)
    if warmup_steps > 0:
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(1, total_steps - warmup_steps), alpha=cfg.min_lr_fraction,
            warmup_target=peak, warmup_steps=warmup_steps,
        )
    else:
        schedule = keras.optimizers.schedules.CosineDecay(peak, total_steps, alpha=cfg.min_lr_fraction)
    return schedule


def make_optimizer(cfg: TrainConfig, steps_per_epoch: int, epochs: int, *, lr: float | None = None) -> Any:
    """The configured optimizer on :func:`make_schedule`, with decoupled weight decay."""
    from search_spaces.keras_backend import keras

    schedule = make_schedule(cfg, steps_per_epoch, epochs, lr=lr)
    decay = cfg.weight_decay or None
    if cfg.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "adam":
        optimizer = keras.optimizers.Adam(schedule, weight_decay=decay)
    elif cfg.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(schedule, momentum=cfg.momentum, nesterov=True, weight_decay=decay)
    else:
        optimizer = keras.optimizers.RMSprop(schedule, momentum=cfg.momentum, weight_decay=decay)
    if cfg.weight_decay:
        # Decay the kernels only, not biases or BatchNorm scales and offsets.
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def smoothed_sparse_crossentropy(num_classes: int, label_smoothing: float) -> Any:
    """Cross-entropy on integer labels with label smoothing, for softmax outputs."""
    from search_spaces.keras_backend import keras, tf

    def loss(y_true: Any, y_pred: Any) -> Any:
        one_hot = tf.one_hot(tf.cast(tf.reshape(y_true, [-1]), tf.int32), num_classes)
        return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=label_smoothing)

    return loss


class _DivergenceGuard:
    """Builds a Keras callback that stops on the first non-finite loss and remembers why."""

    def __init__(self) -> None:
        from search_spaces.keras_backend import keras

        self.reason: str | None = None
        guard = self

        class Callback(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.epoch, self.started = 0, time.perf_counter()

            def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
                self.epoch, self.started = epoch, time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:  # for long trainings' logs
                logger.debug("epoch %d of %s done in %.0f s, loss %.4f", epoch + 1, self.params.get("epochs"),
                             time.perf_counter() - self.started, float((logs or {}).get("loss", math.nan)))

            def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
                loss = (logs or {}).get("loss")
                if loss is not None and not math.isfinite(float(loss)) and guard.reason is None:
                    guard.reason = f"loss became {float(loss)} at epoch {self.epoch + 1}, batch {batch + 1}"
                    logger.warning("training diverged: %s", guard.reason)
                    self.model.stop_training = True

        self.callback = Callback()


def compile_for_training(
    model: Any, cfg: TrainConfig, steps_per_epoch: int, epochs: int, *, lr: float | None = None
) -> None:
    """Compile with the configured optimizer, smoothed cross-entropy and accuracy.

    The optimizer's slot variables are created here (``optimizer.build``), not inside the first
    training step: a ``tf.function`` whose first call creates variables is traced twice (TensorFlow
    guide "Better performance with tf.function", variable creation), and tf_keras' train step
    creates them on its first ``apply_gradients``. Built beforehand, the train step is traced once:
    the same zero-initialised variables and the same updates, a single trace instead of two
    (MobileNetV2 0.35 at 32 px: 10 s of CPU for the first batch instead of 13-20 s; docs/search_steps.md).
    """
    from search_spaces.keras_backend import keras

    num_classes = int(model.output_shape[-1])
    optimizer = make_optimizer(cfg, steps_per_epoch, epochs, lr=lr)
    optimizer.build(model.trainable_variables)
    model.compile(
        optimizer=optimizer,
        loss=smoothed_sparse_crossentropy(num_classes, cfg.label_smoothing),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


def fit(model: Any, dataset: Dataset, cfg: TrainConfig, *, epochs: int | None = None,
        lr: float | None = None) -> TrainResult:
    """Compile and fit ``model`` for ``epochs`` (default ``cfg.epochs``); the shared core of training."""

    epochs = cfg.epochs if epochs is None else epochs
    start = time.perf_counter()
    if cfg.bn_momentum is not None:
        set_bn_momentum(model, cfg.bn_momentum)
    steps = _steps_per_epoch(dataset, cfg)
    compile_for_training(model, cfg, steps, epochs, lr=lr)
    guard, record = _DivergenceGuard(), {}
    _fit_segment(model, dataset, cfg, 0, epochs, guard, record)
    completed = len(record.get("loss", []))
    val_loss, val_accuracy = _final_validation(model, dataset, guard)
    return TrainResult(
        history=record, val_accuracy=val_accuracy, val_loss=val_loss,
        seconds=time.perf_counter() - start, epochs_completed=completed,
        diverged=guard.reason is not None, divergence_reason=guard.reason,
        details={"steps_per_epoch": steps},
    )


def train_model(model: Any, dataset: Dataset, cfg: TrainConfig | None = None) -> TrainResult:
    """Train ``model`` (softmax outputs, compiled here) on ``dataset.train``; seeded by ``cfg.seed``.

    Returns a ``TrainResult``; divergence (NaN/inf loss) ends training early with ``diverged=True``.
    """
    from search_spaces.keras_backend import keras, tf

    cfg = cfg or TrainConfig()
    keras.utils.set_random_seed(cfg.seed)
    try:
        return fit(model, dataset, cfg)
    except tf.errors.InvalidArgumentError as exc:
        # e.g. tf.debugging checks on NaN inside a layer: the same failure as a NaN loss.
        if "NaN" in str(exc) or "Inf" in str(exc):  # tf.debugging.check_numerics wording
            return TrainResult({}, None, None, 0.0, 0, True, f"non-finite values: {str(exc)[:300]}")
        raise


# ---- training in rungs (early stopping) ----------------------------------------------------------
#: (epoch of the rung, Keras validation accuracy there) -> whether the training goes on.
RungJudge = Callable[[int, float], bool]
#: The file beside a rung checkpoint that says which architecture, epoch and rung accuracies it holds.
RUNG_STATE_NAME = "rung_state.json"


@dataclass(frozen=True)
class RungPlan:
    """Where a training may stop: successive halving's rungs (Jamieson & Talwalkar 2016), in epochs.

    ``rungs_epochs`` are the epochs at which the training is judged; one equal to ``total_epochs``
    (the full budget, which also sets the learning-rate schedule) is the end, not a decision.
    """

    rungs_epochs: tuple[int, ...]
    total_epochs: int

    def __post_init__(self) -> None:
        rungs = tuple(int(e) for e in self.rungs_epochs)
        if not rungs or any(e < 1 for e in rungs) or list(rungs) != sorted(set(rungs)):
            raise ValueError(f"rungs must be increasing epochs >= 1, got {list(self.rungs_epochs)}")
        if rungs[-1] > self.total_epochs:
            raise ValueError(f"rung {rungs[-1]} is beyond the training budget of {self.total_epochs} epochs")
        object.__setattr__(self, "rungs_epochs", rungs)

    @property
    def decision_epochs(self) -> tuple[int, ...]:
        return tuple(e for e in self.rungs_epochs if e < self.total_epochs)

    @property
    def boundaries(self) -> tuple[int, ...]:
        """Epochs at which training pauses: every decision, then the end of the budget."""
        return (*self.decision_epochs, self.total_epochs)


@dataclass(frozen=True)
class RungTraining:
    """A training in rungs: the plan, who judges each rung, and a rung checkpoint to resume from."""

    plan: RungPlan
    judge: RungJudge
    resume_from: Path | None = None


@dataclass
class _RungRun:
    """The state of a training in rungs: the checkpoint, the epoch reached, the rung accuracies."""

    checkpoint: Any
    directory: Path
    architecture: str
    epoch: int = 0
    rung_accuracies: dict[int, float] = field(default_factory=dict)
    resumed_from_epoch: int = 0

    def save(self) -> None:
        self.checkpoint.epoch.assign(self.epoch)
        self.checkpoint.write(str(self.directory / "ckpt"))
        state = {"architecture": self.architecture, "epoch": self.epoch,
                 "rung_accuracies": {str(k): v for k, v in self.rung_accuracies.items()}}
        (self.directory / RUNG_STATE_NAME).write_text(json.dumps(state, indent=1))

    def restore(self, source: Path) -> None:
        """Resume from the rung checkpoint in ``source`` (weights, optimizer state and step counter)."""
        state = json.loads((source / RUNG_STATE_NAME).read_text())
        if state.get("architecture") != self.architecture:
            logger.warning("rung checkpoint in %s is of another architecture; training from scratch", source)
            return
        self.checkpoint.read(str(source / "ckpt")).assert_existing_objects_matched()
        self.epoch = self.resumed_from_epoch = int(state["epoch"])
        self.rung_accuracies = {int(k): float(v) for k, v in state["rung_accuracies"].items()}
        logger.info("resuming from the rung checkpoint of epoch %d in %s", self.epoch, source)


def _rung_run(model: Any, checkpoint_dir: Path, architecture: str, resume_from: Path | None) -> _RungRun:
    from search_spaces.keras_backend import tf

    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer,
                                     epoch=tf.Variable(0, dtype=tf.int64))
    run = _RungRun(checkpoint, checkpoint_dir, architecture)
    if resume_from is not None and (resume_from / RUNG_STATE_NAME).is_file():
        run.restore(resume_from)
    return run


def fit_in_rungs(model: Any, dataset: Dataset, cfg: TrainConfig, plan: RungPlan, judge: RungJudge, *,
                 checkpoint_dir: Path, architecture: str, resume_from: Path | None = None) -> TrainResult:
    """Train ``model`` rung by rung; at each decision rung ``judge`` says whether it goes on.

    The learning-rate schedule spans ``plan.total_epochs`` whatever rung the training stops at, so a
    promoted training continues its own schedule. At every decision rung the weights, the optimizer
    state (moments and step counter) and the rung accuracies are written to ``checkpoint_dir``; with
    ``resume_from`` holding such a checkpoint of the same architecture, training resumes there
    instead of starting again (asynchronous successive halving, Li et al. 2020, "A System for
    Massively Parallel Hyperparameter Tuning"). ``details`` gets ``rung_accuracies``,
    ``stopped_at_epoch`` (None: trained to the end) and ``resumed_from_epoch``.
    """
    start = time.perf_counter()
    _seed(cfg.seed)
    if cfg.bn_momentum is not None:
        set_bn_momentum(model, cfg.bn_momentum)
    steps = _steps_per_epoch(dataset, cfg)
    compile_for_training(model, cfg, steps, plan.total_epochs)
    run = _rung_run(model, Path(checkpoint_dir), architecture, resume_from)
    guard, history, stopped_at, validation = _DivergenceGuard(), {}, None, None
    for boundary in (b for b in plan.boundaries if b > run.epoch):
        _fit_segment(model, dataset, cfg, run.epoch, boundary, guard, history)
        run.epoch = boundary
        if guard.reason is not None or boundary == plan.total_epochs:
            break
        validation = tuple(float(v) for v in model.evaluate(dataset.val, verbose=0))
        run.rung_accuracies[boundary] = validation[1]
        run.save()
        if not judge(boundary, validation[1]):
            stopped_at = boundary
            break
    val_loss, val_accuracy = validation if stopped_at else _final_validation(model, dataset, guard)
    details = {"steps_per_epoch": steps, "rung_accuracies": dict(run.rung_accuracies),
               "stopped_at_epoch": stopped_at, "resumed_from_epoch": run.resumed_from_epoch}
    return TrainResult(history=history, val_accuracy=val_accuracy, val_loss=val_loss,
                       seconds=time.perf_counter() - start, epochs_completed=run.epoch,
                       diverged=guard.reason is not None, divergence_reason=guard.reason, details=details)


def _seed(seed: int) -> None:
    from search_spaces.keras_backend import keras

    keras.utils.set_random_seed(seed)


def _fit_segment(model: Any, dataset: Dataset, cfg: TrainConfig, first_epoch: int, end_epoch: int,
                 guard: _DivergenceGuard, history: dict[str, list[float]]) -> None:
    """Epochs ``first_epoch`` to ``end_epoch`` (Keras' ``initial_epoch``), history appended."""
    fitted = model.fit(dataset.train.repeat() if cfg.steps_per_epoch else dataset.train,
                       initial_epoch=first_epoch, epochs=end_epoch, steps_per_epoch=cfg.steps_per_epoch,
                       validation_data=dataset.val if cfg.validate_each_epoch else None,
                       callbacks=[guard.callback], verbose=0)
    for key, values in fitted.history.items():
        history.setdefault(key, []).extend(float(v) for v in values)


def _final_validation(model: Any, dataset: Dataset, guard: _DivergenceGuard) -> tuple[float | None, float | None]:
    if guard.reason is not None:
        return None, None
    val_loss, val_accuracy = (float(v) for v in model.evaluate(dataset.val, verbose=0))
    if not math.isfinite(val_loss):
        guard.reason = f"validation loss is {val_loss} after training"
    return val_loss, val_accuracy


__all__ = ["OPTIMIZERS", "RUNG_STATE_NAME", "RungJudge", "RungPlan", "RungTraining", "TrainConfig", "TrainResult",
           "fit", "fit_in_rungs", "make_optimizer", "make_schedule", "set_bn_momentum",
           "smoothed_sparse_crossentropy", "train_model"]
