"""The actor on every event: stamped as the event is created, a class default for events stored without one."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import datetime, timezone
from uuid import uuid4

import domain
from domain.actor import UNKNOWN, EventActor, acting, system
from domain.aggregate import Aggregate
from domain.license import License, LicenseTerms

AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def every_aggregate() -> list[type]:
    modules = [importlib.import_module(f"domain.{info.name}") for info in pkgutil.iter_modules(domain.__path__)]
    return [value for module in modules for value in vars(module).values()
            if inspect.isclass(value) and value.__module__ == module.__name__ and issubclass(value, Aggregate)]


def test_every_aggregates_events_carry_the_actor_and_default_to_unknown():
    aggregates = every_aggregate()
    assert len(aggregates) >= 10
    for aggregate in aggregates:
        events = [value for value in vars(aggregate).values() if inspect.isclass(value)
                  and issubclass(value, Aggregate.Event.__mro__[1])]  # eventsourcing's Event: ours, or not ours
        # Check each event class is one of ours, with `unknown` for an event stored without an actor.
        assert events, aggregate
        for event in events:
            assert issubclass(event, Aggregate.Event), event
            assert event.actor is UNKNOWN, event


def test_an_event_is_stamped_with_the_actor_current_as_it_is_created():
    vendor = EventActor(kind="account", channel="vendor_api", account_id=uuid4(), email="v@example.com", role="user")
    with acting(vendor):
        license = License.issue("ABCD", uuid4(), uuid4(), LicenseTerms().as_issued(AT), None, AT)
    with acting(system("expiry-sweeper")):
        license.suspend("unpaid", AT)
    license.reinstate(AT)

    issued, suspended, reinstated = license.collect_events()
    assert issued.actor == vendor and suspended.actor == system("expiry-sweeper")
    # Check an event made where no one set an actor stores none (the class default answers unknown).
    assert reinstated.actor is UNKNOWN and "actor" not in vars(reinstated)


def test_an_actor_round_trips_as_a_flat_object_of_its_non_empty_fields():
    actor = EventActor(kind="client", channel="client_api", product_id=uuid4(), device="dev-1", ip="192.0.2.1",
                       request_id="r-1")

    assert EventActor.from_dict(actor.as_dict()) == actor
    assert set(actor.as_dict()) == {"kind", "channel", "product_id", "device", "ip", "request_id"}
