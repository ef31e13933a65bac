"""TensorFlow's GPU memory growth is set in every trial process (two trials may share one GPU)."""

from __future__ import annotations

import subprocess
import sys
import types

from nas.strategies._setup import TF_GPU_GROWTH_ENV, allow_gpu_memory_growth


def test_set_before_tensorflow_is_imported(monkeypatch):
    monkeypatch.delenv(TF_GPU_GROWTH_ENV, raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    allow_gpu_memory_growth()
    assert __import__("os").environ[TF_GPU_GROWTH_ENV] == "true"  # TensorFlow reads it on first GPU use


def test_set_on_every_gpu_when_tensorflow_is_already_loaded(monkeypatch):
    grown = []
    experimental = types.SimpleNamespace(set_memory_growth=lambda gpu, on: grown.append((gpu, on)))
    config = types.SimpleNamespace(list_physical_devices=lambda kind: ["GPU:0", "GPU:1"] if kind == "GPU" else [],
                                   experimental=experimental)
    monkeypatch.setitem(sys.modules, "tensorflow", types.SimpleNamespace(config=config))
    allow_gpu_memory_growth()
    assert grown == [("GPU:0", True), ("GPU:1", True)]


def test_the_real_tensorflow_accepts_it():
    code = ("from nas.strategies._setup import allow_gpu_memory_growth; allow_gpu_memory_growth(); "
            "import tensorflow as tf; allow_gpu_memory_growth(); print(tf.config.list_physical_devices('GPU'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
