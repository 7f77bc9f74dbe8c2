"""Numeric constants shared by the optimiser's modules."""

from __future__ import annotations

INF = float("inf")
"""Infinity (an absent bound)."""

EPS = 1e-9
"""Tolerance for exact-looking comparisons of times and values."""
