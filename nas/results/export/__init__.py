"""Export one model of a study: retrain, convert to int8, write a verified folder (model, sidecar,
model card, summary). See :mod:`nas.results.export.exporter`."""

__all__: list[str] = []
