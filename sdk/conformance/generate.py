"""Write the conformance vectors (sdk/conformance/vectors/*.json) from the server's own code.

Every expected value below is computed by KeyLedger's `keys/` package, the code the server
signs, seals and checks with, so an SDK that passes these vectors agrees with the server
byte for byte. Run it after changing `keys/`:

    .venv/bin/python sdk/conformance/generate.py          # rewrite the files
    .venv/bin/python sdk/conformance/generate.py --check  # exit 1 if the files differ

`tests/sdk/test_conformance_vectors.py` runs the check, so the files cannot drift from the code.
The keys are test keys, published here on purpose: never use them for anything else.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519, padding  # noqa: E402

from keys.canonical import canonical_json  # noqa: E402
from keys.challenge import challenge_response  # noqa: E402
from keys.envelope import envelope_signature, seal_envelope  # noqa: E402
from keys.signing import SigningKey, answer_message, sign, signing_key_from_pem  # noqa: E402

VECTORS = HERE / "vectors"
SECRET = "sk_live_000102030405060708090a0b0c0d0e0f1011121314151617"
PRODUCT_ID = "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"
LICENSE_KEY = "ABCD-EFGH-IJKL-MNOP"
HWID = "hwid-test-001"
NONCE = "n-42"
NOW = "2026-01-15T12:00:00.000000Z"
NOW_MS = 1768478400000
MAX_SKEW_MS = 300_000


def _ed25519(seed: bytes) -> SigningKey:
    from cryptography.hazmat.primitives import serialization

    private = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return signing_key_from_pem(pem)


def test_keys() -> dict[str, SigningKey]:
    return {
        "rsa-4096": signing_key_from_pem((HERE / "keys" / "rsa-4096.test-only.pem").read_bytes()),
        "ed25519": _ed25519(bytes(range(32))),  # the key of docs/client-protocol.md
        "other-ed25519": _ed25519(bytes(range(32, 64))),
    }


# --- canonical JSON ----------------------------------------------------------------------------

CANONICAL_INPUTS: list[tuple[str, str]] = [
    ("key order", '{"b":2,"a":1,"c":{"z":true,"y":null,"x":false}}'),
    ("upper case sorts before lower case", '{"b":1,"B":2,"a":3,"A":4,"_":5,"1":6}'),
    ("whitespace is dropped", ' { "a" : [ 1 , 2 ,\n 3 ] ,\t"b" : { } , "c" : [ ] } '),
    ("nesting", '{"a":[{"d":1,"c":[{"f":[],"e":{}}]},[[["deep"]]]],"b":{"b":{"b":{"a":"x"}}}}'),
    ("unicode stays UTF-8", '{"name":"Jos\\u00e9 M\\u00fcller","cjk":"\\u6f22\\u5b57","emoji":"\\ud83d\\ude00"}'),
    ("raw UTF-8 input", '{"text":"déjà vu — ½ 漢字 😀"}'),
    ("escapes", '{"s":"quote \\" backslash \\\\ slash \\/ nl \\n cr \\r tab \\t bs \\b ff \\f"}'),
    ("control characters", '{"c":"\\u0000\\u0001\\u0007\\u000b\\u000e\\u001f\\u007f"}'),
    ("line separators are not escaped", '{"ls":"\\u2028\\u2029"}'),
    ("keys sort by UTF-16 code units", '{"\\ue000":1,"\\ud83d\\ude00":2,"z":3,"\\u00e9":4,"a":5}'),
    ("integers", '{"zero":0,"neg":-42,"big":9007199254740991,"nbig":-9007199254740991,"n":123456789012}'),
    ("floats as JavaScript writes them",
     '[1.0,-1.5,0.1,100.0,1e2,1E-7,1e-6,0.000001,1e21,1e20,123456789.125,5e-324,1.7976931348623157e308,-0.0]'),
    ("float precision", '[0.30000000000000004,3.14159265358979,2.5e-10,1.23e+45]'),
    ("literals", '[true,false,null,"true","null"]'),
    ("empty containers", '{"o":{},"a":[],"s":""}'),
    ("an answer's data", '{"valid":true,"license":{"type":"subscription","expires_at":"2026-12-31T23:59:59.000000Z",'
                         '"metadata":{"plan":"pro","seats":3}},"watermark":"0f1e2d3c4b5a69788796a5b4c3d2e1f0",'
                         '"timestamp":"2026-01-15T12:00:00.000000Z","key_id":"a050837d85070582","nonce":"n-42"}'),
]


def canonical_vectors() -> dict[str, Any]:
    cases = [{"name": name, "input": text, "canonical": canonical_json(json.loads(text)).decode("utf-8")}
             for name, text in CANONICAL_INPUTS]
    return {
        "about": "RFC 8785 canonical JSON. Parse `input` with your JSON parser, canonicalize the value, and "
                 "compare with `canonical` (UTF-8). Integers stay within +-(2^53-1).",
        "cases": cases,
    }


# --- signed answers ----------------------------------------------------------------------------

def _answer(key: SigningKey, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "valid": True,
        "license": {"type": "subscription", "expires_at": "2026-12-31T23:59:59.000000Z", "metadata": {}},
        "watermark": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "timestamp": NOW, "key_id": key.key_id, "product_id": PRODUCT_ID, "license_key": LICENSE_KEY,
        "hwid": HWID, "nonce": NONCE,
    }
    for name, value in changes.items():
        if value is _DROP:
            data.pop(name, None)
        else:
            data[name] = value
    return data


_DROP = object()


def _signed(key: SigningKey, data: dict[str, Any], signer: SigningKey | None = None) -> dict[str, Any]:
    return {**data, "signature": sign((signer or key).private_key, answer_message(data))}


def _flip(text: str, at: int = 10) -> str:
    """`text` with one base64 character changed (still base64): one flipped byte."""
    swapped = "B" if text[at] != "B" else "C"
    return text[:at] + swapped + text[at + 1:]


def _case(name: str, key: str, data: dict[str, Any], signature_valid: bool, accepted: bool,
          why: str) -> dict[str, Any]:
    return {"name": name, "key": key, "data": data, "signature_valid": signature_valid, "accepted": accepted,
            "why": why}


def answer_vectors(keys: dict[str, SigningKey]) -> dict[str, Any]:
    rsa, ed, other = keys["rsa-4096"], keys["ed25519"], keys["other-ed25519"]
    cases = []
    for name, key in (("rsa-4096", rsa), ("ed25519", ed)):
        good = _signed(key, _answer(key))
        cases += [
            _case(f"{name}: a genuine answer", name, good, True, True, "signature, key id, nonce, time, binding"),
            _case(f"{name}: one byte of the answer changed", name, {**good, "watermark": "1" + good["watermark"][1:]},
                  False, False, "the signature covers every field"),
            _case(f"{name}: one byte of the signature changed", name, {**good, "signature": _flip(good["signature"])},
                  False, False, "a damaged signature"),
            _case(f"{name}: no signature", name, {k: v for k, v in good.items() if k != "signature"}, False, False,
                  "an unsigned answer is refused, never skipped"),
        ]
    metadata = {"plan": "pró", "ratio": 0.5, "big": 1e21, "tiny": 1e-7, "seats": 3, "tags": ["α", "😀"],
                "nested": {"b": [1, 2.5, None], "a": True}}
    rich = _answer(rsa, license={"type": "lifetime", "expires_at": None, "metadata": metadata})
    cases.append(_case("rsa-4096: unicode and floats in metadata", "rsa-4096", _signed(rsa, rich), True, True,
                       "canonical JSON decides what was signed"))
    activation = _answer(ed, valid=_DROP, activated=True, session={"token": "tok_" + "a" * 40,
                                                                    "expires_at": "2026-01-15T13:00:00.000000Z"})
    cases.append(_case("ed25519: an activation answer", "ed25519", _signed(ed, activation), True, True,
                       "any answer shape"))
    cases += [
        _case("ed25519: names another key id", "ed25519", _signed(ed, _answer(ed, key_id=other.key_id)), True, False,
              "the answer must name the pinned key"),
        _case("ed25519: signed by another key", "ed25519", _signed(ed, _answer(ed), signer=other), False, False,
              "verified with the pinned key, not the one the answer names"),
        _case("ed25519: no nonce", "ed25519", _signed(ed, _answer(ed, nonce=_DROP)), True, False,
              "the nonce sent must come back"),
        _case("ed25519: another nonce", "ed25519", _signed(ed, _answer(ed, nonce="n-41")), True, False,
              "a replayed answer carries an old nonce"),
        _case("ed25519: six minutes old", "ed25519", _signed(ed, _answer(ed, timestamp="2026-01-15T11:54:00.000000Z")),
              True, False, "older than five minutes"),
        _case("ed25519: six minutes ahead", "ed25519",
              _signed(ed, _answer(ed, timestamp="2026-01-15T12:06:00.000000Z")), True, False, "later than five minutes"),
        _case("ed25519: four minutes old", "ed25519",
              _signed(ed, _answer(ed, timestamp="2026-01-15T11:56:00.123456Z")), True, True, "within five minutes"),
        _case("ed25519: no timestamp", "ed25519", _signed(ed, _answer(ed, timestamp=_DROP)), True, False,
              "the time is required"),
        _case("ed25519: about another license key", "ed25519",
              _signed(ed, _answer(ed, license_key="ZZZZ-EFGH-IJKL-MNOP")), True, False, "bound to the request"),
        _case("ed25519: about another device", "ed25519", _signed(ed, _answer(ed, hwid="hwid-test-002")), True,
              False, "bound to the request"),
        _case("ed25519: about another product", "ed25519",
              _signed(ed, _answer(ed, product_id="00000000-0000-4000-8000-000000000000")), True, False,
              "bound to the request"),
        _case("ed25519: names no product", "ed25519", _signed(ed, _answer(ed, product_id=_DROP)), True, False,
              "the binding fields are required"),
        _case("ed25519: signature is not base64", "ed25519", {**_answer(ed), "signature": "not base64!"}, False, False,
              "garbage"),
        _case("ed25519: signature is not a string", "ed25519", {**_answer(ed), "signature": 12}, False, False,
              "garbage"),
    ]
    sha512 = rsa.private_key.sign(answer_message(_answer(rsa)), padding.PKCS1v15(), hashes.SHA512())  # type: ignore[union-attr]
    cases.append(_case("rsa-4096: PKCS#1 v1.5 over SHA-512 (the published SDKs' scheme)", "rsa-4096",
                       {**_answer(rsa), "signature": base64.b64encode(sha512).decode()}, False, False,
                       "only SHA-256 is accepted"))
    pss = rsa.private_key.sign(answer_message(_answer(rsa)),  # type: ignore[union-attr]
                               padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=0), hashes.SHA256())
    cases.append(_case("rsa-4096: RSA-PSS (no salt, so the vector is fixed)", "rsa-4096", {**_answer(rsa), "signature": base64.b64encode(pss).decode()},
                       False, False, "only PKCS#1 v1.5 is accepted"))
    return {
        "about": "Signed answers. `signature_valid`: the signature of `data` (canonical JSON without `signature`) "
                 "verifies with the public key named by `key`. `accepted`: a client that sent `expect` accepts "
                 "the answer: signature valid, key_id is the key's id, nonce echoed, timestamp within "
                 "max_skew_ms of now_ms, and product_id, license_key, hwid present and equal to the request.",
        "keys": {name: {"public_key": key.public_pem, "key_id": key.key_id, "algorithm": key.algorithm}
                 for name, key in keys.items()},
        "expect": {"nonce": NONCE, "now": NOW, "now_ms": NOW_MS, "max_skew_ms": MAX_SKEW_MS,
                   "product_id": PRODUCT_ID, "license_key": LICENSE_KEY, "hwid": HWID},
        "cases": cases,
    }


# --- the envelope ------------------------------------------------------------------------------

def _plaintext(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _resigned(envelope: dict[str, Any], secret: str = SECRET) -> dict[str, Any]:
    """The envelope with its HMAC recomputed: an attacker who holds the secret, or a check past the HMAC."""
    return {**envelope, "signature": envelope_signature(secret, envelope["iv"], envelope["data"], envelope["tag"],
                                                        envelope["timestamp"])}


def _hexflip(text: str, at: int = 0) -> str:
    return text[:at] + ("1" if text[at] == "0" else "0") + text[at + 1:]


def envelope_vectors() -> dict[str, Any]:
    request = {"hwid": HWID, "license_key": LICENSE_KEY, "nonce": "n-42", "product_id": PRODUCT_ID}
    answer = {"success": True, "data": {"valid": True, "nonce": "n-42", "watermark": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                                        "note": "déjà 😀"}}
    iv = bytes(range(16))
    doc_ts = 1704067200000
    sealed = seal_envelope(SECRET, PRODUCT_ID, request, doc_ts, iv)
    sealed_answer = seal_envelope(SECRET, PRODUCT_ID, answer, NOW_MS, bytes(range(16, 32)))
    upper = _resigned({**sealed_answer, **{f: sealed_answer[f].upper() for f in ("iv", "data", "tag")}})
    upper = {**upper, "signature": upper["signature"].upper()}
    twelve = seal_envelope(SECRET, PRODUCT_ID, request, doc_ts, iv)  # re-sealed with a 12-byte iv below
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw12 = AESGCM(hashlib.sha256(SECRET.encode()).digest()).encrypt(iv[:12], _plaintext(request).encode(), None)
    twelve = _resigned({**twelve, "iv": iv[:12].hex(), "data": raw12[:-16].hex(), "tag": raw12[-16:].hex()})
    not_object = seal_envelope(SECRET, PRODUCT_ID, {"x": 1}, doc_ts, iv)
    list_plain = AESGCM(hashlib.sha256(SECRET.encode()).digest()).encrypt(iv, b"[1,2,3]", None)
    not_object = _resigned({**not_object, "data": list_plain[:-16].hex(), "tag": list_plain[-16:].hex()})
    bad_json = AESGCM(hashlib.sha256(SECRET.encode()).digest()).encrypt(iv, b'{"a":', None)
    not_json = _resigned({**sealed, "data": bad_json[:-16].hex(), "tag": bad_json[-16:].hex()})

    def opens(name: str, envelope: dict[str, Any], now: int, plaintext: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "envelope": envelope, "now_ms": now, "opens": True, "plaintext": plaintext}

    def refused(name: str, envelope: Any, now: int, why: str) -> dict[str, Any]:
        return {"name": name, "envelope": envelope, "now_ms": now, "opens": False, "why": why}

    without = {k: v for k, v in sealed.items() if k != "tag"}
    cases = [
        opens("the documented request vector", sealed, doc_ts, request),
        opens("a sealed answer", sealed_answer, NOW_MS, answer),
        opens("upper-case hex (the HMAC covers the strings as sent)", upper, NOW_MS, answer),
        opens("4 min 59 s old", sealed, doc_ts + 299_000, request),
        opens("4 min 59 s ahead", sealed, doc_ts - 299_000, request),
        refused("bad HMAC", {**sealed, "signature": _hexflip(sealed["signature"])}, doc_ts, "HMAC"),
        refused("sealed with another secret", seal_envelope("sk_live_other", PRODUCT_ID, request, doc_ts, iv), doc_ts,
                "HMAC"),
        refused("ciphertext changed, HMAC not", {**sealed, "data": _hexflip(sealed["data"])}, doc_ts, "HMAC"),
        refused("ciphertext changed, HMAC recomputed", _resigned({**sealed, "data": _hexflip(sealed["data"])}), doc_ts,
                "GCM tag"),
        refused("tag changed, HMAC recomputed", _resigned({**sealed, "tag": _hexflip(sealed["tag"])}), doc_ts,
                "GCM tag"),
        refused("truncated tag, HMAC recomputed", _resigned({**sealed, "tag": sealed["tag"][:30]}), doc_ts,
                "the tag is 16 bytes"),
        refused("a 12-byte iv, HMAC recomputed", twelve, doc_ts, "the iv is 16 bytes"),
        refused("iv is not hex", _resigned({**sealed, "iv": "zz" + sealed["iv"][2:]}), doc_ts, "hex"),
        refused("data of odd length", _resigned({**sealed, "data": sealed["data"][:-1]}), doc_ts, "hex"),
        refused("signature is not hex", {**sealed, "signature": "g" * 64}, doc_ts, "hex"),
        refused("timestamp is a string", _resigned({**sealed, "timestamp": str(doc_ts)}) | {"timestamp": str(doc_ts)},
                doc_ts, "the timestamp is an integer"),
        refused("encrypted is not true", {**sealed, "encrypted": False}, doc_ts, "not an envelope"),
        refused("no tag", without, doc_ts, "every field is required"),
        refused("5 min 1 s old", sealed, doc_ts + 301_000, "stale"),
        refused("5 min 1 s ahead", sealed, doc_ts - 301_000, "from the future"),
        refused("plaintext is not an object", not_object, doc_ts, "the plaintext is a JSON object"),
        refused("plaintext is not JSON", not_json, doc_ts, "the plaintext is JSON"),
    ]
    seal = [
        {"name": "the documented request vector", "secret": SECRET, "product_id": PRODUCT_ID, "iv": iv.hex(),
         "timestamp": doc_ts, "plaintext": _plaintext(request), "envelope": sealed},
        {"name": "a UTF-8 plaintext", "secret": SECRET, "product_id": PRODUCT_ID, "iv": bytes(range(16, 32)).hex(),
         "timestamp": NOW_MS, "plaintext": _plaintext(answer), "envelope": sealed_answer},
    ]
    return {
        "about": "The AES-256-GCM envelope. `open` cases: open `envelope` with `secret` at `now_ms` (max skew "
                 "300000 ms); `opens` says whether it must open, and `plaintext` is the JSON it holds. `seal` "
                 "cases: encrypt the UTF-8 bytes of `plaintext` with `iv` and `timestamp`; the result must equal "
                 "`envelope` exactly.",
        "secret": SECRET, "max_skew_ms": MAX_SKEW_MS, "open": cases, "seal": seal,
    }


# --- challenge-response, HWID ------------------------------------------------------------------

def challenge_vectors() -> dict[str, Any]:
    inputs = [
        ("the documented vector", SECRET, "0" * 64, LICENSE_KEY, HWID),
        ("a random challenge", SECRET, hashlib.sha256(b"challenge").hexdigest(), "WXYZ-1234-5678-90AB",
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("non-ASCII hwid", "sk_live_ünïcode", "f" * 64, LICENSE_KEY, "gerät-001"),
    ]
    return {
        "about": "response = hex HMAC-SHA256(key = secret (UTF-8), message = challenge + license_key + hwid).",
        "cases": [{"name": name, "secret": secret, "challenge": challenge, "license_key": key, "hwid": hwid,
                   "response": challenge_response(secret, challenge, key, hwid)}
                  for name, secret, challenge, key, hwid in inputs],
    }


HWID_PREFIX = "licensecm-hwid:v1:"


def hwid_vectors() -> dict[str, Any]:
    machine_ids = ["4c4c4544003957108052b4c04f4e4d32", "  6F1C2A4E0B7D4C3E9A8F2D5E6F708192\n",
                   "b7e1f6a2-93c4-4d5e-8f60-1a2b3c4d5e6f"]
    return {
        "about": "Every SDK derives the same HWID from the OS machine id (Linux /etc/machine-id, Windows "
                 "MachineGuid, macOS IOPlatformUUID): hex SHA-256 of UTF-8 '" + HWID_PREFIX + "machine-id|' + "
                 "the id trimmed and lower-cased. So an application keeps its device when it changes language.",
        "cases": [{"machine_id": mid, "hwid": hashlib.sha256(
            (HWID_PREFIX + "machine-id|" + mid.strip().lower()).encode()).hexdigest()} for mid in machine_ids],
    }


# --- files -------------------------------------------------------------------------------------

def generate() -> dict[str, str]:
    keys = test_keys()
    files = {"canonical.json": canonical_vectors(), "answers.json": answer_vectors(keys),
             "envelopes.json": envelope_vectors(), "challenges.json": challenge_vectors(),
             "hwid.json": hwid_vectors()}
    return {name: json.dumps(content, indent=2, ensure_ascii=False) + "\n" for name, content in files.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    args = parser.parse_args()
    stale = []
    for name, text in generate().items():
        path = VECTORS / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run sdk/conformance/generate.py):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
