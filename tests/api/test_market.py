from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import analytics
from app.convert.money import quantize
from app.models import daily_bar


def runtime(client: TestClient):  # type: ignore[no-untyped-def]
    return client.app.state.runtime  # type: ignore[attr-defined]


def test_fx_rate_and_history_with_validators(client: TestClient) -> None:
    one = client.get("/api/v1/fx/usd/gbp", params={"date": "2025-03-08"}).json()
    assert (one["base"], one["quote"], one["rate_date"], one["rate_age_days"], one["on"]) == (
        "USD",
        "GBP",
        "2025-03-07",
        1,
        "2025-03-08",
    )
    history = client.get(
        "/api/v1/fx/GBP/JPY/history", params={"start": "2025-03-03", "end": "2025-03-09"}
    )
    assert history.status_code == 200
    days = [p["day"] for p in history.json()["items"]]
    assert days == ["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07"]
    assert history.headers["Cache-Control"] == "public, max-age=86400"  # wholly in the past
    again = client.get(
        "/api/v1/fx/GBP/JPY/history",
        params={"start": "2025-03-03", "end": "2025-03-09"},
        headers={"If-None-Match": history.headers["ETag"]},
    )
    assert again.status_code == 304 and again.content == b""
    today = client.get("/api/v1/fx/GBP/JPY/history")
    assert today.headers["Cache-Control"] == "public, max-age=60"
    assert (
        client.get(
            "/api/v1/fx/GBP/JPY/history", params={"start": "2025-03-09", "end": "2025-03-01"}
        ).json()["error"]["code"]
        == "invalid_range"
    )
    assert client.get("/api/v1/fx/GBP/XYZ").status_code == 404


def test_currencies_list_minor_units_and_latest_rates(client: TestClient) -> None:
    body = {c["code"]: c for c in client.get("/api/v1/currencies").json()}
    assert list(body) == ["USD", "GBP", "EUR", "JPY", "CHF", "CAD", "AUD"]
    assert body["JPY"]["minor_units"] == 0 and body["GBP"]["name"] == "British Pound"
    assert (
        body["GBP"]["latest_rate_date"] == "2025-03-12" and body["USD"]["latest_rate_date"] is None
    )


def test_stocks_list_latest_close(client: TestClient) -> None:
    stocks = client.get("/api/v1/stocks").json()
    assert [s["symbol"] for s in stocks] == [
        "AAPL",
        "MSFT",
        "AMZN",
        "GOOGL",
        "META",
        "NVDA",
        "TSLA",
    ]
    assert all(s["latest_day"] == "2025-03-12" and s["currency"] == "USD" for s in stocks)
    assert all(Decimal(s["latest_close"]) > 0 for s in stocks)


def test_prices_are_converted_per_day_and_paginated(client: TestClient) -> None:
    first = client.get(
        "/api/v1/stocks/aapl/prices", params={"currency": "GBP", "limit": 10, "end": "2025-03-12"}
    )
    page = first.json()
    assert (page["symbol"], page["currency"], len(page["items"])) == ("AAPL", "GBP", 10)
    newest = page["items"][0]
    assert newest["day"] == "2025-03-12"
    with runtime(client).engine.connect() as connection:
        bar = connection.execute(
            select(daily_bar).where(
                daily_bar.c.symbol == "AAPL", daily_bar.c.day == date(2025, 3, 12)
            )
        ).one()
    rate = Decimal(newest["rate"])
    assert newest["close"] == str(quantize(bar.close * rate, "GBP"))
    assert newest["volume"] == bar.volume
    seen = [item["day"] for item in page["items"]]
    while page["next_cursor"]:
        page = client.get(
            "/api/v1/stocks/AAPL/prices",
            params={
                "currency": "GBP",
                "limit": 10,
                "cursor": page["next_cursor"],
                "end": "2025-03-12",
            },
        ).json()
        seen += [item["day"] for item in page["items"]]
    assert len(seen) == 45 and seen == sorted(seen, reverse=True) and len(set(seen)) == 45
    assert first.headers["Cache-Control"] == "public, max-age=60"  # includes today
    assert (
        client.get("/api/v1/stocks/AAPL/prices", params={"cursor": "!!"}).json()["error"]["code"]
        == "invalid_cursor"
    )
    windowed = client.get(
        "/api/v1/stocks/AAPL/prices", params={"start": "2025-03-03", "end": "2025-03-07"}
    ).json()
    assert [i["day"] for i in windowed["items"]] == [
        "2025-03-07",
        "2025-03-06",
        "2025-03-05",
        "2025-03-04",
        "2025-03-03",
    ]
    assert windowed["items"][0]["rate"] == "1"  # USD prices need no conversion


