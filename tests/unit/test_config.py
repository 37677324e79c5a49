from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from palaver.config import Settings, load_secrets


def test_secrets_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_secrets(settings)
    second = load_secrets(settings)
    assert first == second
    assert len(first.session_secret) >= 40 and first.session_secret != first.turn_secret
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["turn_secret"] == first.turn_secret


def test_secrets_from_the_environment_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PALAVER_TURN_SECRET", "from-env")
    settings = Settings(data_dir=tmp_path)
    assert load_secrets(settings).turn_secret == "from-env"
    assert "turn_secret" not in json.loads((tmp_path / "secrets.json").read_text())


def test_defaults_are_embedded(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url().startswith("sqlite+aiosqlite:///")
    assert settings.resolved_broker() == "memory"
    assert "http://127.0.0.1:8000" in settings.resolved_origins()
    assert "http://localhost:8000" in settings.resolved_origins()
    redis = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0")
    assert redis.resolved_broker() == "redis"
    public = Settings(public_url="https://chat.example.org/")
    assert public.resolved_origins() == frozenset({"https://chat.example.org"})
