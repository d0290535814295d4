"""Selection rates and impact ratios (the four-fifths comparison of NYC Local Law 144 and the EEOC's
Uniform Guidelines) of automated decisions, per stage and rule, by category and intersection of
categories. Pure: the decisions and the categories are arguments.

What is counted (docs/compliance.md, "What counts as advanced"): per (application, stage), the
*first* final decision a rule made there — `advance` is selected; `propose_rejection` and a rule's
automatic `archive` are not selected, whatever a recruiter later answered (the tool's output is
what is audited, and a what-if cannot know answers to proposals never made). Timeouts (an alert,
no pass/fail) and the archive a recruiter confirmed (a human's decision, after the proposal) are
not counted. The same definition serves recorded decisions and both sides of a what-if.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations

from pydantic import BaseModel, ConfigDict

FINAL_OUTCOMES = ("advance", "propose_rejection", "archive")
FOUR_FIFTHS = Fraction(4, 5)
DEFAULT_MIN_GROUP_SIZE = 5
INTERSECTION = "*"
"""Joins category names into an intersection in `by`: `sex*race_ethnicity`."""
DEFINITION = ("n: applications whose first final automated decision in the stage was made by the rule; "
              "advanced: that decision was `advance` (a proposed or automatic rejection is not advanced, "
              "whatever a recruiter answered; timeouts and recruiter-confirmed archives are not counted). "
              "SR = advanced / n; IR = SR / the highest SR among categories of at least min_group_size; "
              "flagged when IR < 0.8. Unknown: no category on record (never guessed), not in any ratio.")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CategoryRate(_Model):
    category: dict[str, str]
    label: str
    n: int
    advanced: int
    selection_rate: float | None
    impact_ratio: float | None
    flagged: bool
    too_small: bool


class UnknownCount(_Model):
    n: int
    advanced: int


class Dimension(_Model):
    by: list[str]
    reference_rate: float | None
    """The highest selection rate among categories not too small to judge: the IR's denominator."""
    reference: str | None
    categories: list[CategoryRate]
    unknown: UnknownCount
    note: str | None = None


class ImpactGroup(_Model):
    stage_id: str
    rule_id: str
    decided: int
    advanced: int
    dimensions: list[Dimension]


class ImpactReport(_Model):
    basis: str
    """`recorded` (the decisions the service made) or the name of a what-if side."""
    since: str | None
    until: str | None
    min_group_size: int
    impact_ratio_threshold: float
    definition: str
    candidates_with_categories: int
    groups: list[ImpactGroup]


@dataclass(frozen=True, slots=True)
class Selection:
    """One application's first final decision in a stage: selected (advanced) or not."""

    application_id: str
    stage_id: str
    rule_id: str
    advanced: bool


def selection(application_id: str, stage_id: str, rule_id: str, outcome: str) -> Selection | None:
    """The unit counted for a final decision; None for an outcome that is not one (a timeout)."""
    if outcome not in FINAL_OUTCOMES:
        return None
    return Selection(application_id, stage_id, rule_id, outcome == "advance")


def parse_by(text: str | None) -> list[tuple[str, ...]] | None:
    """`sex,race_ethnicity,sex*race_ethnicity` as dimensions; None (the default) for empty text.
    ValueError naming the part that is not a category name."""
    if text is None or not text.strip():
        return None
    out: list[tuple[str, ...]] = []
    for part in text.split(","):
        names = tuple(n.strip().lower() for n in part.replace("×", INTERSECTION).split(INTERSECTION))
        if not all(n and n.replace("_", "").isalnum() and n.isascii() for n in names) or len(set(names)) != len(names):
            raise ValueError(f"by: {part.strip()!r} is not a category name or an intersection such as sex*race_ethnicity")
        if names not in out:
            out.append(names)
    return out


def default_dimensions(columns: Iterable[str]) -> list[tuple[str, ...]]:
    """Each category on its own, then every pair (sex × race/ethnicity is the one LL144 asks for)."""
    names = sorted(set(columns))
    return [(n,) for n in names] + list(combinations(names, 2))


def _rate(advanced: int, n: int) -> Fraction | None:
    return Fraction(advanced, n) if n else None


def _round(value: Fraction | None) -> float | None:
    return round(float(value), 4) if value is not None else None


