"""Evaluators: data, proxy training, TFLite conversion and metrics of the deployed int8 model.

Importing this package does not import TensorFlow; the functions import it when they run.
"""

from evaluators.conversion import FORMATS, ConversionResult, QATConfig, convert
from evaluators.data import DATASET_NAMES, Dataset, DatasetConfig, load_dataset
from evaluators.errors import ConversionError, DatasetError, MetricsError
from evaluators.metrics import ClassificationMetrics, evaluate_tflite

__all__ = [
    "DATASET_NAMES",
    "FORMATS",
    "ClassificationMetrics",
    "ConversionError",
    "ConversionResult",
    "Dataset",
    "DatasetConfig",
    "DatasetError",
    "MetricsError",
    "QATConfig",
    "convert",
    "evaluate_tflite",
    "load_dataset",
]
