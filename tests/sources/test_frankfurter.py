from __future__ import annotations

from datetime import date

import httpx
import pytest

from app.sources.base import BadPayload, RawRate, UnknownSymbol
from app.sources.frankfurter import Frankfurter
from tests.sources import payloads
from tests.upstream import FakeUpstream, Reply, Request


def route(request: Request) -> Reply:
    if request.params.get("symbols") == "XXX":
        return Reply(404, body={"message": "not found"})
    if request.path == "/v1/latest" or request.path == "/v1/2025-03-12":
        return Reply(body=payloads.FRANKFURTER_LATEST)
    if request.path == "/v1/2025-03-10..2025-03-12":
        return Reply(body=payloads.FRANKFURTER_SERIES)
    return Reply(body={"unexpected": True})


@pytest.fixture
def server() -> FakeUpstream:
    with FakeUpstream(route) as upstream:
        yield upstream  # type: ignore[misc]


def source(server: FakeUpstream) -> Frankfurter:
    return Frankfurter(base_url=f"{server.url}/v1/", client=httpx.AsyncClient())


async def test_latest_keeps_exact_decimals(server: FakeUpstream) -> None:
    rates = await source(server).fetch_latest("USD", ["EUR", "GBP"])
    assert rates == [
        RawRate("USD", "EUR", "2025-03-12", "0.91979", "frankfurter"),
        RawRate("USD", "GBP", "2025-03-12", "0.77201", "frankfurter"),
    ]
    assert server.requests[-1].params == {"base": "USD", "symbols": "EUR,GBP"}


async def test_single_day_and_series(server: FakeUpstream) -> None:
    day = await source(server).fetch_rates("USD", ["GBP"], date(2025, 3, 12), date(2025, 3, 12))
    assert {r.day for r in day} == {"2025-03-12"}
    series = await source(server).fetch_rates("USD", ["GBP"], date(2025, 3, 10), date(2025, 3, 12))
    assert [(r.day, r.rate) for r in series] == [
        ("2025-03-10", "0.77435"),
        ("2025-03-11", "0.7725"),
        ("2025-03-12", "0.77201"),
    ]


async def test_errors(server: FakeUpstream) -> None:
    with pytest.raises(UnknownSymbol):
        await source(server).fetch_latest("USD", ["XXX"])
    with pytest.raises(BadPayload):
        await source(server).fetch_rates("USD", ["GBP"], date(2025, 1, 1), date(2025, 1, 2))
