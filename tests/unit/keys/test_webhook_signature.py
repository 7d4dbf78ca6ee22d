"""Webhook signatures: docs/webhooks.md's test vector, and what a receiver's check refuses."""

from keys.webhook_signature import verify_webhook_signature, webhook_signature

SECRET = "whsec_test_vector_secret"
BODY = (b'{"id":"5d3c9a57-2f0e-5a43-9d1e-0c6f2b7d9e11","type":"license.created",'
        b'"created_at":"2026-01-01T00:00:00.000000Z","data":{"license_id":"8c1f6a8e-4d7b-4f1e-9a52-3b0e7c6d2a10"}}')
HEADER = "t=1767225600,v1=802b8a8a58fe03dbffb87a2a91ec186d239150adbe9905845bb45f472ed65d65"


def test_the_documented_vector_signs_as_documented():
    assert webhook_signature(SECRET, 1767225600, BODY) == HEADER
    assert verify_webhook_signature(SECRET, HEADER, BODY, now=1767225600 + 299)


def test_a_changed_body_an_old_timestamp_or_another_secret_is_refused():
    assert not verify_webhook_signature(SECRET, HEADER, BODY.replace(b"created", b"deleted"), now=1767225600)
    assert not verify_webhook_signature(SECRET, HEADER, BODY, now=1767225600 + 301)
    assert not verify_webhook_signature("whsec_other", HEADER, BODY, now=1767225600)
    assert not verify_webhook_signature(SECRET, "t=soon,v1=00", BODY, now=1767225600)
