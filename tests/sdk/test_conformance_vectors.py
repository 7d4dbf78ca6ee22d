"""The conformance vectors: generated from keys/ (never drift), and met by the Python SDK."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "sdk" / "conformance" / "vectors"
SDK_PATH = ROOT / "sdk" / "python"
if str(SDK_PATH) not in sys.path:
    sys.path.insert(0, str(SDK_PATH))

import licensecm  # noqa: E402


def vectors(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def cases(name: str, key: str = "cases") -> list[Any]:
    return [pytest.param(case, id=case.get("name", str(i))) for i, case in enumerate(vectors(name)[key])]


def test_committed_vectors_equal_a_fresh_generation():
    generated = subprocess.run([sys.executable, str(ROOT / "sdk" / "conformance" / "generate.py"), "--check"],
                               capture_output=True, text=True, timeout=120)
    assert generated.returncode == 0, generated.stderr


def test_the_generator_check_notices_a_changed_file(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "sdk" / "conformance"))
    try:
        import generate
    finally:
        sys.path.remove(str(ROOT / "sdk" / "conformance"))
    for name, text in generate.generate().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "challenges.json").write_text(
        (tmp_path / "challenges.json").read_text().replace("2a9804f3", "2a9804f4"), encoding="utf-8")
    monkeypatch.setattr(generate, "VECTORS", tmp_path)
    monkeypatch.setattr(sys, "argv", ["generate.py", "--check"])
    # Check the drift is reported and only the changed file is named.
    assert generate.main() == 1


def test_every_file_has_cases_of_each_outcome():
    answers = vectors("answers.json")["cases"]
    assert {(c["signature_valid"], c["accepted"]) for c in answers} == {(True, True), (True, False), (False, False)}
    assert {c["opens"] for c in vectors("envelopes.json")["open"]} == {True, False}


@pytest.mark.parametrize("case", cases("canonical.json"))
def test_canonical_json(case):
    assert licensecm.canonical_json(json.loads(case["input"])) == case["canonical"].encode("utf-8")


@pytest.mark.parametrize("case", cases("answers.json"))
def test_signed_answers(case):
    file = vectors("answers.json")
    key, expect = file["keys"][case["key"]], file["expect"]
    public_key = licensecm.load_public_key(key["public_key"])
    assert licensecm.key_id(key["public_key"]) == key["key_id"]
    assert licensecm.verify_answer_signature(public_key, case["data"]) is case["signature_valid"]
    request = {name: expect[name] for name in ("product_id", "license_key", "hwid")}
    reason = licensecm.check_answer(public_key, key["key_id"], case["data"], nonce=expect["nonce"],
                                    now=datetime.fromisoformat(expect["now"].replace("Z", "+00:00")),
                                    max_skew_seconds=expect["max_skew_ms"] / 1000, request=request)
    assert (reason is None) is case["accepted"], reason


@pytest.mark.parametrize("case", cases("envelopes.json", "open"))
def test_opening_envelopes(case):
    secret = vectors("envelopes.json")["secret"]
    if case["opens"]:
        assert licensecm.open_envelope(secret, case["envelope"], case["now_ms"]) == case["plaintext"]
    else:
        with pytest.raises(licensecm.EnvelopeError):
            licensecm.open_envelope(secret, case["envelope"], case["now_ms"])


@pytest.mark.parametrize("case", cases("envelopes.json", "seal"))
def test_sealing_envelopes(case):
    body = json.loads(case["plaintext"])
    sealed = licensecm.seal_envelope(case["secret"], case["product_id"], body, case["timestamp"],
                                     bytes.fromhex(case["iv"]))
    assert sealed == case["envelope"]


@pytest.mark.parametrize("case", cases("challenges.json"))
def test_challenge_responses(case):
    assert licensecm.challenge_response(case["secret"], case["challenge"], case["license_key"],
                                        case["hwid"]) == case["response"]


@pytest.mark.parametrize("case", cases("hwid.json"))
def test_hwid_from_machine_id(case):
    assert licensecm.hwid_from_machine_id(case["machine_id"]) == case["hwid"]
