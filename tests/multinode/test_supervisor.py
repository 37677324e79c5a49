"""``palaver serve --workers 2``: both workers answer on the same ports, a killed worker is started
again, SIGTERM stops everything (refused configurations: tests/unit/test_supervisor.py)."""

from __future__ import annotations

import os
import resource
import signal
from pathlib import Path

import pytest

from tests.support.databases import sqlite_url
from tests.support.workers import NODE_BASE, children, cluster

pytestmark = [pytest.mark.redis, pytest.mark.multinode, pytest.mark.timeout(60)]


def _soft_open_files(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit listed")


def test_workers_share_the_ports_restart_and_stop(tmp_path: Path) -> None:
    with cluster(tmp_path / "cluster", sqlite_url(tmp_path)) as running:
        pids = running.worker_pids()
        assert set(pids) == {0, 1}
        assert running.nodes_answering() == {NODE_BASE, NODE_BASE + 1}  # one port, two processes
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert all(_soft_open_files(pid) == hard for pid in pids.values())

        os.kill(pids[0], signal.SIGKILL)
        restarted = running.wait_all_workers(30.0)
        assert restarted[0] != pids[0] and restarted[1] == pids[1]
        assert running.nodes_answering() == {NODE_BASE, NODE_BASE + 1}
        assert f"worker 0 (pid {pids[0]}) died" in running.log()

        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=30) == 0
        assert children(running.process.pid) == []
        for pid in restarted.values():
            assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
        assert "all workers stopped" in running.log()
