"""Long-lived sessions are snapshotted, and a snapshotted session still behaves the same."""

from domain.account import Actor
from domain.client_call import ClientRequest
from domain.license import LicenseTerms, LicenseType
from domain.product import SigningAlgorithm
from keys.tokens import session_id_of


def test_a_session_kept_alive_past_the_snapshot_interval_still_rotates_and_expires(runtime, clock):
    ledger = runtime.ledger
    actor = Actor(ledger.register_account("s@example.com", "secret123", "S", clock()).id, is_admin=True)
    product = ledger.create_product(actor, "App", "", SigningAlgorithm.ED25519, clock()).id
    ids, _ = ledger.issue_licenses(actor, product, 1, LicenseTerms(license_type=LicenseType.LIFETIME), clock())
    key = ledger.get_license(actor, ids[0]).key

    def request():
        return ClientRequest(key, product, "pc", "127.0.0.1", "test", clock())

    token = ledger.activate_license(request()).session_token
    for _ in range(60):
        clock.advance(minutes=5)
        token = ledger.keep_session_alive(request(), token).session_token

    # Check a snapshot was taken, and the reloaded session is live and current.
    snapshots = list(ledger.snapshots.get(session_id_of(token)))
    assert snapshots and snapshots[-1].originator_version == 50
    assert ledger.check_session(request(), token).session.expires_at > clock()
