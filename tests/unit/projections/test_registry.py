"""The read models' names: each is the key of its tracking row and quarantine rows, so it is kept for life."""

from projections.registry import PROJECTION_CLASSES

NAMES_FOR_LIFE = ("accounts", "products", "licenses", "license_changes", "stats", "notifications", "sessions",
                  "webhooks", "blacklist", "security_events", "timeseries")


def test_no_read_model_is_renamed_or_dropped():
    # Check every name ever released is still served: a renamed one would be rebuilt from nothing, and its old
    # tracking row would linger. A new read model appends its name here.
    assert tuple(cls.name for cls in PROJECTION_CLASSES) == NAMES_FOR_LIFE


def test_read_model_names_and_tables_are_unique():
    tables = [table for cls in PROJECTION_CLASSES for table in cls.tables]
    assert len(set(NAMES_FOR_LIFE)) == len(NAMES_FOR_LIFE)
    assert len(set(tables)) == len(tables)
