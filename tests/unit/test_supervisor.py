"""The supervisor's decisions: which configurations may run in several processes, each worker's
environment, the restart backoff and the open-file limit; the CLI refuses before touching anything."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest
from typer.testing import CliRunner

from palaver.cli import cli
from palaver.config import Settings
from palaver.supervisor import (
    FIRST_RESTART_DELAY,
    MAX_RESTART_DELAY,
    STABLE_SECONDS,
    WorkersRefused,
    check_workers,
    raise_open_file_limit,
    restart_delay,
    worker_command,
    worker_specs,
)

REDIS = "redis://127.0.0.1:6379/0"


def _settings(**values: object) -> Settings:
    return Settings.model_construct(**(Settings().model_dump() | {"redis_url": REDIS} | values))


def test_a_shareable_configuration_passes() -> None:
    check_workers(_settings(database_url="postgresql+asyncpg://db/palaver"), 4)
    check_workers(_settings(), 2)  # a SQLite file in WAL mode is shared too (docs/operations.md)
    check_workers(_settings(redis_url=None, broker="memory"), 1)  # one process needs nothing


@pytest.mark.parametrize(
    ("values", "workers", "message"),
    [
        ({}, 0, "at least 1"),
        ({"redis_url": None}, 2, "Redis broker"),
        ({"broker": "memory"}, 2, "Redis broker"),
        ({"node_id": 1023}, 2, "node ids"),
        ({"node_id": 1000}, 30, "node ids"),
        ({"http_port": 0}, 2, "fixed ports"),
        ({"gateway_port": 0}, 2, "fixed ports"),
        ({"database_url": "sqlite+aiosqlite:///:memory:"}, 2, "in-memory"),
    ],
)
def test_configurations_that_cannot_be_shared_are_refused(
    values: dict[str, object], workers: int, message: str
) -> None:
    with pytest.raises(WorkersRefused, match=message):
        check_workers(_settings(**values), workers)


def test_each_worker_gets_its_index_node_and_the_redis_broker() -> None:
    settings = _settings(node_id=7, host="127.0.0.2", http_port=9000, gateway_port=9001)
    specs = worker_specs(settings, 3, {"PATH": "/bin", "PALAVER_NODE_ID": "7"})
    assert [s.index for s in specs] == [0, 1, 2]
    assert [s.env["PALAVER_NODE_ID"] for s in specs] == ["7", "8", "9"]
    assert [s.env["PALAVER_WORKER_INDEX"] for s in specs] == ["0", "1", "2"]
    for spec in specs:
        assert spec.env["PATH"] == "/bin"
        assert spec.env["PALAVER_WORKERS"] == "3"
        assert spec.env["PALAVER_BROKER"] == "redis"
        assert (spec.env["PALAVER_HOST"], spec.env["PALAVER_HTTP_PORT"], spec.env["PALAVER_GATEWAY_PORT"]) == (
            "127.0.0.2",
            "9000",
            "9001",
        )
    assert worker_command()[-3:] == ["serve", "--worker", "--no-migrate"]


def test_the_restart_backoff_doubles_while_workers_die_young() -> None:
    delay = restart_delay(0.0, 0.1)
    assert delay == FIRST_RESTART_DELAY
    seen = [delay]
    for _ in range(10):
        delay = restart_delay(delay, 0.1)
        seen.append(delay)
    assert seen[:3] == [FIRST_RESTART_DELAY, 2 * FIRST_RESTART_DELAY, 4 * FIRST_RESTART_DELAY]
    assert seen[-1] == MAX_RESTART_DELAY
    assert restart_delay(MAX_RESTART_DELAY, STABLE_SECONDS) == FIRST_RESTART_DELAY  # it had run long enough


def test_the_open_file_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = int(Path("/proc/sys/fs/nr_open").read_text())
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        assert raise_open_file_limit() == hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def test_the_cli_refuses_before_migrating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PALAVER_REDIS_URL", "PALAVER_BROKER", "PALAVER_DATABASE_URL", "PALAVER_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PALAVER_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "Redis broker" in result.output
    assert not (tmp_path / "palaver.db").exists()
