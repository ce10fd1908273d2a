"""Provider guards and the ordered failover chain.

A `Guard` wraps every call to one provider with its rate limiter, a timeout, retries with
exponential backoff and jitter (retryable errors only) and a circuit breaker. A
`FailoverChain` tries its guarded providers in order and returns the first success.
"""

from __future__ import annotations

import asyncio
import enum
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from app.sources.base import (
    AllSourcesFailed,
    CircuitOpen,
    QuotaExhausted,
    SourceError,
    SourceTimeout,
    Throttled,
    UnknownSymbol,
)
from app.sources.ratelimit import RateLimiter, Sleep, Unlimited
from app.telemetry import Telemetry
from app.telemetry.catalog import Children

T = TypeVar("T")
S = TypeVar("S")


class BreakerState(enum.IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; lets one probe through after `cooldown`."""

    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold, self.cooldown, self._clock = threshold, cooldown, clock
        self.state = BreakerState.CLOSED
        self.failures = 0
        self._opened_at = 0.0
        self._probing = False

    def before_call(self, source: str) -> None:
        if self.state is BreakerState.OPEN:
            if self._clock() - self._opened_at < self.cooldown:
                raise CircuitOpen("circuit open", source=source)
            self.state = BreakerState.HALF_OPEN
        if self.state is BreakerState.HALF_OPEN:
            if self._probing:
                raise CircuitOpen("half-open probe in flight", source=source)
            self._probing = True

    def on_success(self) -> None:
        self.state, self.failures, self._probing = BreakerState.CLOSED, 0, False

    def on_failure(self) -> None:
        self.failures += 1
        self._probing = False
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.threshold:
            self.state = BreakerState.OPEN
            self._opened_at = self._clock()

    def on_neutral(self) -> None:
        """A call ended in an error that says nothing about the provider's health."""
        self._probing = False


@dataclass(frozen=True, slots=True)
class Policy:
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_throttle_wait: float = 65.0


class Guard:
    """Everything that stands between the pipeline and one provider."""

    def __init__(
        self,
        source: str,
        *,
        policy: Policy | None = None,
        breaker: CircuitBreaker | None = None,
        limiter: RateLimiter | None = None,
        sleep: Sleep = asyncio.sleep,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.source = source
        self.policy = policy or Policy()
        self.breaker = breaker or CircuitBreaker()
        self.limiter: RateLimiter = limiter or Unlimited()
        self._sleep = sleep
        self.telemetry = telemetry or Telemetry.off()
        metrics = self.telemetry.metrics
        self._requests = Children(metrics.source_requests)
        self._duration = Children(metrics.source_duration)
        self._circuit = metrics.source_circuit.labels(source)
        self._quota = metrics.source_quota.labels(source)

    def _should_retry(self, error: BaseException) -> bool:
        if not isinstance(error, SourceError) or not error.retryable:
            return False
        return not (
            isinstance(error, Throttled) and error.retry_after > self.policy.max_throttle_wait
        )

    def _delay(self, attempt: int, error: BaseException | None) -> float:
        """How long to wait after failed attempt number `attempt` (1-based)."""
        if isinstance(error, Throttled):
            return error.retry_after
        # Exponential backoff with up to one `backoff` of jitter, capped at max_backoff.
        base = self.policy.backoff * float(2 ** (attempt - 1))
        return min(self.policy.max_backoff, base + random.uniform(0, self.policy.backoff))

    def _wait(self, state: RetryCallState) -> float:
        # tenacity counts from the first retry; attempt 1 happened before it took over.
        error = state.outcome.exception() if state.outcome else None
        return self._delay(state.attempt_number + 1, error)

    async def report_quota(self) -> None:
        """Publish what is left of today's budget (+Inf for a provider without a quota)."""
        remaining = await self.limiter.remaining_today()
        self._quota.set(math.inf if remaining is None else remaining)

    async def _attempt(self, fn: Callable[[], Awaitable[T]], operation: str) -> T:
        """One call: budget, timeout, and its outcome and duration counted."""
        await self.limiter.acquire()
        await self.report_quota()
        start = time.perf_counter()
        outcome = "ok"
        try:
            async with asyncio.timeout(self.policy.timeout):
                return await fn()
        except TimeoutError as error:
            outcome = SourceTimeout.outcome
            raise SourceTimeout(
                f"no answer within {self.policy.timeout}s", source=self.source
            ) from error
        except SourceError as error:
            outcome = error.outcome
            raise
        except BaseException:
            outcome = "error"
            raise
        finally:
            self._requests[self.source, operation, outcome].inc()
            self._duration[self.source, operation].observe(
                time.perf_counter() - start, self.telemetry.exemplar()
            )

    async def _with_retries(self, fn: Callable[[], Awaitable[T]], operation: str) -> T:
        """The first attempt runs bare (the common, successful case costs no retry
        machinery); tenacity takes over only after a retryable failure."""
        try:
            return await self._attempt(fn, operation)
        except SourceError as error:
            if not self.policy.retries or not self._should_retry(error):
                raise
            await self._sleep(self._delay(1, error))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.retries),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            sleep=self._sleep,
            reraise=True,
        )
        result: T = await retrying(self._attempt, fn, operation)
        return result

    async def call(self, fn: Callable[[], Awaitable[T]], *, operation: str, **attributes: Any) -> T:
        """`fn` through the guard, in a `source.fetch` span (ERROR when it fails)."""
        with self.telemetry.span(
            "source.fetch", source=self.source, operation=operation, **attributes
        ):
            try:
                return await self._guarded(fn, operation)
            finally:
                self._circuit.set(self.breaker.state)

    async def _guarded(self, fn: Callable[[], Awaitable[T]], operation: str) -> T:
        try:
            self.breaker.before_call(self.source)
        except CircuitOpen as error:
            self._requests[self.source, operation, error.outcome].inc()
            raise
        try:
            result = await self._with_retries(fn, operation)
        except SourceError as error:
            error.source = error.source or self.source
            if isinstance(error, QuotaExhausted):
                await self.limiter.exhaust_today()
            if error.counts_against_provider:
                self.breaker.on_failure()
            else:
                self.breaker.on_neutral()
            raise
        except BaseException:
            self.breaker.on_neutral()
            raise
        self.breaker.on_success()
        return result


class FailoverChain(Generic[S]):
    """Ordered providers of one kind (prices or fx); the first that answers wins."""

    def __init__(
        self, kind: str, providers: list[tuple[S, Guard]], telemetry: Telemetry | None = None
    ) -> None:
        if not providers:
            raise ValueError(f"no {kind} providers configured")
        self.kind = kind
        self.providers = providers
        self.failovers = 0
        telemetry = telemetry or Telemetry.off()
        self._failovers = telemetry.metrics.source_failovers.labels(kind)

    @property
    def names(self) -> list[str]:
        return [guard.source for _, guard in self.providers]

    async def call(
        self, fn: Callable[[S], Awaitable[T]], *, operation: str, **attributes: Any
    ) -> tuple[T, str]:
        """Return (result, name of the provider that produced it)."""
        errors: list[SourceError] = []
        for position, (provider, guard) in enumerate(self.providers):
            try:
                result = await guard.call(partial(fn, provider), operation=operation, **attributes)
                return result, guard.source
            except UnknownSymbol:
                raise  # the request's fault: another provider would not make it valid
            except SourceError as error:
                errors.append(error)
                if position + 1 < len(self.providers):
                    self.failovers += 1
                    self._failovers.inc()
        raise AllSourcesFailed(self.kind, errors)
