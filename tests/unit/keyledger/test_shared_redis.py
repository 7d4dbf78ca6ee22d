"""Deployments sharing one Redis (keyledger/wiring.py): each counts, remembers challenges and refuses replays
apart from the other, while the processes of one deployment share all of it."""

from pathlib import Path

import pytest

from api.ports import EphemeralStore
from keyledger.settings import Settings
from keyledger.wiring import counters, deployment_tag, ephemeral_store
from tests.conftest import REDIS_URL


def deployment(folder: Path) -> Settings:
    return Settings(data_dir=str(folder), redis_url=REDIS_URL)


@pytest.fixture
def stores(tmp_path: Path) -> list[EphemeralStore]:
    """Two processes of deployment a, one of deployment b."""
    return [ephemeral_store(deployment(tmp_path / name)) for name in ("a", "a", "b")]


def test_a_challenge_is_taken_only_by_the_deployment_that_gave_it(stores: list[EphemeralStore]) -> None:
    first, same, other = stores

    first.put("challenge:c1", "KEY|hwid", 60)
    first.put("challenge:c2", "KEY|hwid", 60)

    assert other.take("challenge:c1") is None
    assert same.take("challenge:c1") == "KEY|hwid"  # another process of the same deployment
    assert first.take("challenge:c2") == "KEY|hwid"


def test_a_replay_mark_of_one_deployment_refuses_nothing_in_another(stores: list[EphemeralStore]) -> None:
    first, same, other = stores

    assert first.claim("replay:n1", 60)
    assert not same.claim("replay:n1", 60)
    assert other.claim("replay:n1", 60)


def test_hits_are_counted_per_deployment(tmp_path: Path) -> None:
    first, same, other = (counters(deployment(tmp_path / name)) for name in ("a", "a", "b"))
    try:
        assert [first.hit(["v:key"], [60])[0][0] for _ in range(3)] == [1, 2, 3]
        assert same.hit(["v:key"], [60])[0][0] == 4
        assert other.hit(["v:key"], [60])[0][0] == 1
    finally:
        for each in (first, same, other):
            each.close()


def test_a_deployment_is_named_by_where_its_data_lives_not_by_how_it_logs_in(tmp_path: Path) -> None:
    def tag(url: str) -> str:
        return deployment_tag(Settings(data_dir=str(tmp_path), database_url=url))

    same = tag("postgresql://app:old@DB.example.com/kl?schema=a")
    assert same == tag("postgresql://ops:new@db.example.com:5432/kl?schema=a")
    assert len({tag("postgresql://db/kl?schema=a"), tag("postgresql://db/kl?schema=b"), tag("postgresql://db/other"),
                tag("postgresql://db:5433/kl?schema=a"), deployment_tag(deployment(tmp_path / "a"))}) == 5
    assert deployment_tag(deployment(tmp_path / "a")) == deployment_tag(deployment(tmp_path / "b" / ".." / "a"))
