"""Suite-wide setup.

Keras 2 (tf_keras) must be chosen before anything (keras_tuner, ray, tfmot) imports TensorFlow; see
search_spaces/keras_backend.py. Setting the variable here is enough and keeps collection cheap.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# CI=true: a skipped test fails unless marked skip_ok_in_ci (see tests/ci_skips.py). Two pytest-xdist
# workers: tests sharing an expensive session fixture or Ray stay on one worker (tests/xdist_groups.py).
from tests.ci_skips import pytest_configure, pytest_make_collect_report, pytest_runtest_makereport  # noqa: E402
from tests.xdist_groups import pytest_collection_modifyitems  # noqa: E402

__all__ = ["pytest_collection_modifyitems", "pytest_configure", "pytest_make_collect_report",
           "pytest_runtest_makereport"]
