"""What a client decision reads is declared once, beside the guards (DECIDED_FROM), and derived elsewhere."""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime

from eventsourcing.domain import BaseAggregate

from domain.account import Account
from domain.validation import DECIDED_FROM, Admitted, Attempt


def aggregates_read(*inputs: type) -> set[type]:
    """The aggregate types the guards' inputs carry (a guard can only read what it is handed), however nested
    in their fields' types (`X | None`, `tuple[X, ...]`, ...)."""
    return {found for kind in inputs for hint in typing.get_type_hints(kind).values() for found in _aggregates(hint)}


def _aggregates(hint: object) -> set[type]:
    if isinstance(hint, type) and issubclass(hint, BaseAggregate):
        return {hint}
    return {found for arg in typing.get_args(hint) for found in _aggregates(arg)}


def test_every_aggregate_the_guards_read_is_declared():
    assert aggregates_read(Attempt, Admitted) <= set(DECIDED_FROM)


def test_an_aggregate_added_to_what_the_guards_read_is_caught():
    @dataclasses.dataclass(frozen=True)
    class WithAccount:
        account: Account | None
        now: datetime

    @dataclasses.dataclass(frozen=True)
    class WithAccounts:
        accounts: dict[str, tuple[Account, ...]]

    # Check the check notices a fourth aggregate type, which DECIDED_FROM does not declare, even nested.
    assert aggregates_read(WithAccount) - set(DECIDED_FROM) == {Account}
    assert aggregates_read(WithAccounts) - set(DECIDED_FROM) == {Account}


def test_the_views_invalidation_and_the_conditional_append_derive_from_the_declaration():
    from commands.client import DECIDED_ON
    from commands.client_view import TOPICS

    assert set(DECIDED_ON) == set(DECIDED_FROM)
    # Check every declared aggregate's events invalidate the view, and nothing else's.
    owners = {topic.rsplit(".", 1)[0] for topic in TOPICS}
    assert owners == {f"{kind.__module__}:{kind.__qualname__}" for kind in DECIDED_FROM}
