"""Benchmark of the snapshot classifier (open_nsfw on onnxruntime) and of its effect on the event loop.

1. **Cost per frame**: one ``OnnxScorer`` with one onnxruntime thread (``intra_op_num_threads=1``) in
   this process, pinned to one CPU, scores 320×240 JPEG frames back to back (decode, preprocessing
   and inference): ms per frame (mean, p50, p95) and frames per second on one core.
2. **Event-loop lag**: a uvloop event loop runs a probe (``await asyncio.sleep(0.001)``, measuring
   the overshoot) while feeders keep ``ClassifierPool`` busy at full rate, once per executor kind
   (worker process, worker thread), next to a same-run baseline with no classification and, for
   contrast, scoring on the loop itself. Printed: lag p50 / p99 / max and frames per second.

Goals: ≤ 50 ms per frame; lag p99 ≤ 10 ms while classifying. The machine's other load during each
part is printed too (the CPU time of everything else, in % of one core): above ~10 % the figures are
disturbed by other work.

    .venv/bin/python bench/classifier.py                    # 200 frames, 8 s per lag cell
    .venv/bin/python bench/classifier.py --frames 500 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import os
import statistics
import time
from collections.abc import Awaitable, Callable

import numpy as np
from PIL import Image, ImageDraw

from harness import busy_seconds, cpu_seconds, machine, wait_until_quiet
from palaver.adapters.classifier.onnx import OnnxScorer
from palaver.adapters.classifier.pool import ClassifierPool, ExecutorKind

Scorer = Callable[[bytes], Awaitable[float]]
QUIET_WAIT = 30.0  # seconds to wait for the machine to calm down before each measurement (--wait)


def frames(count: int = 8, size: tuple[int, int] = (320, 240)) -> list[bytes]:
    """Camera-like 320×240 JPEGs (quality 80): gradients, shapes and sensor noise, all different."""
    rng = np.random.default_rng(7)
    out = []
    w, h = size
    for n in range(count):
        x = np.linspace(0.0, 1.0, w)[None, :, None]
        y = np.linspace(0.0, 1.0, h)[:, None, None]
        base = rng.uniform(40, 220, 3) * (0.5 + 0.5 * x) * (0.6 + 0.4 * y)
        pixels = np.clip(base + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)
        img = Image.fromarray(pixels)
        draw = ImageDraw.Draw(img)
        for _ in range(6 + n):
            x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            draw.ellipse((x0, y0, x0 + int(rng.integers(20, 120)), y0 + int(rng.integers(20, 120))), fill=colour)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        out.append(buf.getvalue())
    return out


class OtherLoad:
    """CPU used by everything but this process (and its children) over a span, in % of one core."""

    def __init__(self, pids: Callable[[], list[int]] = lambda: []) -> None:
        self._pids = pids

    def __enter__(self) -> OtherLoad:
        self._t = time.perf_counter()
        self._busy = busy_seconds()
        self._own = self._own_cpu()
        return self

    def _own_cpu(self) -> float:
        return cpu_seconds(os.getpid()) + sum(cpu_seconds(p) for p in self._pids())

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self._t
        other = (busy_seconds() - self._busy) - (self._own_cpu() - self._own)
        self.pct = max(0.0, 100.0 * other / elapsed)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cost_per_frame(images: list[bytes], count: int, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    scorer = OnnxScorer(intra_op_threads=1)
    scorer.warm_up()
    for image in images:
        scorer.score(image)
    wait_until_quiet(QUIET_WAIT)
    times = []
    with OtherLoad() as load:
        for n in range(count):
            t = time.perf_counter()
            scorer.score(images[n % len(images)])
            times.append((time.perf_counter() - t) * 1000)
    if cpu is not None:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    mean = statistics.fmean(times)
    print(f"cost per 320x240 frame, 1 onnxruntime thread, pinned to CPU {cpu}: {count} frames")
    print(f"  mean {mean:.1f} ms  p50 {pct(times, 0.5):.1f} ms  p95 {pct(times, 0.95):.1f} ms"
          f"  -> {1000 / mean:.1f} frames/s on one core   (other load {load.pct:.0f}% of a core)")


async def lag_cell(name: str, score: Scorer | None, images: list[bytes], seconds: float, feeders: int,
                   pids: Callable[[], list[int]]) -> None:
    await asyncio.to_thread(wait_until_quiet, QUIET_WAIT)
    lags: list[float] = []
    scored = 0
    stop = time.perf_counter() + seconds

    async def probe() -> None:
        while time.perf_counter() < stop:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - t - 0.001) * 1000)

    async def feed(offset: int) -> None:
        nonlocal scored
        assert score is not None
        n = offset
        while time.perf_counter() < stop:
            await score(images[n % len(images)])
            scored += 1
            n += 1

    with OtherLoad(pids) as load:
        began = time.perf_counter()
        tasks = [probe()] + ([feed(i) for i in range(feeders)] if score is not None else [])
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    rate = f"{scored / elapsed:6.1f} frames/s" if score is not None else "      -       "
    print(f"  {name:<28} lag p50 {pct(lags, 0.5):5.2f} ms  p99 {pct(lags, 0.99):6.2f} ms  max {max(lags):6.2f} ms"
          f"  {rate}  (other load {load.pct:.0f}%)")


def pool_pids(pool: ClassifierPool) -> list[int]:
    executor = pool._executor  # the benchmark counts the workers' CPU as its own
    processes = getattr(executor, "_processes", None) or {}
    return list(processes)


async def event_loop_lag(images: list[bytes], seconds: float, workers: int) -> None:
    print(f"event-loop lag (probe: sleep 1 ms, overshoot), {seconds:.0f} s per cell, {workers} worker(s), "
          f"{workers + 1} feeders keeping them busy:")
    await lag_cell("baseline (no classification)", None, images, seconds, 0, lambda: [])
    kinds: list[ExecutorKind] = ["process", "thread"]
    for kind in kinds:
        pool = ClassifierPool(workers=workers, executor=kind, intra_op_threads=1, max_pending=1000)
        await pool.start()
        try:
            pids = functools.partial(pool_pids, pool)
            await lag_cell(f"pool, {kind}", pool.score, images, seconds, workers + 1, pids)
        finally:
            await pool.close()
    scorer = OnnxScorer(intra_op_threads=1)

    async def on_loop(image: bytes) -> float:
        result = scorer.score(image)
        await asyncio.sleep(0)
        return result

    await lag_cell("on the loop (what not to do)", on_loop, images, min(seconds, 3.0), 1, lambda: [])


def main() -> None:
    global QUIET_WAIT
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200, help="frames for the cost per frame")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each lag cell")
    parser.add_argument("--workers", type=int, default=1, help="classifier workers in the lag cells")
    parser.add_argument("--wait", type=float, default=QUIET_WAIT, help="wait up to this long for a quiet machine")
    parser.add_argument("--cpu", type=int, default=1, help="CPU to pin the cost-per-frame run to (-1: none)")
    args = parser.parse_args()
    QUIET_WAIT = args.wait
    print(machine())
    images = frames()
    kib = statistics.fmean(len(i) for i in images) / 1024
    print(f"frames: {len(images)} distinct 320x240 JPEGs, {kib:.1f} KiB avg")
    cpu = args.cpu if args.cpu >= 0 and args.cpu in os.sched_getaffinity(0) else None
    cost_per_frame(images, args.frames, cpu)
    import uvloop

    uvloop.run(event_loop_lag(images, args.seconds, args.workers))


if __name__ == "__main__":
    main()
