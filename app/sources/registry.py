"""Build the configured failover chains (prices, fx) from Settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from redis.asyncio import Redis

from app.config import Settings
from app.sources.alphavantage import AlphaVantage
from app.sources.base import FxSource, PriceSource
from app.sources.failover import CircuitBreaker, FailoverChain, Guard, Policy
from app.sources.frankfurter import Frankfurter
from app.sources.http import new_client
from app.sources.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter, Unlimited
from app.sources.simulated import Faults, SimulatedMarket
from app.telemetry import Telemetry


@dataclass
class Sources:
    prices: FailoverChain[PriceSource]
    fx: FailoverChain[FxSource]
    client: httpx.AsyncClient
    redis: Redis | None

    @property
    def guards(self) -> dict[str, Guard]:
        """Each provider's guard once (a provider serving both kinds has one guard)."""
        chains: list[FailoverChain[Any]] = [self.prices, self.fx]
        return {g.source: g for chain in chains for _, g in chain.providers}

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.redis is not None:
            await self.redis.aclose()


def simulated_market(
    settings: Settings, clock: Callable[[], datetime] | None = None
) -> SimulatedMarket:
    faults = Faults(
        error_rate=settings.simulated_error_rate,
        throttle_rate=settings.simulated_throttle_rate,
        latency_seconds=settings.simulated_latency_seconds,
        stale_days=settings.simulated_stale_days,
        invalid_bar_rate=settings.simulated_invalid_bar_rate,
    )
    return SimulatedMarket(seed=settings.simulated_seed, faults=faults, clock=clock)


def build_sources(
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] | None = None,
    telemetry: Telemetry | None = None,
) -> Sources:
    """The configured chains; `clock` pins the simulated market's "now" (tests, demos)."""
    telemetry = telemetry or Telemetry.off()
    client = client or new_client(settings.source_timeout_seconds)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    policy = Policy(
        timeout=settings.source_timeout_seconds,
        retries=settings.source_retries,
        backoff=settings.source_backoff_seconds,
        max_backoff=settings.source_max_backoff_seconds,
    )
    providers: dict[str, object] = {}
    guards: dict[str, Guard] = {}

    def limiter(name: str) -> RateLimiter:
        if name != "alphavantage":
            return Unlimited()
        per_minute = settings.alphavantage_calls_per_minute
        per_day = settings.alphavantage_calls_per_day
        if redis is not None:
            return RedisRateLimiter(redis, source=name, per_minute=per_minute, per_day=per_day)
        return MemoryRateLimiter(source=name, per_minute=per_minute, per_day=per_day)

    def provider(name: str) -> tuple[object, Guard]:
        if name not in providers:
            if name == "simulated":
                providers[name] = simulated_market(settings, clock)
            elif name == "alphavantage":
                assert settings.alphavantage_api_key is not None  # checked by Settings
                providers[name] = AlphaVantage(
                    api_key=settings.alphavantage_api_key,
                    base_url=settings.alphavantage_base_url,
                    client=client,
                )
            else:
                providers[name] = Frankfurter(base_url=settings.frankfurter_base_url, client=client)
            breaker = CircuitBreaker(
                threshold=settings.breaker_failure_threshold,
                cooldown=settings.breaker_cooldown_seconds,
            )
            # One guard per provider, shared by both kinds: one budget, one breaker.
            guards[name] = Guard(
                name, policy=policy, breaker=breaker, limiter=limiter(name), telemetry=telemetry
            )
        return providers[name], guards[name]

    prices = FailoverChain[PriceSource](
        "prices",
        [provider(n) for n in settings.price_sources],  # type: ignore[misc]
        telemetry,
    )
    fx = FailoverChain[FxSource](
        "fx",
        [provider(n) for n in settings.fx_sources],  # type: ignore[misc]
        telemetry,
    )
    return Sources(prices=prices, fx=fx, client=client, redis=redis)
