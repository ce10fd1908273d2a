"""Conversion: money (Decimal, ISO 4217 minor units) and rates as-of a day, cross rates."""
