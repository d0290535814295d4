"""Selection rates and impact ratios against tables computed by hand."""

from __future__ import annotations

import pytest

from compliance.impact import (
    Selection,
    default_dimensions,
    dimension,
    impact,
    parse_by,
    report,
    selection,
    to_csv,
)


def units(spec: list[tuple[str, int, int]], stage: str = "s1", rule: str = "r1") -> tuple[list[Selection], dict]:
    """(category label, n, advanced) rows -> selections and categories; label '' is unknown; a label
    'a|b' is sex a, race_ethnicity b."""
    out, cats = [], {}
    for label, n, advanced in spec:
        for i in range(n):
            app = f"{stage}-{rule}-{label or 'unknown'}-{i}"
            out.append(Selection(app, stage, rule, i < advanced))
            if label:
                sex, _, race = label.partition("|")
                cats[app] = {"sex": sex, **({"race_ethnicity": race} if race else {})}
    return out, cats


def rows(d) -> dict[str, tuple]:
    return {c.label: (c.n, c.advanced, c.selection_rate, c.impact_ratio, c.flagged, c.too_small) for c in d.categories}


def test_rates_ratios_flags_unknowns_and_a_small_group_by_hand():
    # F 4/10 = 0.4, M 6/8 = 0.75 (highest), X 0/2 too small; 3 unknown, 1 of them advanced
    us, cats = units([("F", 10, 4), ("M", 8, 6), ("X", 2, 0), ("", 3, 1)])
    d = dimension(us, cats, ("sex",), 5)
    assert d.reference_rate == 0.75 and d.reference == "M"
    assert rows(d) == {"F": (10, 4, 0.4, 0.5333, True, False),  # 0.4 / 0.75
                       "M": (8, 6, 0.75, 1.0, False, False),
                       "X": (2, 0, 0.0, 0.0, False, True)}  # shown, never judged
    assert (d.unknown.n, d.unknown.advanced) == (3, 1)


def test_a_small_group_with_the_highest_rate_does_not_set_the_bar():
    us, cats = units([("F", 5, 2), ("M", 5, 3), ("X", 1, 1)])  # X: 100 % of one candidate
    d = dimension(us, cats, ("sex",), 5)
    assert d.reference == "M" and d.reference_rate == 0.6
    assert rows(d)["F"] == (5, 2, 0.4, 0.6667, True, False)
    assert rows(d)["X"][3:] == (1.6667, False, True)


def test_a_group_nobody_from_was_advanced_is_flagged_with_ratio_zero():
    us, cats = units([("F", 5, 0), ("M", 5, 5)])
    assert rows(dimension(us, cats, ("sex",), 5))["F"] == (5, 0, 0.0, 0.0, True, False)


def test_when_no_group_was_advanced_ratios_are_undefined_and_nothing_is_flagged():
    us, cats = units([("F", 6, 0), ("M", 7, 0)])
    d = dimension(us, cats, ("sex",), 5)
    assert d.reference_rate == 0.0 and "undefined" in (d.note or "")
    assert all(c.impact_ratio is None and not c.flagged for c in d.categories)


def test_a_single_group_is_its_own_reference():
    us, cats = units([("F", 6, 3)])
    assert rows(dimension(us, cats, ("sex",), 5)) == {"F": (6, 3, 0.5, 1.0, False, False)}


def test_groups_all_too_small_have_no_reference_and_say_why():
    us, cats = units([("F", 2, 0), ("M", 3, 3)])
    d = dimension(us, cats, ("sex",), 5)
    assert d.reference_rate is None and d.reference is None
    assert "at least 5" in (d.note or "")
    assert all(c.too_small and not c.flagged and c.impact_ratio is None for c in d.categories)


def test_exactly_four_fifths_is_not_flagged():
    us, cats = units([("F", 5, 4), ("M", 10, 10)])  # 0.8 / 1.0, computed exactly
    assert rows(dimension(us, cats, ("sex",), 5))["F"][3:5] == (0.8, False)


def test_intersections_count_only_candidates_known_on_every_axis():
    # F|A 5/5 = 1.0, F|B 2/5 = 0.4, M|A 4/5 = 0.8; one F without race: known by sex, unknown crossed
    us, cats = units([("F|A", 5, 5), ("F|B", 5, 2), ("M|A", 5, 4), ("F", 1, 1)])
    crossed = dimension(us, cats, ("sex", "race_ethnicity"), 5)
    assert rows(crossed) == {"F × A": (5, 5, 1.0, 1.0, False, False), "F × B": (5, 2, 0.4, 0.4, True, False),
                             "M × A": (5, 4, 0.8, 0.8, False, False)}
    assert crossed.categories[0].category == {"sex": "F", "race_ethnicity": "A"}
    assert (crossed.unknown.n, crossed.unknown.advanced) == (1, 1)
    by_sex = dimension(us, cats, ("sex",), 5)
    assert rows(by_sex)["F"][:2] == (11, 8) and by_sex.unknown.n == 0


def test_groups_per_stage_and_rule_and_default_dimensions_alone_and_in_pairs():
    a, cats_a = units([("F|A", 5, 1)], stage="s1", rule="r1")
    b, cats_b = units([("M|B", 3, 3)], stage="s2", rule="r2")
    groups = impact(a + b, {**cats_a, **cats_b})
    assert [(g.stage_id, g.rule_id, g.decided, g.advanced) for g in groups] == [("s1", "r1", 5, 1), ("s2", "r2", 3, 3)]
    assert [d.by for d in groups[0].dimensions] == [["race_ethnicity"], ["sex"], ["race_ethnicity", "sex"]]
    assert [g.stage_id for g in impact(a + b, {**cats_a, **cats_b}, stage_id="s2")] == ["s2"]
    assert default_dimensions(["sex"]) == [("sex",)]


def test_outcomes_that_count_and_the_ones_that_do_not():
    assert selection("a", "s", "r", "advance").advanced is True
    assert selection("a", "s", "r", "propose_rejection").advanced is False
    assert selection("a", "s", "r", "archive").advanced is False
    assert selection("a", "s", "r", "timeout") is None


def test_by_is_parsed_or_refused_with_the_part_named():
    assert parse_by("sex, race_ethnicity,sex*race_ethnicity") == [("sex",), ("race_ethnicity",),
                                                                  ("sex", "race_ethnicity")]
    assert parse_by("Sex×Race") == [("sex", "race")]
    assert parse_by(" ") is None
    for bad in ("sex*", "sex;drop", "sex*sex"):
        with pytest.raises(ValueError, match="by:"):
            parse_by(bad)


def test_csv_has_a_row_per_category_and_unknown_and_never_a_formula():
    us, cats = units([("=cmd()", 5, 1), ("", 2, 0)])
    text = to_csv([report("recorded", us, cats, by=[("sex",)])])
    lines = text.splitlines()
    assert lines[0].startswith("basis,stage_id,rule_id,by,category,n,advanced")
    assert lines[1] == "recorded,s1,r1,sex,'=cmd(),5,1,0.2,1.0,false,false"
    assert lines[2] == "recorded,s1,r1,sex,(unknown),2,0,,,false,"
