from __future__ import annotations

from datetime import date

import httpx
import pytest
from pydantic import SecretStr

from app.sources.alphavantage import AlphaVantage
from app.sources.base import (
    AllSourcesFailed,
    AuthFailed,
    CircuitOpen,
    QuotaExhausted,
    SourceTimeout,
    Throttled,
    UnknownSymbol,
    UpstreamUnavailable,
)
from app.sources.failover import BreakerState, CircuitBreaker, FailoverChain, Guard, Policy
from app.sources.frankfurter import Frankfurter
from app.sources.ratelimit import MemoryRateLimiter
from tests.sources import payloads
from tests.upstream import FakeUpstream, Reply, Request


class Clock:
    def __init__(self, start: float = 1_741_800_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Script:
    """Replies in order, then repeats the last one."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def __call__(self, request: Request) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def av(server: FakeUpstream) -> AlphaVantage:
    return AlphaVantage(api_key=SecretStr("k"), base_url=server.url, client=httpx.AsyncClient())


def guard(name: str, clock: Clock, **policy: float) -> Guard:
    return Guard(
        name,
        policy=Policy(**{"retries": 3, "backoff": 0.5, "max_backoff": 4.0, **policy}),  # type: ignore[arg-type]
        breaker=CircuitBreaker(threshold=2, cooldown=30.0, clock=clock),
        sleep=clock.sleep,
    )


async def test_retryable_errors_are_retried_with_backoff_then_succeed() -> None:
    clock = Clock()
    script = Script(Reply(503, body=""), Reply(500, body=""), Reply(body=payloads.DAILY))
    with FakeUpstream(script) as server:
        g = guard("alphavantage", clock)
        source = av(server)
        bars = await g.call(
            lambda: source.fetch_bars("IBM", date(2025, 3, 1), date(2025, 3, 12)),
            operation="fetch_bars",
        )
    assert len(bars) == 2 and len(server.requests) == 3
    assert len(clock.slept) == 2
    assert 0.5 <= clock.slept[0] <= 1.0 and 1.0 <= clock.slept[1] <= 1.5  # exponential + jitter
    assert g.breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize("body", [payloads.BAD_KEY, payloads.PREMIUM, payloads.DAILY_LIMIT])
async def test_non_retryable_errors_are_not_retried(body: dict[str, str]) -> None:
    clock = Clock()
    with FakeUpstream(Script(Reply(body=body))) as server:
        source = av(server)
        with pytest.raises((AuthFailed, QuotaExhausted, Exception)):
            await guard("alphavantage", clock).call(
                lambda: source.fetch_bars("IBM", date(2025, 3, 1), date(2025, 3, 12)),
                operation="fetch_bars",
            )
    assert len(server.requests) == 1 and clock.slept == []


async def test_throttle_waits_for_retry_after_unless_too_long() -> None:
    clock = Clock()
    script = Script(Reply(429, body={}, headers={"Retry-After": "3"}), Reply(body=payloads.DAILY))
    with FakeUpstream(script) as server:
        source = av(server)
        await guard("alphavantage", clock).call(
            lambda: source.fetch_bars("IBM", date(2025, 3, 1), date(2025, 3, 12)),
            operation="fetch_bars",
        )
        assert clock.slept == [3.0]
        server.handler = Script(Reply(429, body={}, headers={"Retry-After": "600"}))
        with pytest.raises(Throttled):
            await guard("alphavantage", clock).call(
                lambda: source.fetch_bars("IBM", date(2025, 3, 1), date(2025, 3, 12)),
                operation="fetch_bars",
            )
    assert clock.slept == [3.0]  # 600 s is beyond max_throttle_wait: fail over instead


async def test_timeout_is_enforced_by_the_guard() -> None:
    clock = Clock()
    with FakeUpstream(Script(Reply(body=payloads.DAILY, delay=0.5))) as server:
        source = av(server)
        with pytest.raises(SourceTimeout):
            await guard("alphavantage", clock, timeout=0.1, retries=1).call(
                lambda: source.fetch_bars("IBM", date(2025, 3, 1), date(2025, 3, 12)),
                operation="fetch_bars",
            )
    assert len(server.requests) == 2  # timeouts are retryable


def test_breaker_opens_half_opens_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, cooldown=30.0, clock=clock)
    breaker.before_call("p")
    breaker.on_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call("p")
    breaker.on_failure()
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_call("p")
    clock.now += 30.0
    breaker.before_call("p")  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_call("p")  # only one probe at a time
    breaker.on_failure()
    assert breaker.state is BreakerState.OPEN  # a failed probe re-opens at once
    clock.now += 30.0
    breaker.before_call("p")
    breaker.on_success()
    assert breaker.state is BreakerState.CLOSED and breaker.failures == 0


async def test_chain_fails_over_in_order_and_skips_open_circuits() -> None:
    clock = Clock()
    with (
        FakeUpstream(Script(Reply(503, body=""))) as primary,
        FakeUpstream(Script(Reply(body=payloads.FRANKFURTER_LATEST))) as secondary,
    ):
        chain = FailoverChain(
            "fx",
            [
                (av(primary), guard("alphavantage", clock, retries=1)),
                (
                    Frankfurter(base_url=secondary.url, client=httpx.AsyncClient()),
                    guard("frankfurter", clock),
                ),
            ],
        )
        for expected_primary_hits in (2, 4):
            rates, used = await chain.call(
                lambda s: s.fetch_rates("USD", ["GBP"], date(2025, 3, 12), date(2025, 3, 12)),
                operation="fetch_rates",
            )
            assert used == "frankfurter" and {r.quote: r.rate for r in rates}["GBP"] == "0.77201"
            assert len(primary.requests) == expected_primary_hits
        # Two failed calls opened the primary's breaker: the third goes straight to the backup.
        await chain.call(
            lambda s: s.fetch_rates("USD", ["GBP"], date(2025, 3, 12), date(2025, 3, 12)),
            operation="fetch_rates",
        )
        assert len(primary.requests) == 4
        assert chain.failovers == 3
        assert chain.providers[0][1].breaker.state is BreakerState.OPEN


async def test_all_failed_carries_each_error_and_unknown_symbol_does_not_fail_over() -> None:
    clock = Clock()
    with (
        FakeUpstream(Script(Reply(503, body=""))) as a,
        FakeUpstream(Script(Reply(body=payloads.BAD_KEY))) as b,
    ):
        chain = FailoverChain(
            "prices", [(av(a), guard("a", clock, retries=0)), (av(b), guard("b", clock))]
        )
        with pytest.raises(AllSourcesFailed) as caught:
            await chain.call(
                lambda s: s.fetch_bars("IBM", date(2025, 3, 1), date(2025, 3, 12)),
                operation="fetch_bars",
            )
        assert [type(e) for e in caught.value.errors] == [UpstreamUnavailable, AuthFailed]
        a.handler = Script(Reply(body=payloads.INVALID_CALL))
        failures_before = chain.providers[0][1].breaker.failures
        with pytest.raises(UnknownSymbol):
            await chain.call(
                lambda s: s.fetch_bars("NOPE", date(2025, 3, 1), date(2025, 3, 12)),
                operation="fetch_bars",
            )
        assert len(b.requests) == 1  # not asked about the unknown symbol
        assert failures_before == 1
        assert chain.providers[0][1].breaker.failures == 1  # an unknown symbol is not ill health


async def test_quota_exhausted_upstream_stops_calls_until_the_next_day() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(
        source="alphavantage", per_minute=5, per_day=25, clock=clock, sleep=clock.sleep
    )
    g = Guard("alphavantage", policy=Policy(retries=2), limiter=limiter, sleep=clock.sleep)
    with FakeUpstream(
        Script(Reply(body=payloads.DAILY_LIMIT), Reply(body=payloads.DAILY))
    ) as server:
        source = av(server)
        call = lambda: source.fetch_bars("IBM", date(2025, 3, 1), date(2025, 3, 12))  # noqa: E731
        with pytest.raises(QuotaExhausted):
            await g.call(call, operation="fetch_bars")
        with pytest.raises(QuotaExhausted):
            await g.call(call, operation="fetch_bars")
        assert len(server.requests) == 1  # the second was refused client-side
        clock.now += 86_400
        assert len(await g.call(call, operation="fetch_bars")) == 2
