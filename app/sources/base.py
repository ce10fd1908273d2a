"""What every provider speaks: raw records, the source protocols and one error taxonomy.

Providers return *raw* records (strings as the upstream sent them); the pipeline's parse step
turns them into typed values, so a single unparseable number quarantines one row instead of
failing a whole payload.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, NamedTuple, Protocol


class RawBar(NamedTuple):
    symbol: str
    day: str
    open: str
    high: str
    low: str
    close: str
    volume: str
    source: str


class RawRate(NamedTuple):
    base: str
    quote: str
    day: str
    rate: str
    source: str


class PriceSource(Protocol):
    name: str

    async def fetch_bars(self, symbol: str, start: date, end: date) -> list[RawBar]: ...


class FxSource(Protocol):
    name: str

    async def fetch_rates(
        self, base: str, quotes: list[str], start: date, end: date
    ) -> list[RawRate]: ...


# --- error taxonomy -----------------------------------------------------------------------
class SourceError(Exception):
    """A provider could not give us data. `outcome` is the bounded label metrics use."""

    outcome: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False
    counts_against_provider: ClassVar[bool] = True  # trips the circuit breaker, fails over

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class Throttled(SourceError):
    """Too many calls this minute: retry after `retry_after` seconds."""

    outcome = "throttled"
    retryable = True

    def __init__(self, message: str, *, source: str = "", retry_after: float = 60.0) -> None:
        super().__init__(message, source=source)
        self.retry_after = retry_after


class QuotaExhausted(SourceError):
    """The daily allowance is spent: do not call this provider again before the next day."""

    outcome = "quota_exhausted"


class AuthFailed(SourceError):
    outcome = "auth_failed"


class ConfigurationError(SourceError):
    """The request can never succeed as configured (e.g. a premium-only endpoint)."""

    outcome = "config_error"


class UnknownSymbol(SourceError):
    """The provider does not know this symbol/currency: the request's fault, not the provider's."""

    outcome = "unknown_symbol"
    counts_against_provider = False


class UpstreamUnavailable(SourceError):
    outcome = "unavailable"
    retryable = True


class SourceTimeout(UpstreamUnavailable):
    outcome = "timeout"


class BadPayload(SourceError):
    """The provider answered with something we cannot read (invalid JSON, missing keys)."""

    outcome = "bad_payload"


class CircuitOpen(SourceError):
    """Not called: the provider's breaker is open."""

    outcome = "circuit_open"


class AllSourcesFailed(SourceError):
    """Every provider in a failover chain failed; `errors` holds each provider's error."""

    outcome = "all_failed"

    def __init__(self, kind: str, errors: list[SourceError]) -> None:
        detail = "; ".join(f"{e.source}: {type(e).__name__}: {e}" for e in errors)
        super().__init__(f"all {kind} sources failed ({detail})")
        self.errors = errors


OUTCOMES = (
    "ok",
    "throttled",
    "quota_exhausted",
    "auth_failed",
    "config_error",
    "unknown_symbol",
    "unavailable",
    "timeout",
    "bad_payload",
    "circuit_open",
)
