from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.sources.alphavantage import AlphaVantage
from app.sources.base import (
    AuthFailed,
    BadPayload,
    ConfigurationError,
    QuotaExhausted,
    RawBar,
    RawRate,
    SourceError,
    SourceTimeout,
    Throttled,
    UnknownSymbol,
    UpstreamUnavailable,
)
from tests.sources import payloads
from tests.upstream import FakeUpstream, Reply


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    replies: dict[str, Reply] = {}
    server = FakeUpstream(lambda r: replies.get(r.params.get("function", ""), Reply(404)))
    server.replies = replies  # type: ignore[attr-defined]
    with server:
        yield server


def client_for(server: FakeUpstream, timeout: float = 2.0) -> AlphaVantage:
    return AlphaVantage(
        api_key=SecretStr("TESTKEY"),
        base_url=f"{server.url}/query",
        client=httpx.AsyncClient(timeout=timeout),
    )


def answer(server: FakeUpstream, function: str, reply: Reply) -> None:
    server.replies[function] = reply  # type: ignore[attr-defined]


async def test_daily_series_parses_exact_strings(upstream: FakeUpstream) -> None:
    answer(upstream, "TIME_SERIES_DAILY", Reply(body=payloads.DAILY))
    bars = await client_for(upstream).fetch_bars("IBM", date(2025, 3, 12), date(2025, 3, 12))
    assert bars == [
        RawBar(
            "IBM",
            "2025-03-12",
            "248.6100",
            "249.9000",
            "246.1300",
            "248.3500",
            "3810240",
            "alphavantage",
        )
    ]
    sent = upstream.requests[-1]
    assert sent.path == "/query"
    assert sent.params == {
        "function": "TIME_SERIES_DAILY",
        "symbol": "IBM",
        "outputsize": "full",  # 2025 is far outside the compact window from today
        "apikey": "TESTKEY",
    }


async def test_global_quote_and_unknown_symbol(upstream: FakeUpstream) -> None:
    answer(upstream, "GLOBAL_QUOTE", Reply(body=payloads.GLOBAL_QUOTE))
    quote = await client_for(upstream).fetch_quote("IBM")
    assert (quote.day, quote.close, quote.volume) == ("2025-03-12", "248.3500", "3810240")
    answer(upstream, "GLOBAL_QUOTE", Reply(body={"Global Quote": {}}))
    with pytest.raises(UnknownSymbol):
        await client_for(upstream).fetch_quote("NOPE")


async def test_fx_daily_and_realtime_rate(upstream: FakeUpstream) -> None:
    answer(upstream, "FX_DAILY", Reply(body=payloads.FX_DAILY))
    rates = await client_for(upstream).fetch_rates(
        "USD", ["GBP"], date(2025, 3, 11), date(2025, 3, 12)
    )
    assert sorted(rates, key=lambda r: r.day) == [
        RawRate("USD", "GBP", "2025-03-11", "0.77250", "alphavantage"),
        RawRate("USD", "GBP", "2025-03-12", "0.77201", "alphavantage"),
    ]
    assert upstream.requests[-1].params["from_symbol"] == "USD"
    answer(upstream, "CURRENCY_EXCHANGE_RATE", Reply(body=payloads.EXCHANGE_RATE))
    rate = await client_for(upstream).fetch_exchange_rate("USD", "JPY")
    assert rate == RawRate("USD", "JPY", "2025-03-12", "147.89000000", "alphavantage")


@pytest.mark.parametrize(
    ("reply", "error", "outcome"),
    [
        (Reply(body=payloads.THROTTLE_NOTE), Throttled, "throttled"),
        (Reply(body=payloads.BURST_INFORMATION), Throttled, "throttled"),
        (Reply(body=payloads.DAILY_LIMIT), QuotaExhausted, "quota_exhausted"),
        (Reply(body=payloads.PREMIUM), ConfigurationError, "config_error"),
        (Reply(body=payloads.INVALID_CALL), UnknownSymbol, "unknown_symbol"),
        (Reply(body=payloads.BAD_KEY), AuthFailed, "auth_failed"),
        (Reply(401, body={}), AuthFailed, "auth_failed"),
        (Reply(403, body={}), AuthFailed, "auth_failed"),
        (Reply(429, body={}, headers={"Retry-After": "7"}), Throttled, "throttled"),
        (Reply(500, body="oops"), UpstreamUnavailable, "unavailable"),
        (Reply(503, body=""), UpstreamUnavailable, "unavailable"),
        (Reply(body="<html>not json</html>"), BadPayload, "bad_payload"),
        (Reply(body={"Meta Data": {}}), BadPayload, "bad_payload"),
        (
            Reply(body={"Time Series (Daily)": {"2025-03-12": {"1. open": "1"}}}),
            BadPayload,
            "bad_payload",
        ),
        (Reply(body=[1, 2]), BadPayload, "bad_payload"),
    ],
)
async def test_every_failure_maps_to_the_taxonomy(
    upstream: FakeUpstream, reply: Reply, error: type[SourceError], outcome: str
) -> None:
    answer(upstream, "TIME_SERIES_DAILY", reply)
    with pytest.raises(error) as caught:
        await client_for(upstream).fetch_bars("IBM", date(2025, 3, 1), date(2025, 3, 12))
    assert caught.value.outcome == outcome
    assert caught.value.source == "alphavantage"
    assert "TESTKEY" not in str(caught.value)
    if reply.status == 429:
        assert isinstance(caught.value, Throttled) and caught.value.retry_after == 7.0


async def test_timeout_and_refused_connection() -> None:
    slow = FakeUpstream(lambda r: Reply(body=payloads.DAILY, delay=1.0))
    with slow:
        with pytest.raises(SourceTimeout):
            await client_for(slow, timeout=0.2).fetch_bars(
                "IBM", date(2025, 3, 1), date(2025, 3, 12)
            )
        closed_url = slow.url
    source = AlphaVantage(api_key=SecretStr("k"), base_url=closed_url, client=httpx.AsyncClient())
    with pytest.raises(UpstreamUnavailable):
        await source.fetch_bars("IBM", date(2025, 3, 1), date(2025, 3, 12))


def test_unparseable_numbers_survive_as_raw_strings_for_the_parse_step() -> None:
    from app.sources.alphavantage import parse_daily_series

    body: dict[str, Any] = {
        "Time Series (Daily)": {
            "2025-03-12": {**payloads.DAILY["Time Series (Daily)"]["2025-03-12"], "4. close": "n/a"}
        }
    }
    bars = parse_daily_series(body, "IBM", date(2025, 3, 12), date(2025, 3, 12))
    assert bars[0].close == "n/a"  # the parse step quarantines this row (see test_quality)
