"""The real open_nsfw classifier: the bundled model, Pillow-generated frames, the worker pool."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from palaver.adapters.classifier import ClassifierOff, ClassifierPool
from palaver.adapters.classifier.onnx import OnnxScorer, decode_jpeg
from palaver.errors import InvalidInput, Unavailable
from tests.integration.test_gateway_wiring import gateway, guest
from tests.support.live_server import live_server


def jpeg(img: Image.Image, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85, **options)
    return buf.getvalue()


def plain(colour: tuple[int, int, int] = (40, 90, 200), size: tuple[int, int] = (320, 240)) -> bytes:
    return jpeg(Image.new("RGB", size, colour))


def noise(seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    return jpeg(Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)))


def skin_gradient() -> bytes:
    x = np.linspace(0.0, 1.0, 320)[None, :, None]
    y = np.linspace(0.0, 1.0, 240)[:, None, None]
    pixels = np.array([224.0, 172.0, 140.0]) * (0.6 + 0.4 * x) * (0.7 + 0.3 * y)
    return jpeg(Image.fromarray(pixels.astype(np.uint8)))


FRAMES = {"plain": plain(), "noise": noise(), "skin": skin_gradient(), "hd": plain((10, 200, 30), (1280, 720))}


def with_size(data: bytes, width: int, height: int) -> bytes:
    """The same JPEG with the frame header (SOF0) claiming other dimensions."""
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[sof + 9 :]


@pytest.fixture(scope="module")
def scorer() -> OnnxScorer:
    return OnnxScorer(intra_op_threads=1)


def test_scores_are_probabilities_and_deterministic(scorer: OnnxScorer) -> None:
    scores = {name: scorer.score(frame) for name, frame in FRAMES.items()}
    assert all(0.0 <= s <= 1.0 for s in scores.values()), scores
    assert {name: scorer.score(frame) for name, frame in FRAMES.items()} == scores
    assert len(set(scores.values())) == len(scores)  # the model does look at the pixels
    assert all(s < 0.8 for s in scores.values()), scores  # none of these is anywhere near nudity


def test_a_second_scorer_gives_the_same_scores(scorer: OnnxScorer) -> None:
    other = OnnxScorer(intra_op_threads=2)
    for frame in FRAMES.values():
        assert other.score(frame) == pytest.approx(scorer.score(frame), abs=1e-5)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a jpeg at all",
        b"\xff\xd8\xff" + b"\x00" * 100,  # JPEG magic, then garbage
        FRAMES["noise"][: len(FRAMES["noise"]) // 2],  # truncated
        with_size(plain(), 60000, 60000),  # a decompression bomb
        with_size(plain(), 0, 240),
    ],
    ids=["empty", "text", "magic-only", "truncated", "huge", "zero-width"],
)
def test_undecodable_bytes_are_invalid_image(scorer: OnnxScorer, data: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        scorer.score(data)
    assert caught.value.code == "invalid_image"


def test_only_the_jpeg_decoder_is_used() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, "PNG")
    with pytest.raises(InvalidInput):
        decode_jpeg(buf.getvalue())
    grey = decode_jpeg(jpeg(Image.new("L", (64, 48), 128)))
    assert grey.mode == "RGB"


def test_large_frames_are_decoded_at_reduced_scale() -> None:
    assert decode_jpeg(FRAMES["hd"]).size == (640, 360)  # 1/2 scale: both sides still at least 256
    assert decode_jpeg(FRAMES["plain"]).size == (320, 240)


@pytest.mark.parametrize("kind", ["process", "thread"])
async def test_pool_gives_the_direct_scores(scorer: OnnxScorer, kind: str) -> None:
    pool = ClassifierPool(workers=2, executor=kind)  # type: ignore[arg-type]
    try:
        for frame in FRAMES.values():
            assert await pool.score(frame) == pytest.approx(scorer.score(frame), abs=1e-6)
        with pytest.raises(InvalidInput) as caught:
            await pool.score(b"\xff\xd8\xffnope")
        assert caught.value.code == "invalid_image"
    finally:
        await pool.close()


async def test_pool_keeps_the_event_loop_running() -> None:
    """While frames are scored, a ticker on the loop keeps ticking: no gap as long as the work."""
    pool = ClassifierPool(workers=1, executor="process")
    await pool.start()
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    try:
        began = time.perf_counter()
        for _ in range(12):
            await pool.score(FRAMES["noise"])
        elapsed = time.perf_counter() - began
    finally:
        done.set()
        await task
        await pool.close()
    assert len(gaps) >= 12
    assert max(gaps) < elapsed / 3, (max(gaps), elapsed)  # scoring on the loop would stall it ~elapsed


async def test_pool_refuses_past_max_pending() -> None:
    pool = ClassifierPool(workers=1, executor="thread", max_pending=1)
    try:
        first = asyncio.create_task(pool.score(FRAMES["plain"]))
        await asyncio.sleep(0)  # the first frame is now pending
        with pytest.raises(Unavailable) as caught:
            await pool.score(FRAMES["plain"])
        assert caught.value.code == "classifier_busy"
        assert 0.0 <= await first <= 1.0
        assert 0.0 <= await pool.score(FRAMES["plain"]) <= 1.0  # free again
    finally:
        await pool.close()


async def test_pool_recovers_from_a_dead_worker() -> None:
    pool = ClassifierPool(workers=1, executor="process")
    try:
        await pool.start()
        executor = pool._executor
        assert executor is not None
        for process in list(executor._processes.values()):  # type: ignore[attr-defined]
            process.kill()
            process.join()
        with pytest.raises(Unavailable) as caught:
            await pool.score(FRAMES["plain"])
        assert caught.value.code == "classifier_unavailable"
        assert 0.0 <= await pool.score(FRAMES["plain"]) <= 1.0
    finally:
        await pool.close()


async def test_closed_pool_refuses() -> None:
    pool = ClassifierPool(workers=1, executor="thread")
    await pool.close()
    with pytest.raises(Unavailable):
        await pool.score(FRAMES["plain"])


async def test_off_never_flags() -> None:
    off = ClassifierOff()
    assert await off.score(b"anything") == 0.0
    await off.close()


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.add(int(stat.parent.name))
    return found


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


async def test_palaver_serve_scores_snapshots_with_the_real_model(tmp_path: Path) -> None:
    """``palaver serve`` as configured by default: the pool starts with the first frame, a clean frame
    is ok, garbage is invalid_image, and the worker process goes away with the server."""
    with live_server(tmp_path / "server") as server:
        async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
            a, b = await guest(http), await guest(http)
            config = await http.get("/api/v1/roulette/config", headers=a.headers)
            expected = {"snapshot_interval_seconds": 20.0, "snapshot_max_bytes": 262144, "classifier": True}
            assert config.json() == expected
            async with gateway(server, a) as ws_a, gateway(server, b) as ws_b:
                assert (await ws_a.result("roulette.start", {"languages": ["en"]}))["state"] == "searching"
                pair_id = (await ws_b.result("roulette.start", {"languages": ["en"]}))["pair_id"]
                params = {"pair_id": pair_id}
                headers = {"Content-Type": "image/jpeg"}
                ok = await http.post("/api/v1/roulette/snapshots", params=params, content=FRAMES["skin"],
                                     headers=headers | a.headers)
                assert (ok.status_code, ok.json()) == (200, {"action": "ok"})
                bad = await http.post("/api/v1/roulette/snapshots", params=params, content=b"\xff\xd8\xff junk",
                                      headers=headers | b.headers)
                assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_image")
                assert (await ws_a.result("roulette.status"))["state"] == "paired"
        workers = children_of(server.process.pid)
        assert workers, "the classifier runs in a child process"
    # however the server ended, its classifier worker (and multiprocessing's tracker) end with it
    deadline = time.monotonic() + 20
    while alive(workers):
        assert time.monotonic() < deadline, f"classifier processes outlived the server: {alive(workers)}"
        await asyncio.sleep(0.05)  # waiting for other processes to exit, not for time to pass
