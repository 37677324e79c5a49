"""Classifiers of Roulette snapshot frames (the ``Classifier`` port): the bundled open_nsfw model on
onnxruntime, run in a worker pool off the event loop, or ``off`` (never flags)."""

from __future__ import annotations

from palaver.adapters.classifier.off import ClassifierOff
from palaver.adapters.classifier.pool import ClassifierPool

__all__ = ["ClassifierOff", "ClassifierPool", "make_classifier"]


def make_classifier(kind: str, *, workers: int = 1) -> ClassifierPool | ClassifierOff:
    """The classifier for ``PALAVER_CLASSIFIER``: "onnx" (a pool of ``workers`` processes, started
    with the first frame) or "off"."""
    if kind == "off":
        return ClassifierOff()
    if kind == "onnx":
        return ClassifierPool(workers=workers, executor="process", intra_op_threads=1)
    raise ValueError(f"unknown classifier {kind!r}")
