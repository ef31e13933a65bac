"""Weight-sharing supernet of a search space: train once, score each candidate with inherited weights.

Once-for-All (Cai et al. 2020) and BigNAS (Yu et al. 2020): :func:`train_supernet` trains every subnet
of a :class:`search_spaces.SearchSpace` at once (sandwich rule, in-place distillation);
:class:`Supernet` loads it and extracts a subnet into the builder's standalone model;
:class:`SupernetEvaluator` scores a candidate like :class:`evaluators.TrainingEvaluator` does, with
the inherited weights instead of a proxy training. See docs/supernet.md.

Importing this package does not import TensorFlow.
"""

from evaluators.supernet.evaluator import SupernetEvaluator
from evaluators.supernet.spec import SupernetError, SupernetSpec, SupernetTrainConfig, space_fingerprint
from evaluators.supernet.supernet import Supernet
from evaluators.supernet.train import train_supernet

__all__ = ["Supernet", "SupernetError", "SupernetEvaluator", "SupernetSpec", "SupernetTrainConfig",
           "space_fingerprint", "train_supernet"]
