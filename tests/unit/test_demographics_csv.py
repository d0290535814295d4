"""The demographics CSV: rows as written, unknown left unknown, every problem with its line."""

from __future__ import annotations

import pytest

from compliance.demographics import ImportInvalid, parse_csv


def test_rows_are_read_with_empty_cells_as_unknown_and_a_digest_as_the_import_id():
    data = "\ufeffCandidate_ID,sex,race_ethnicity\nc1,Female,Asian\nc2, Male ,\n\nc3,,\n".encode()
    parsed = parse_csv(data)
    assert parsed.columns == ("sex", "race_ethnicity")
    assert parsed.rows == {"c1": {"sex": "Female", "race_ethnicity": "Asian"}, "c2": {"sex": "Male"}, "c3": {}}
    assert parse_csv(data).import_id == parsed.import_id != parse_csv(data + b"c4,F,B\n").import_id


def test_every_bad_line_is_named_and_nothing_is_kept():
    data = b"candidate_id,sex\nc1,F\nc2\n,M\nc1,M\nc5,F\x07\n"
    with pytest.raises(ImportInvalid) as err:
        parse_csv(data)
    assert err.value.problems == ["line 3: 1 fields, the header has 2", "line 4: candidate_id is empty",
                                  "line 5: candidate c1 is already on line 2",
                                  "line 6, column sex: longer than 200 characters or holds control characters"]
    assert "nothing was imported" in str(err.value)


@pytest.mark.parametrize(("data", "problem"), [
    (b"", "line 1: the file is empty"),
    (b"id,sex\nc1,F\n", "line 1: no candidate_id column"),
    (b"candidate_id\nc1\n", "line 1: no category column"),
    (b"candidate_id,Sex Or Gender\nc1,F\n", "line 1, column 2: a column name"),
    (b"candidate_id,sex,sex\nc1,F,F\n", "line 1: a column name appears twice"),
    (b"candidate_id,sex\n", "the file has a header and no rows"),
    (b"candidate_id,sex\nc1,\xff\n", "line 2: not UTF-8 text"),
])
def test_a_file_that_cannot_be_read_says_why(data, problem):
    with pytest.raises(ImportInvalid) as err:
        parse_csv(data)
    assert err.value.problems[0].startswith(problem)
