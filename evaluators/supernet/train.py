"""Train a supernet with the sandwich rule and in-place distillation, resumable per epoch.

Each step (Yu et al. 2020, "BigNAS"; Yu & Huang 2019, "Universally Slimmable Networks"; Cai et al.
2020, "Once-for-All", which distils from a separately trained teacher instead):

1. the largest subnet learns from the labels (label smoothing), at the largest resolution;
2. the smallest subnet (smallest resolution) and ``sandwich_random_subnets`` uniformly random ones (one
   random resolution per step) learn from the largest's soft predictions (stop-gradient), or from the
   labels when ``distillation`` is off (with progressive shrinking, Cai et al. 2020, the first epochs
   vary only some kinds of choice, see :class:`SupernetTrainConfig`);
3. the summed gradients update the shared weights once (AdamW, warm-up then cosine decay).

Smaller resolutions are the max-resolution batch resized in the graph. After every epoch the weights,
the optimizer state and ``supernet.json`` are written, so a second call on the same folder resumes.
"""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path
from typing import Any

from evaluators.datasets import DatasetConfig, load_dataset
from evaluators.supernet.layout import SupernetLayout
from evaluators.supernet.spec import SupernetError, SupernetSpec, SupernetTrainConfig
from evaluators.supernet.store import Manifest, read_manifest, write_manifest
from search_spaces.space import SearchSpace

__all__ = ["train_supernet"]

logger = logging.getLogger(__name__)
_KEEP_CHECKPOINTS = 2


def _check_resume(folder: Path, spec: SupernetSpec, cfg: SupernetTrainConfig) -> Manifest | None:
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    differences = manifest.spec.differences(spec)
    if differences:
        raise SupernetError(f"{folder} holds a supernet for another space or dataset (stored != requested): "
                            + "; ".join(differences))
    if manifest.config != cfg:
        stored, wanted = manifest.config.to_dict(), cfg.to_dict()
        changed = [f"{k}: {stored[k]!r} != {wanted[k]!r}" for k in wanted if stored.get(k) != wanted[k]]
        raise SupernetError(f"{folder} holds a supernet trained with another config (stored != requested): "
                            + "; ".join(changed))
    return manifest


def _optimizer(cfg: SupernetTrainConfig, steps: int) -> Any:
    from evaluators.training import TrainConfig, make_optimizer

    train_cfg = TrainConfig(epochs=cfg.epochs, optimizer="adamw", lr=cfg.learning_rate,
                            warmup_epochs=cfg.warmup_epochs, weight_decay=cfg.weight_decay,
                            batch_size=cfg.batch_size, seed=cfg.seed)
    return make_optimizer(train_cfg, steps, cfg.epochs)