def dimension(units: Sequence[Selection], categories: Mapping[str, Mapping[str, str]], by: tuple[str, ...],
              min_group_size: int) -> Dimension:
    """The rates of one dimension over `units`. Categories smaller than `min_group_size` are shown
    but marked too small, left out of the reference rate and never flagged: one advanced
    candidate in a group of two would otherwise set a 50 % bar for everyone."""
    counts: dict[tuple[str, ...], list[int]] = {}
    unknown = [0, 0]
    for u in units:
        cats = categories.get(u.application_id) or {}
        key = tuple(cats.get(name) or "" for name in by)
        cell = unknown if not all(key) else counts.setdefault(key, [0, 0])
        cell[0] += 1
        cell[1] += u.advanced
    rates = {k: _rate(a, n) for k, (n, a) in counts.items()}
    judged = {k: r for k, r in rates.items() if counts[k][0] >= min_group_size and r is not None}
    ref_key = max(judged, key=lambda k: (judged[k], k)) if judged else None
    ref = judged[ref_key] if ref_key is not None else None
    note = None
    if ref is None:
        note = (f"no category has at least {min_group_size} decisions: nothing to judge" if counts
                else "no decision about a candidate with this category on record")
    elif ref == 0:
        note = "no category was advanced: impact ratios are undefined"
    rows = []
    for key in sorted(counts):
        n, advanced = counts[key]
        sr = rates[key]
        ir = sr / ref if sr is not None and ref else None
        small = n < min_group_size
        rows.append(CategoryRate(category=dict(zip(by, key, strict=True)), label=" × ".join(key), n=n,
                                 advanced=advanced, selection_rate=_round(sr), impact_ratio=_round(ir),
                                 flagged=not small and ir is not None and ir < FOUR_FIFTHS, too_small=small))
    return Dimension(by=list(by), reference_rate=_round(ref), reference=" × ".join(ref_key) if ref_key else None,
                     categories=rows, unknown=UnknownCount(n=unknown[0], advanced=unknown[1]), note=note)


def impact(units: Iterable[Selection], categories: Mapping[str, Mapping[str, str]], *,
           by: Sequence[tuple[str, ...]] | None = None, min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
           stage_id: str | None = None) -> list[ImpactGroup]:
    """Per (stage, rule): the counts and each dimension's rates. Without `by`, the dimensions are
    every category column the decided candidates have, alone and in pairs."""
    grouped: dict[tuple[str, str], list[Selection]] = {}
    for u in units:
        if stage_id is None or u.stage_id == stage_id:
            grouped.setdefault((u.stage_id, u.rule_id), []).append(u)
    if by is None:
        by = default_dimensions({c for us in grouped.values() for u in us
                                 for c, v in (categories.get(u.application_id) or {}).items() if v})
    return [ImpactGroup(stage_id=stage, rule_id=rule, decided=len(us), advanced=sum(u.advanced for u in us),
                        dimensions=[dimension(us, categories, dim, min_group_size) for dim in by])
            for (stage, rule), us in sorted(grouped.items())]


def report(basis: str, units: Iterable[Selection], categories: Mapping[str, Mapping[str, str]], *,
           by: Sequence[tuple[str, ...]] | None = None, min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
           stage_id: str | None = None, since: str | None = None, until: str | None = None) -> ImpactReport:
    units = list(units)
    known = {u.application_id for u in units if categories.get(u.application_id)}
    return ImpactReport(basis=basis, since=since, until=until, min_group_size=min_group_size,
                        impact_ratio_threshold=float(FOUR_FIFTHS), definition=DEFINITION,
                        candidates_with_categories=len(known),
                        groups=impact(units, categories, by=by, min_group_size=min_group_size, stage_id=stage_id))


CSV_COLUMNS = ("basis", "stage_id", "rule_id", "by", "category", "n", "advanced", "selection_rate", "impact_ratio",
               "flagged", "too_small")


def _cell(value: object) -> str:
    text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text  # never a formula in a spreadsheet


def to_csv(reports: Sequence[ImpactReport]) -> str:
    """One row per category (and one `(unknown)` row) per dimension, stage and rule."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rep in reports:
        for g in rep.groups:
            for d in g.dimensions:
                by = INTERSECTION.join(d.by)
                for c in d.categories:
                    writer.writerow([_cell(v) for v in (rep.basis, g.stage_id, g.rule_id, by, c.label, c.n,
                                                        c.advanced, c.selection_rate, c.impact_ratio, c.flagged,
                                                        c.too_small)])
                writer.writerow([_cell(v) for v in (rep.basis, g.stage_id, g.rule_id, by, "(unknown)", d.unknown.n,
                                                    d.unknown.advanced, None, None, False, None)])
    return out.getvalue()


def _pct(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "-"


def to_lines(rep: ImpactReport, stage_names: Mapping[str, str] | None = None) -> list[str]:
    """The report as text: a small table per stage, rule and dimension."""
    names = stage_names or {}
    lines = [f"Impact ({rep.basis}): selection rate (SR) and impact ratio (IR) per category; "
             f"IR < {rep.impact_ratio_threshold} is flagged; categories under {rep.min_group_size} are too small "
             "to judge."]
    if not rep.groups:
        lines.append("  no final decisions to report")
    for g in rep.groups:
        stage = names.get(g.stage_id, g.stage_id)
        lines.append(f"  {stage} / {g.rule_id}: {g.decided} decided, {g.advanced} advanced")
        if not g.dimensions:
            lines.append("    no categories on record for these candidates")
        for d in g.dimensions:
            lines.append(f"    by {' × '.join(d.by)}" + (f" ({d.note})" if d.note else ""))
            for c in d.categories:
                mark = " FLAGGED" if c.flagged else " (too small to judge)" if c.too_small else ""
                lines.append(f"      {c.label}: n {c.n}, advanced {c.advanced}, SR {_pct(c.selection_rate)}, "
                             f"IR {c.impact_ratio if c.impact_ratio is not None else '-'}{mark}")
            lines.append(f"      unknown: n {d.unknown.n}, advanced {d.unknown.advanced}")
    return lines
