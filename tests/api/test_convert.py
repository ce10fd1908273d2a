from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from app.convert.money import quantize
from app.models import fx_rate


def stored(client: TestClient, quote: str, day: str) -> Decimal:
    engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return connection.execute(
            select(fx_rate.c.rate).where(
                fx_rate.c.base == "USD",
                fx_rate.c.quote == quote,
                fx_rate.c.day == date.fromisoformat(day),
            )
        ).scalar_one()


def test_convert_usd_to_gbp_with_the_stored_rate(client: TestClient) -> None:
    body = client.get(
        "/api/v1/convert",
        params={"amount": "100", "from": "USD", "to": "GBP", "date": "2025-03-12"},
    ).json()
    rate = stored(client, "GBP", "2025-03-12")
    assert body == {
        "amount": "100",
        "from": "USD",
        "to": "GBP",
        "rate": format(rate, "f"),
        "rate_date": "2025-03-12",
        "rate_age_days": 0,
        "converted": str(quantize(100 * rate, "GBP")),
    }


def test_cross_inverse_identity_and_minor_units(client: TestClient) -> None:
    gbp, jpy = stored(client, "GBP", "2025-03-11"), stored(client, "JPY", "2025-03-11")
    cross = client.get(
        "/api/v1/convert", params={"amount": "10", "from": "gbp", "to": "jpy", "date": "2025-03-11"}
    ).json()
    assert (cross["from"], cross["to"]) == ("GBP", "JPY")  # codes are normalised to upper case
    assert Decimal(cross["rate"]) == jpy / gbp
    assert (
        cross["converted"] == str(quantize(10 * jpy / gbp, "JPY")) and "." not in cross["converted"]
    )
    inverse = client.get(
        "/api/v1/convert", params={"amount": "5", "from": "GBP", "to": "USD", "date": "2025-03-11"}
    ).json()
    assert Decimal(inverse["rate"]) == 1 / gbp
    same = client.get(
        "/api/v1/convert",
        params={"amount": "5.5", "from": "EUR", "to": "EUR", "date": "2025-03-11"},
    ).json()
    assert (same["rate"], same["converted"]) == ("1", "5.50")


def test_weekend_uses_friday_and_default_date_is_today(client: TestClient) -> None:
    sunday = client.get(
        "/api/v1/convert", params={"amount": "1", "from": "USD", "to": "CHF", "date": "2025-03-09"}
    ).json()
    assert (sunday["rate_date"], sunday["rate_age_days"]) == ("2025-03-07", 2)
    today = client.get("/api/v1/convert", params={"amount": "1", "from": "USD", "to": "CHF"}).json()
    assert today["rate_date"] == "2025-03-12"  # the pinned clock's today


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"amount": "-1"}, 422, "invalid_amount"),
        ({"amount": "NaN"}, 422, "invalid_amount"),
        ({"amount": "Infinity"}, 422, "invalid_amount"),
        ({"amount": "12345678901234567890"}, 422, "invalid_amount"),
        ({"amount": "1.123456789"}, 422, "invalid_amount"),
        ({"amount": "ten"}, 422, "invalid_amount"),
        ({"date": "2025-13-01"}, 422, "invalid_request"),
        ({"date": "2025-03-13"}, 422, "date_in_future"),
        ({"from": "US"}, 422, "invalid_currency"),
        ({"to": "ZZZ"}, 404, "unknown_currency"),
        ({"date": "2024-01-02"}, 409, "rate_unavailable"),
    ],
)
def test_bad_input_gets_a_clear_error(
    client: TestClient, params: dict[str, str], status: int, code: str
) -> None:
    query = {"amount": "100", "from": "USD", "to": "GBP", "date": "2025-03-12", **params}
    response = client.get("/api/v1/convert", params=query)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def test_missing_parameters_are_422_in_the_same_shape(client: TestClient) -> None:
    response = client.get("/api/v1/convert", params={"from": "USD"})
    assert response.status_code == 422
    problems = {p["field"] for p in response.json()["error"]["details"]["problems"]}
    assert problems == {"amount", "to"}


def test_a_rate_older_than_the_limit_is_refused(engine: object, client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.settings.max_rate_age_days = 0
    try:
        response = client.get(
            "/api/v1/convert",
            params={"amount": "1", "from": "USD", "to": "GBP", "date": "2025-03-09"},
        )
    finally:
        runtime.settings.max_rate_age_days = 5
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"rate_date": "2025-03-07", "rate_age_days": 2}


def test_conversion_never_queries_the_database(client: TestClient) -> None:
    engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for quote in ("GBP", "JPY", "EUR", "CHF"):
            assert (
                client.get(
                    "/api/v1/convert", params={"amount": "3", "from": "USD", "to": quote}
                ).status_code
                == 200
            )
        assert client.get("/api/v1/fx/GBP/JPY").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements == []


async def test_the_rate_book_refreshes_when_ingestion_publishes(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    before = runtime.rates.refreshes
    result = await runtime.ingestor.run_fx(date(2025, 3, 12), date(2025, 3, 12), job="fx_daily")
    assert result.totals.unchanged == 6
    assert runtime.rates.refreshes == before  # nothing new stored: nothing to reload
    from app.ingest.events import DataStored

    await runtime.ingestor.publisher.publish(
        DataStored("fx", frozenset({"USD/GBP"}), date(2025, 3, 12), date(2025, 3, 12), None)
    )
    assert runtime.rates.refreshes == before + 1
