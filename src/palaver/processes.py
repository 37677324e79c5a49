"""Child processes that must not outlive their parent (workers of the supervisor, classifier workers)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> None:
    """Ask the kernel to SIGTERM this (child) process when its parent dies, however it dies (Linux
    ``PR_SET_PDEATHSIG``). With ``parent_pid``, also exit at once if that parent is already gone
    (it died before the request took effect)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(0)