def _make_step(network: Any, optimizer: Any, cfg: SupernetTrainConfig, num_classes: int) -> Any:
    """One sandwich step, run eagerly block by block (each block a traced function, see
    :meth:`SupernetNetwork._compiled_block`), with one traced optimizer update."""
    from evaluators.training import smoothed_sparse_crossentropy
    from search_spaces.keras_backend import keras, tf

    hard = smoothed_sparse_crossentropy(num_classes, cfg.label_smoothing)
    variables = network.trainable
    big = max(network.layout.space.resolution)
    apply = tf.function(lambda grads: optimizer.apply_gradients(zip(grads, variables)), autograph=False)

    def step(images: Any, labels: Any, codes: list[tuple[int, ...]], sizes: list[int]) -> tuple[float, float]:
        with tf.GradientTape() as tape:
            teacher = network.forward(images, codes[0], big, True)
            teacher_loss = tf.reduce_mean(hard(labels, teacher))
            soft = tf.stop_gradient(teacher)
            total = teacher_loss
            for code, size in zip(codes[1:], sizes[1:]):
                inputs = images if size == big else tf.image.resize(images, (size, size), antialias=True)
                probs = network.forward(inputs, code, size, True)
                loss = keras.losses.categorical_crossentropy(soft, probs) if cfg.distillation else hard(labels, probs)
                total += tf.reduce_mean(loss)
        grads = tape.gradient(total, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        apply(grads)
        return float(teacher_loss), float(total)

    return step


def _epoch_codes(layout: SupernetLayout, cfg: SupernetTrainConfig, epoch: int,
                 steps: int) -> list[tuple[list[tuple[int, ...]], list[int]]]:
    """Per step: encoded subnets [largest, smallest, random...] and their resolutions; seeded per epoch.
    In a progressive-shrinking epoch (``cfg.elastic_at``) the smallest and random subnets vary only the
    elastic kinds, and an epoch with none trains the largest subnet alone."""
    rng = random.Random(cfg.seed * 100_003 + epoch)
    elastic = cfg.elastic_at(epoch)
    largest, smallest = layout.extreme("max"), layout.extreme("min", elastic)
    resolutions = layout.space.resolution if elastic is None or "resolution" in elastic else [largest.resolution]
    out = []
    for _ in range(steps):
        resolution = rng.choice(resolutions)
        if elastic == frozenset():
            archs = [largest]
        else:
            archs = [largest, smallest, *(layout.sample(rng, resolution, elastic)
                                          for _ in range(cfg.sandwich_random_subnets))]
        out.append(([layout.encode(a) for a in archs], [a.resolution for a in archs]))
    return out


def train_supernet(space: SearchSpace, dataset_cfg: DatasetConfig, cfg: SupernetTrainConfig, out_dir: str | Path,
                   *, progress: bool = True) -> Path:
    """Train (or resume) the supernet of ``space`` on ``dataset_cfg`` into ``out_dir``; returns ``out_dir``.

    A folder holding a supernet for another space, dataset or config raises :class:`SupernetError`.
    """
    from tqdm.auto import tqdm

    from evaluators.supernet.network import SupernetNetwork
    from search_spaces.keras_backend import keras, tf

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    spec = SupernetSpec.for_space(space, dataset_cfg.name)
    manifest = _check_resume(folder, spec, cfg)
    if manifest is not None and manifest.finished:
        logger.info("supernet in %s is already trained (%d epochs)", folder, manifest.epochs_done)
        return folder
    layout = SupernetLayout(space)
    dataset = load_dataset(dataset_cfg, resolution=max(space.resolution), channels=space.channels,
                           batch_size=cfg.batch_size, with_test=False)
    if dataset.num_classes != space.num_classes:
        raise SupernetError(f"space has {space.num_classes} classes, dataset {dataset_cfg.name!r} has "
                            f"{dataset.num_classes}; adapt the space with with_input(num_classes=...)")
    batches = int(dataset.train.cardinality())
    steps = max(1, math.ceil(batches * cfg.train_fraction))
    keras.utils.set_random_seed(cfg.seed)
    network = SupernetNetwork(layout, seed=cfg.seed, bn_momentum=cfg.bn_momentum)
    optimizer = _optimizer(cfg, steps)
    optimizer.build(network.trainable)
    checkpoint = tf.train.Checkpoint(net=network, optimizer=optimizer)
    done, history, seconds = 0, [], 0.0
    if manifest is not None and manifest.checkpoint:
        checkpoint.read(str(folder / manifest.checkpoint)).assert_existing_objects_matched()
        done, history, seconds = manifest.epochs_done, list(manifest.history), manifest.train_seconds
        logger.info("resuming the supernet in %s after epoch %d of %d", folder, done, cfg.epochs)
    step = _make_step(network, optimizer, cfg, dataset.num_classes)
    bar = tqdm(total=cfg.epochs * steps, initial=done * steps, desc="supernet", unit="step", disable=not progress,
               dynamic_ncols=True)
    try:
        for epoch in range(done, cfg.epochs):
            start = time.perf_counter()
            teacher_sum = total_sum = 0.0
            for (images, labels), (codes, sizes) in zip(dataset.train.take(steps),
                                                       _epoch_codes(layout, cfg, epoch, steps)):
                teacher, total = step(images, labels, codes, sizes)
                if not (math.isfinite(teacher) and math.isfinite(total)):
                    raise SupernetError(f"supernet training diverged at epoch {epoch + 1} (loss {total}); "
                                        f"the last checkpoint is epoch {done}")
                teacher_sum, total_sum = teacher_sum + teacher, total_sum + total
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, teacher_loss=f"{teacher:.3f}")
            seconds += time.perf_counter() - start
            done = epoch + 1
            history.append({"epoch": done, "teacher_loss": teacher_sum / steps, "sandwich_loss": total_sum / steps})
            prefix = f"checkpoints/epoch-{done:04d}"
            checkpoint.write(str(folder / prefix))
            manifest = Manifest(spec=spec, config=cfg, space=space.to_dict(), epochs_done=done,
                                finished=done == cfg.epochs, checkpoint=prefix, history=tuple(history),
                                train_seconds=seconds)
            write_manifest(folder, manifest)
            _prune(folder, done)
            logger.info("supernet epoch %d/%d: teacher loss %.4f (%.0f s)", done, cfg.epochs,
                        history[-1]["teacher_loss"], time.perf_counter() - start)
    finally:
        bar.close()
    return folder


def _prune(folder: Path, done: int) -> None:
    """Keep the last checkpoints only."""
    for path in (folder / "checkpoints").glob("epoch-*"):
        try:
            number = int(path.name.split(".")[0].split("-")[1])
        except (IndexError, ValueError):
            continue
        if number <= done - _KEEP_CHECKPOINTS:
            path.unlink()
