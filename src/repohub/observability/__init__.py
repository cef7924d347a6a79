"""Metrics, per-request context and structured logs (nothing here knows a dialect's wire format)."""
