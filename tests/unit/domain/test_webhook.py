"""Webhook aggregate and URL rules: given → when → then."""

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from domain.errors import InvalidValueError
from domain.webhook import Webhook, check_addresses, check_events, check_url

AT = datetime(2026, 1, 15, tzinfo=timezone.utc)


def test_a_disabled_webhook_is_inactive_and_disabling_again_records_nothing():
    webhook = Webhook(uuid4(), "https://example.com/h", ["license.created"], "sealed", AT)
    assert webhook.disable(50, AT) is True
    assert webhook.disable(50, AT) is False
    events = webhook.collect_events()
    assert [type(e).__name__ for e in events] == ["Registered", "Disabled"]
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert replayed.is_active is False


@pytest.mark.parametrize("addresses", [
    ["93.184.215.14", "10.0.0.1"],  # one private address among public ones: refused
    ["100.64.0.1"], ["169.254.169.254"], ["::ffff:127.0.0.1"], ["fe80::1%eth0"], ["224.0.0.1"], ["0.0.0.0"], [],
])
def test_a_host_resolving_to_any_unreachable_address_is_refused(addresses):
    with pytest.raises(InvalidValueError):
        check_addresses("example.com", addresses, allow_private=False)


def test_public_addresses_pass_and_urls_must_be_https_without_credentials():
    check_addresses("example.com", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"], allow_private=False)
    assert check_url("https://Example.com:8443/hook?x=1", allow_private=False) == "example.com"
    for url in ("http://example.com/h", "https://user:pw@example.com/h", "https://example.com/h#f", "https:///h",
                "https://example.com:99999/h", "https://exa mple.com/h"):
        with pytest.raises(InvalidValueError):
            check_url(url, allow_private=False)


def test_event_types_must_be_known_and_are_kept_once():
    assert check_events(["license.created", "license.created", "security.alert"]) == ["license.created",
                                                                                     "security.alert"]
    with pytest.raises(InvalidValueError):
        check_events(["license.renamed"])