def test_quote_is_the_latest_bar_converted(client: TestClient) -> None:
    quote = client.get("/api/v1/stocks/NVDA/quote", params={"currency": "JPY"}).json()
    assert (quote["symbol"], quote["currency"], quote["day"], quote["rate_age_days"]) == (
        "NVDA",
        "JPY",
        "2025-03-12",
        0,
    )
    assert "." not in quote["close"]


def test_top_performers_are_the_best_daily_returns(client: TestClient) -> None:
    body = client.get("/api/v1/stocks/top-performers", params={"currency": "EUR"}).json()
    assert body["day"] == "2025-03-12" and len(body["items"]) == 3
    with runtime(client).engine.connect() as connection:
        returns = analytics.daily_returns(
            connection, runtime(client).settings.symbols, date(2025, 3, 12)
        )
    best = sorted(returns, key=lambda r: -r.change)[:3]
    assert [i["symbol"] for i in body["items"]] == [r.symbol for r in best]
    changes = [Decimal(i["change_pct"]) for i in body["items"]]
    assert changes == sorted(changes, reverse=True)
    assert changes[0] == (best[0].change * 100).quantize(Decimal("0.0001"))
    five = client.get(
        "/api/v1/stocks/top-performers", params={"date": "2025-03-10", "limit": 5}
    ).json()
    assert five["day"] == "2025-03-10" and len(five["items"]) == 5
    assert (
        client.get("/api/v1/stocks/top-performers", params={"date": "2025-03-09"}).json()["error"][
            "code"
        ]
        == "no_data"
    )


def test_performance_over_thirty_trading_days(client: TestClient) -> None:
    body = client.get("/api/v1/stocks/MSFT/performance", params={"currency": "USD"}).json()
    assert (body["window_days"], body["last_day"], body["of"]) == (30, "2025-03-12", 7)
    assert 1 <= body["rank"] <= 7
    with runtime(client).engine.connect() as connection:
        closes = [
            r.close
            for r in connection.execute(
                select(daily_bar.c.close)
                .where(daily_bar.c.symbol == "MSFT")
                .order_by(daily_bar.c.day.desc())
                .limit(30)
            )
        ]
    assert body["average_close"] == str(quantize(sum(closes) / 30, "USD"))
    assert Decimal(body["change_pct"]) == ((closes[0] / closes[-1] - 1) * 100).quantize(
        Decimal("0.0001")
    )
    assert Decimal(body["volatility_pct"]) > 0
    ranks = sorted(
        client.get(f"/api/v1/stocks/{s}/performance").json()["rank"]
        for s in runtime(client).settings.symbols
    )
    assert ranks == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/stocks/ZZZZ/quote", 404, "unknown_symbol"),
        ("/api/v1/stocks/$$/quote", 422, "invalid_symbol"),
        ("/api/v1/stocks/AAPL/quote?currency=XYZ", 404, "unknown_currency"),
        ("/api/v1/stocks/AAPL/prices?limit=0", 422, "invalid_request"),
        ("/api/v1/stocks/AAPL/prices?end=2025-03-20", 422, "date_in_future"),
        ("/api/v1/stocks/top-performers?limit=500", 422, "invalid_request"),
        ("/api/v1/nothing-here", 404, "not_found"),
    ],
)
def test_stock_errors(client: TestClient, path: str, status: int, code: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_ingest_runs_and_quality_issues_are_paginated(client: TestClient) -> None:
    runs = client.get("/api/v1/ingest/runs", params={"limit": 1}).json()
    assert runs["items"][0]["job"] == "fx_daily" and runs["next_cursor"]
    older = client.get(
        "/api/v1/ingest/runs", params={"limit": 1, "cursor": runs["next_cursor"]}
    ).json()
    assert older["items"][0]["job"] == "prices_daily" and older["next_cursor"] is None
    assert older["items"][0]["quality_score"] == "1.000000"
    assert client.get("/api/v1/quality/issues").json() == {"items": [], "next_cursor": None}
    assert (
        client.get("/api/v1/quality/issues", params={"rule": "nope"}).json()["error"]["code"]
        == "unknown_rule"
    )
