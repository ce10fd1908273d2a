from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from app import db
from app.cli import cli
from app.config import get_settings
from tests.ingest.helpers import count, daily_bar, fx_rate, ingest_run


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Iterator[str]:
    monkeypatch.setenv("TICKER_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("TICKER_SYMBOLS", "AAPL,MSFT")
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


def test_backfill_is_resumable_and_reports(env: str) -> None:
    runner = CliRunner()
    first = runner.invoke(
        cli, ["backfill", "--start", "2025-03-03", "--end", "2025-03-07", "--symbols", "AAPL"]
    )
    assert first.exit_code == 0, first.output
    assert "prices: 1 of 1 symbols have days missing" in first.output
    engine = db.make_engine(env)
    assert count(engine, daily_bar) == 5
    second = runner.invoke(cli, ["backfill", "--start", "2025-03-03", "--end", "2025-03-14"])
    assert second.exit_code == 0, second.output
    assert "prices: 2 of 2 symbols have days missing" in second.output
    assert count(engine, daily_bar) == 20
    assert "stored 15, unchanged 0" in second.output  # AAPL's five stored days were skipped
    third = runner.invoke(cli, ["backfill", "--start", "2025-03-03", "--end", "2025-03-14"])
    assert "prices: 0 of 2 symbols have days missing" in third.output
    assert "fx: nothing missing" in third.output
    assert count(engine, fx_rate) == 6 * 10
    engine.dispose()


@pytest.mark.parametrize(
    "args",
    [
        ["backfill"],
        ["backfill", "--days", "3", "--start", "2025-01-01"],
        ["backfill", "--start", "2025-03-10", "--end", "2025-03-01"],
        ["backfill", "--start", "not-a-date"],
        ["backfill", "--start", "2025-01-01", "--end", "2999-01-01"],
    ],
)
def test_backfill_rejects_bad_ranges_without_writing(env: str, args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    engine = db.make_engine(env)
    db.upgrade(engine)
    assert count(engine, ingest_run) == 0
    engine.dispose()


def test_ingest_and_db_upgrade(env: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(cli, ["ingest", "--job", "fx"])
    assert result.exit_code == 0, result.output
    assert "success fx_daily" in result.output
