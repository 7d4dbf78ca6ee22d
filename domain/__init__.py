"""Aggregates, their events, value objects and invariants. Pure: no I/O, no clock reads."""
