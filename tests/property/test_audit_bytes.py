"""The call log's audit records hash the bytes docs/audit.md names: each row's columns as compact JSON with sorted
keys, non-ASCII unescaped, exactly as Python's `json` writes them (chains linked before stay verifiable)."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.audit_sources import CALL_FIELDS, call_record

columns = st.one_of(st.none(), st.text(), st.text(alphabet=st.characters(max_codepoint=0x3f), max_size=4))


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=2**62), st.lists(columns, min_size=len(CALL_FIELDS),
                                                           max_size=len(CALL_FIELDS)))
def test_a_call_hashes_the_json_bytes_the_audit_document_names(position, values):
    row = (position, *values)
    expected = json.dumps(dict(zip(CALL_FIELDS, values)), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert call_record(row).data == expected.encode()
