"""Composition root: settings, CLI and the wiring of store, projections, keys and queue."""
