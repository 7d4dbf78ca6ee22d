"""The aggregate caches hold at most so many bytes, whatever the aggregates weigh."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from adapters.aggregate_cache import SizedLRUCache, approximate_size
from commands.client_view import ClientView
from domain.ids import LicenseKey
from domain.license import License, LicenseType

AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def license_with(metadata_bytes: int) -> License:
    """A license as a repository caches it: its events recorded, none pending."""
    license = License(LicenseKey(f"AAAA-BBBB-CCCC-{uuid4().hex[:4].upper()}"), uuid4(), uuid4(),
                      LicenseType.LIFETIME, 1, True, None, {"note": "x" * metadata_bytes}, None, AT)
    license.collect_events()
    return license


def test_an_aggregate_is_weighed_by_what_it_holds():
    small, large = approximate_size(license_with(10)), approximate_size(license_with(16_000))
    assert 15_900 <= large - small <= 17_000


def test_the_oldest_aggregates_go_once_the_bytes_are_spent():
    cache = SizedLRUCache(entries=1_000, max_bytes=100_000)
    keys = [uuid4() for _ in range(20)]
    for key in keys:
        cache.put(key, license_with(16_000))

    # Check only as many 16 KiB licenses as fit stayed, the newest ones...
    assert cache.size <= 100_000 and len(cache) == 100_000 // approximate_size(license_with(16_000)) >= 4
    with pytest.raises(KeyError):
        cache.get(keys[0])
    assert cache.get(keys[-1]) is not None
    # ...and that what is read is kept over what is not.
    oldest_kept, next_kept = keys[-len(cache)], keys[-len(cache) + 1]
    cache.get(oldest_kept)
    cache.put(uuid4(), license_with(16_000))
    assert cache.get(oldest_kept) is not None
    with pytest.raises(KeyError):
        cache.get(next_kept)


def test_entries_are_bounded_too_and_eviction_frees_their_bytes():
    cache = SizedLRUCache(entries=3, max_bytes=10**9)
    keys = [uuid4() for _ in range(5)]
    for key in keys:
        cache.put(key, license_with(100))
    assert len(cache) == 3
    before = cache.size
    cache.get(keys[-1], evict=True)
    assert len(cache) == 2 and cache.size < before


def test_the_client_views_memory_is_bounded_by_bytes():
    sizing = SizedLRUCache(entries=10, max_bytes=50_000)
    view = ClientView(recorder=None, mapper=None, head=lambda: 0, sized=sizing)
    licenses = [license_with(16_000) for _ in range(10)]
    for license in licenses:
        view.current(license.id, License, head=1, load=lambda _, license=license: license)

    assert view._cached_bytes <= 50_000 and len(view._cached) == 50_000 // approximate_size(licenses[0])
    assert view.cached(licenses[-1].id) is licenses[-1] and view.cached(licenses[0].id) is None
