"""LicenseCM Python SDK for KeyLedger: signed, optionally encrypted license checks with a heartbeat.

    from licensecm import LicenseCM

    client = LicenseCM(base_url="https://licenses.example.com", product_id="...", secret_key="sk_live_...",
                       use_encryption=True, pinned_key_id="a050837d85070582",
                       on_session_expired=lambda: sys.exit(1))
    client.initialize()
    client.activate("XXXX-XXXX-XXXX-XXXX")
"""

from licensecm.client import SESSION_ENDING_CODES, LicenseCM, __version__
from licensecm.errors import LicenseCMError
from licensecm.hwid import get_hwid, hwid_from_machine_id
from licensecm.protocol import (
    EnvelopeError,
    canonical_json,
    challenge_response,
    check_answer,
    key_id,
    load_public_key,
    open_envelope,
    seal_envelope,
    verify_answer_signature,
)

__all__ = [
    "EnvelopeError", "LicenseCM", "LicenseCMError", "SESSION_ENDING_CODES", "__version__", "canonical_json",
    "challenge_response", "check_answer", "get_hwid", "hwid_from_machine_id", "key_id", "load_public_key",
    "open_envelope", "seal_envelope", "verify_answer_signature",
]
