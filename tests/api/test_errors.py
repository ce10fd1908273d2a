from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import load_settings
from app.main import create_app


def test_database_down_is_503_with_retry_after_and_no_internals() -> None:
    url = "postgresql+psycopg://secretuser:hunter2@127.0.0.1:9/nothing?connect_timeout=1"
    app = create_app(load_settings(database_url=url, scheduler_enabled=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/stocks")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "database_unavailable"
    assert "hunter2" not in response.text and "secretuser" not in response.text


def test_an_unexpected_error_is_a_bare_500(sqlite_url: str) -> None:
    app = create_app(load_settings(database_url=sqlite_url, scheduler_enabled=False))

    async def boom() -> None:
        raise RuntimeError("internal detail: /etc/secret")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal error", "details": {}}
    }


def test_openapi_documents_every_endpoint_with_examples(sqlite_url: str) -> None:
    app = create_app(load_settings(database_url=sqlite_url, scheduler_enabled=False))
    with TestClient(app) as client:
        spec = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    paths = set(spec["paths"])
    assert {
        "/api/v1/convert",
        "/api/v1/fx/{base}/{quote}",
        "/api/v1/fx/{base}/{quote}/history",
        "/api/v1/currencies",
        "/api/v1/stocks",
        "/api/v1/stocks/{symbol}/prices",
        "/api/v1/stocks/{symbol}/quote",
        "/api/v1/stocks/top-performers",
        "/api/v1/stocks/{symbol}/performance",
        "/api/v1/ingest/runs",
        "/api/v1/quality/issues",
        "/health",
        "/ready",
    } <= paths
    params = {p["name"]: p for p in spec["paths"]["/api/v1/convert"]["get"]["parameters"]}
    assert params["from"]["schema"]["examples"] == ["USD"] or params["from"].get("examples")
    assert spec["components"]["schemas"]["Conversion"]["examples"][0]["converted"] == "77.20"
