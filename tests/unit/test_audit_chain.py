"""The audit export's hash chain: an unbroken file verifies; an edit, a removal, an insertion or a
reordering is found at the first line it breaks."""

from __future__ import annotations

import hashlib

from audit.chain import GENESIS, chain, verify


def export(n: int = 4) -> list[bytes]:
    records = [{"record": "event", "stream_seq": i, "event_type": "DecisionMade", "payload": {"outcome": "advance",
                                                                                             "score": 3.5}}
               for i in range(1, n + 1)]
    return list(chain(records, end={"since": None, "until": None}))


def test_an_untouched_export_verifies_and_its_first_line_chains_from_the_documented_genesis():
    lines = export()
    assert verify(lines).ok and verify(lines).records == 4
    assert GENESIS == hashlib.sha256(b"autoadvance audit export v1").hexdigest()
    assert b'"prev":"' + GENESIS.encode() in lines[0]


def test_one_edited_byte_is_found_on_its_line():
    lines = export()
    lines[2] = lines[2].replace(b"advance", b"advancf")
    verdict = verify(lines)
    assert not verdict.ok and verdict.bad_line == 3


def test_a_removed_an_inserted_and_a_swapped_line_are_found():
    lines = export()
    assert verify(lines[:1] + lines[2:]).bad_line == 2
    assert verify(lines[:2] + [lines[1]] + lines[2:]).bad_line == 3
    assert verify([lines[1], lines[0], *lines[2:]]).bad_line == 1


def test_lines_cut_from_the_end_are_found_by_the_missing_end_record():
    lines = export()
    verdict = verify(lines[:-1])
    assert not verdict.ok and verdict.bad_line == 5 and "end record" in (verdict.reason or "")
    assert verify(lines[:-2] + lines[-1:]).bad_line == 4


def test_a_re_serialised_line_with_the_same_meaning_is_still_an_edit():
    lines = export()
    lines[0] = lines[0].replace(b'{"', b'{ "', 1)
    assert verify(lines).bad_line == 1
