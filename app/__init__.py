"""Ticker Converter: daily stock bars and FX rates, checked, stored, converted and served."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ticker-converter")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"
