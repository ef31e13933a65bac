"""Evaluators: data, proxy training, TFLite conversion and metrics of the deployed int8 model.

Importing this package does not import TensorFlow; the functions import it when they run.
"""

from evaluators.candidate import CandidateResult, CheapEvaluator, CheapResult, TrainingEvaluator, runtime_versions
from evaluators.conversion import FORMATS, ConversionResult, QATConfig, convert
from evaluators.datasets import DATASET_NAMES, Dataset, DatasetConfig, load_dataset
from evaluators.errors import ConversionError, DatasetError, MetricsError
from evaluators.metrics import ClassificationMetrics, evaluate_tflite
from evaluators.supernet import (
    Supernet,
    SupernetError,
    SupernetEvaluator,
    SupernetSpec,
    SupernetTrainConfig,
    train_supernet,
)
from evaluators.training import RungPlan, RungTraining, TrainConfig, TrainResult, train_model
from evaluators.transfer import build_mobilenet_v2_transfer, train_transfer

__all__ = [
    "DATASET_NAMES",
    "FORMATS",
    "CandidateResult",
    "CheapEvaluator",
    "CheapResult",
    "ClassificationMetrics",
    "ConversionError",
    "ConversionResult",
    "Dataset",
    "DatasetConfig",
    "DatasetError",
    "MetricsError",
    "RungPlan",
    "RungTraining",
    "QATConfig",
    "Supernet",
    "SupernetError",
    "SupernetEvaluator",
    "SupernetSpec",
    "SupernetTrainConfig",
    "TrainConfig",
    "TrainResult",
    "TrainingEvaluator",
    "build_mobilenet_v2_transfer",
    "convert",
    "evaluate_tflite",
    "load_dataset",
    "runtime_versions",
    "train_model",
    "train_supernet",
    "train_transfer",
]
