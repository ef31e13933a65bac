"""Person / no-person curation: a pre-split image folder built from COCO and WiderPerson annotations.

:func:`curate_person_dataset` writes ``OUT/{train,val,test}/{person,no_person}/`` (plus a manifest),
the layout the ``image-folder`` source (:mod:`evaluators.datasets.image_folder`) reads as is:
``DatasetConfig(name="folder:OUT")``. ``nas data person`` is its command line.
"""

from evaluators.datasets.person.annotations import AnnotatedImage, AnnotationError, Box, read_coco, read_widerperson
from evaluators.datasets.person.curate import (
    LABELS,
    NO_PERSON,
    PERSON,
    CurationSummary,
    DataError,
    PersonDatasetConfig,
    curate_person_dataset,
    format_summary,
)

__all__ = [
    "LABELS",
    "NO_PERSON",
    "PERSON",
    "AnnotatedImage",
    "AnnotationError",
    "Box",
    "CurationSummary",
    "DataError",
    "PersonDatasetConfig",
    "curate_person_dataset",
    "format_summary",
    "read_coco",
    "read_widerperson",
]
