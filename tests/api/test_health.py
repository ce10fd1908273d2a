from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import load_settings
from app.main import create_app


def test_health_and_ready_on_the_embedded_default(sqlite_url: str) -> None:
    app = create_app(load_settings(database_url=sqlite_url, scheduler_enabled=False))
    with TestClient(app) as client:
        assert client.get("/health").json() == {"status": "ok"}
        ready = client.get("/ready")
        assert ready.status_code == 200
        body = ready.json()
        assert (body["status"], body["database"], body["scheduler_leader"]) == (
            "ready",
            "ok",
            False,
        )
        assert body["freshness"]["prices"]["fresh"] is False  # nothing stored yet
        assert body["freshness"]["prices"]["oldest_latest_day"] is None


def test_ready_reports_freshness_per_kind(client: TestClient) -> None:
    freshness = client.get("/ready").json()["freshness"]
    assert freshness["prices"] == {
        "oldest_latest_day": "2025-03-12",
        "expected_day": "2025-03-12",
        "lag_trading_days": 0,
        "fresh": True,
    }
    assert freshness["fx"]["fresh"] is True


def test_ready_is_503_with_retry_after_when_the_database_is_down() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:9/nothing?connect_timeout=1"
    app = create_app(load_settings(database_url=url, scheduler_enabled=False))
    with TestClient(app) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {"status": "unavailable", "database": "unreachable"}
    assert "nobody" not in response.text


def test_serve_with_scheduler_ingests_within_seconds(sqlite_url: str) -> None:
    import time

    settings = load_settings(
        database_url=sqlite_url, leader_retry_seconds=0.2, initial_backfill_days=5
    )
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not client.get("/ready").json()["scheduler_leader"]:
            time.sleep(0.05)
        assert client.get("/ready").json()["scheduler_leader"] is True
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        from tests.ingest.helpers import count, daily_bar

        while time.monotonic() < deadline and count(runtime.engine, daily_bar) < 35:
            time.sleep(0.05)
        assert count(runtime.engine, daily_bar) == 35  # 7 symbols x 5 trading days
