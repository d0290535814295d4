"""What a replay means for people: per application and stage, the decision each rule source made
(added, removed or changed between them, with the requirement values behind each), pass rates per
stage and rule, and renderings as a text table, JSON or a self-contained HTML page. Pure."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from compliance.impact import ImpactReport, Selection, selection
from compliance.impact import to_lines as impact_lines
from evaluator.pure_core import (
    FINAL_OUTCOMES,
    Evaluation,
    Wait,
    evaluation_summary,
    quick_init,
)
from replay.results import Defect, Replay, ReplayedDecision, ReplayResult

WAIT = "wait"


@quick_init
@dataclass(frozen=True, slots=True)
class Side:
    """How one rule source treated an application in a stage."""

    outcome: str  # advance | propose_rejection | archive | timeout (alerted, undecided) | wait
    rule_set_version: int | None = None
    rule_id: str | None = None
    decided_at: datetime | None = None
    target_stage_id: str | None = None
    requirements: tuple[dict[str, Any], ...] = ()
    note: str | None = None  # no decision (wait) or a timeout: what it waited for, or why no rule applied

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "rule_set_version": self.rule_set_version, "rule_id": self.rule_id,
                "decided_at": self.decided_at.isoformat() if self.decided_at else None,
                "target_stage_id": self.target_stage_id, "requirements": list(self.requirements),
                **({"note": self.note} if self.note else {})}


@quick_init
@dataclass(frozen=True, slots=True)
class Change:
    application_id: str
    stage_id: str
    kind: str  # added | removed | changed
    before: Side
    after: Side

    def as_dict(self) -> dict[str, Any]:
        return {"application_id": self.application_id, "stage_id": self.stage_id, "kind": self.kind,
                "before": self.before.as_dict(), "after": self.after.as_dict(), "why": explain(self)}


@dataclass
class Tally:
    advanced: int = 0
    rejected: int = 0
    timed_out: int = 0

    @property
    def decided(self) -> int:
        return self.advanced + self.rejected

    @property
    def pass_rate(self) -> float | None:
        return self.advanced / self.decided if self.decided else None

    def as_dict(self) -> dict[str, Any]:
        rate = self.pass_rate
        return {"decided": self.decided, "advanced": self.advanced, "rejected": self.rejected,
                "timed_out": self.timed_out, "pass_rate": round(rate, 4) if rate is not None else None}


@dataclass
class Diff:
    before: str
    after: str
    changes: list[Change] = field(default_factory=list)
    totals: dict[str, dict[tuple[str, str], Tally]] = field(default_factory=dict)
    compared: int = 0  # (application, stage) pairs either side decided something for
    selections: dict[str, list[Selection]] = field(default_factory=dict)
    """Per side, each (application, stage)'s first final decision: what its impact table counts."""
    impact: dict[str, ImpactReport] | None = None
    """Per side, selection rates and impact ratios by category (set where the categories can be read)."""

    def counts(self) -> dict[str, int]:
        found = Counter(c.kind for c in self.changes)
        return {k: found.get(k, 0) for k in ("added", "removed", "changed")}

    def totals_rows(self) -> list[dict[str, Any]]:
        keys = sorted({k for lane in self.totals.values() for k in lane})
        return [{"stage_id": stage, "rule_id": rule,
                 **{name: self.totals[name].get((stage, rule), Tally()).as_dict() for name in (self.before, self.after)}}
                for stage, rule in keys]


def _requirements(explanation: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    keep = ("interview_id", "field", "operator", "threshold", "aggregate", "required", "values", "feedback_ids",
            "status", "passed", "average")
    return tuple({k: r[k] for k in keep if k in r} for r in explanation.get("requirements") or ())


def _side(decision: ReplayedDecision | None, timeout: ReplayedDecision | None, final: Evaluation | None,
          stage_id: str) -> Side:
    if decision is not None:
        return Side(decision.outcome, decision.rule_set_version, decision.rule_id, decision.decided_at,
                    decision.target_stage_id, _requirements(decision.explanation))
    note = None
    if final is not None and getattr(final, "stage_id", None) == stage_id:
        summary = evaluation_summary(final)
        if isinstance(final, Wait):
            note = "; ".join(str(w.get("detail")) for w in summary.get("waiting_for", [])[:5])
        else:
            note = summary.get("reason")
    if timeout is not None:
        return Side("timeout", timeout.rule_set_version, timeout.rule_id, timeout.decided_at, None, (), note)
    return Side(WAIT, note=note)


def _index(result: ReplayResult) -> tuple[dict[tuple[str, str], ReplayedDecision], dict[tuple[str, str], ReplayedDecision]]:
    """The first final decision and the first timeout alert per (application, stage)."""
    finals: dict[tuple[str, str], ReplayedDecision] = {}
    timeouts: dict[tuple[str, str], ReplayedDecision] = {}
    for d in result.decisions:
        target = finals if d.outcome in FINAL_OUTCOMES else timeouts
        target.setdefault((d.application_id, d.stage_id), d)
    return finals, timeouts


def tally(result: ReplayResult) -> dict[tuple[str, str], Tally]:
    finals, timeouts = _index(result)
    out: dict[tuple[str, str], Tally] = {}
    for d in finals.values():
        t = out.setdefault((d.stage_id, d.rule_id), Tally())
        if d.outcome == "advance":
            t.advanced += 1
        else:
            t.rejected += 1
    for key, d in timeouts.items():
        if key not in finals:
            out.setdefault((d.stage_id, d.rule_id), Tally()).timed_out += 1
    return out


def selections(result: ReplayResult) -> list[Selection]:
    """The lane's first final decision per (application, stage), as an impact table counts it
    (the recruiter's follow-up archive is a human's decision, after the proposal it answers)."""
    finals, _ = _index(result)
    found = (selection(d.application_id, d.stage_id, d.rule_id, d.outcome) for d in finals.values())
    return [u for u in found if u is not None]


def compare(before: ReplayResult, after: ReplayResult) -> Diff:
    """Per (application, stage): what each side decided first; a difference is `added` (only
    after decided), `removed` (only before) or `changed` (both, differently, incl. the target)."""
    b_final, b_timeout = _index(before)
    a_final, a_timeout = _index(after)
    keys = sorted(set(b_final) | set(b_timeout) | set(a_final) | set(a_timeout))
    diff = Diff(before.name, after.name, totals={before.name: tally(before), after.name: tally(after)},
                compared=len(keys), selections={before.name: selections(before), after.name: selections(after)})
    for key in keys:
        bd, ad = b_final.get(key), a_final.get(key)
        b_out = bd.outcome if bd else ("timeout" if key in b_timeout else WAIT)
        a_out = ad.outcome if ad else ("timeout" if key in a_timeout else WAIT)
        if b_out == a_out and (bd is None or ad is None or bd.target_stage_id == ad.target_stage_id):
            continue
        kind = "added" if b_out == WAIT else "removed" if a_out == WAIT else "changed"
        app, stage = key
        diff.changes.append(Change(app, stage, kind,
                                   _side(bd, b_timeout.get(key), before.left.get(key) or before.finals.get(app), stage),
                                   _side(ad, a_timeout.get(key), after.left.get(key) or after.finals.get(app), stage)))
    return diff


def merge_diffs(parts: Sequence[Diff]) -> Diff:
    """Diffs of disjoint sets of applications (partitions of one replay) as one diff, in the order
    `compare` gives: by application, then stage."""
    out = Diff(parts[0].before, parts[0].after, totals={parts[0].before: {}, parts[0].after: {}},
               selections={parts[0].before: [], parts[0].after: []})
    for part in parts:
        out.changes.extend(part.changes)
        for name, units in part.selections.items():
            out.selections[name].extend(units)
        out.compared += part.compared
        for name, rows in part.totals.items():
            into = out.totals[name]
            for key, t in rows.items():
                mine = into.setdefault(key, Tally())
                mine.advanced += t.advanced
                mine.rejected += t.rejected
                mine.timed_out += t.timed_out
    out.changes.sort(key=lambda c: (c.application_id, c.stage_id))
    return out


def _requirement_text(r: Mapping[str, Any]) -> str:
    values = ", ".join(orjson.dumps(v).decode() for v in r.get("values") or []) or "no values"
    status = r.get("status") or ("passed" if r.get("passed") else "failed")
    return f"{r.get('field')} {r.get('operator')} {orjson.dumps(r.get('threshold')).decode()} ({values}): {status}"


def _absent(side: Side) -> str:
    """A requirement a side shows no value for: not in its rule, or never judged (no decision)."""
    return "no decision" if side.outcome in (WAIT, "timeout") else "not required"


def explain(change: Change, names: tuple[str, str] = ("before", "after")) -> list[str]:
    """The requirements that read differently on the two sides, as sentences; a side that made no
    decision is named as `names` says (the lanes' names in a table, the JSON's keys in JSON)."""
    before = {(r.get("interview_id"), r.get("field")): r for r in change.before.requirements}
    after = {(r.get("interview_id"), r.get("field")): r for r in change.after.requirements}
    lines = []
    for key in dict.fromkeys([*before, *after]):
        b, a = before.get(key), after.get(key)
        if b is not None and a is not None and (b.get("passed"), b.get("threshold"), b.get("operator")) == (
                a.get("passed"), a.get("threshold"), a.get("operator")):
            continue
        lines.append(f"{_requirement_text(b) if b else _absent(change.before)} -> "
                     f"{_requirement_text(a) if a else _absent(change.after)}")
    for side, name in zip((change.before, change.after), names, strict=True):
        if side.outcome in (WAIT, "timeout") and side.note:  # what it waited for, or why no rule applied
            state = "no decision" if side.outcome == WAIT else "timed out"
            lines.append(f"{name} ({state}): {side.note}")
    return lines


def summary(run: Replay, diff: Diff | None, defects: Sequence[Defect] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "events": run.events, "applications": run.applications,
        "from": run.first_at.isoformat() if run.first_at else None,
        "to": run.last_at.isoformat() if run.last_at else None,
        "lanes": {name: {"decisions": (outcomes := lane.by_outcome()).total(),
                         "by_outcome": dict(outcomes),
                         "rule_set_versions": sorted(lane.versions)}
                  for name, lane in run.lanes.items()},
    }
    if diff is not None:
        out["compared"] = {"before": diff.before, "after": diff.after, "stages_compared": diff.compared,
                           **diff.counts()}
    if defects is not None:
        out["verify"] = {"recorded": len(run.recorded), "defects": len(defects), "ok": not defects}
    return out


def to_json(run: Replay, diff: Diff | None, defects: Sequence[Defect] | None = None,
            limit: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": summary(run, diff, defects)}
    if diff is not None:
        out["totals"] = diff.totals_rows()
        if diff.impact is not None:
            out["impact"] = {name: rep.model_dump(mode="json") for name, rep in diff.impact.items()}
        out["changes"] = [c.as_dict() for c in diff.changes[:limit]]
    if defects is not None:
        out["defects"] = [_defect(d) for d in defects[:limit]]
    return out


def _defect(d: Defect) -> dict[str, Any]:
    return {"kind": d.kind, "rule_set_version": d.rule_set_version, "application_id": d.application_id,
            "stage_id": d.stage_id, "outcome": d.outcome, "at": d.at.isoformat(), "detail": d.detail,
            "text": str(d)}


def _rate(t: Mapping[str, Any]) -> str:
    rate = t.get("pass_rate")
    return f"{t['decided']} ({rate:.0%})" if rate is not None else f"{t['decided']}"


def _grid(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    rows = [list(map(str, r)) for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return out


def to_table(run: Replay, diff: Diff | None, defects: Sequence[Defect] | None = None,
             limit: int | None = None) -> str:
    s = summary(run, diff, defects)
    lines = [f"Replayed {s['events']} events about {s['applications']} applications "
             f"({s['from'] or '-'} .. {s['to'] or '-'}). Nothing was sent anywhere.", ""]
    for name, lane in s["lanes"].items():
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(lane["by_outcome"].items())) or "none"
        lines.append(f"{name}: {lane['decisions']} decisions ({outcomes}); rule-set versions "
                     f"{lane['rule_set_versions'] or '-'}")
    if diff is not None:
        c = s["compared"]
        lines += ["", f"{diff.before} -> {diff.after}: {c['added']} added, {c['removed']} removed, "
                      f"{c['changed']} changed (of {c['stages_compared']} application stages decided on either side)", ""]
        lines += _grid(["stage", "rule", f"{diff.before} decided (pass)", f"{diff.after} decided (pass)", "timeouts"],
                       [(r["stage_id"], r["rule_id"], _rate(r[diff.before]), _rate(r[diff.after]),
                         f"{r[diff.before]['timed_out']} -> {r[diff.after]['timed_out']}")
                        for r in diff.totals_rows()])
        for rep in (diff.impact or {}).values():
            lines += ["", *impact_lines(rep, run.stage_names)]
        if diff.changes:
            lines += ["", "Changes:"]
            shown = diff.changes[:limit]
            lines += _grid(["application", "stage", "kind", diff.before, diff.after, "why"],
                           [(ch.application_id, ch.stage_id, ch.kind, ch.before.outcome, ch.after.outcome,
                             " | ".join(explain(ch, (diff.before, diff.after))) or "-") for ch in shown])
            if len(shown) < len(diff.changes):
                lines.append(f"... and {len(diff.changes) - len(shown)} more (use --format json for all)")
    if defects is not None:
        lines += ["", f"Verify: {len(run.recorded)} recorded decisions, {len(defects)} defect(s)"]
        lines += [f"  DEFECT {d}" for d in defects[:limit]]
    return "\n".join(lines) + "\n"


def to_html(run: Replay, diff: Diff | None, defects: Sequence[Defect] | None = None,
            limit: int | None = None) -> str:
    e = html.escape
    s = summary(run, diff, defects)
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>auto-advance replay</title><style>",
             "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
             ".added{background:#e8f7e8}.removed{background:#fbeaea}.changed{background:#fff6dd}",
             "</style></head><body><h1>Replay</h1>",
             f"<p>{s['events']} events, {s['applications']} applications, {e(str(s['from']))} .. {e(str(s['to']))}. "
             "Nothing was sent anywhere.</p><ul>"]
    for name, lane in s["lanes"].items():
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(lane["by_outcome"].items())) or "none"
        parts.append(f"<li><b>{e(name)}</b>: {lane['decisions']} decisions ({e(outcomes)})</li>")
    parts.append("</ul>")
    if diff is not None:
        c = s["compared"]
        parts.append(f"<h2>{e(diff.before)} &rarr; {e(diff.after)}</h2><p>{c['added']} added, {c['removed']} "
                     f"removed, {c['changed']} changed</p><table><tr><th>stage</th><th>rule</th>"
                     f"<th>{e(diff.before)}</th><th>{e(diff.after)}</th></tr>")
        for r in diff.totals_rows():
            parts.append(f"<tr><td>{_stage(run, r['stage_id'])}</td><td>{e(r['rule_id'])}</td>"
                         f"<td>{_rate(r[diff.before])}</td><td>{_rate(r[diff.after])}</td></tr>")
        parts.append("</table>")
        parts += [_impact_html(run, rep) for rep in (diff.impact or {}).values()]
        parts.append("<table><tr><th>application</th><th>stage</th><th>kind</th>"
                     f"<th>{e(diff.before)}</th><th>{e(diff.after)}</th><th>why</th></tr>")
        for ch in diff.changes[:limit]:
            why = "<br>".join(e(line) for line in explain(ch, (diff.before, diff.after)))
            parts.append(f"<tr class='{ch.kind}'><td>{e(ch.application_id)}</td><td>{_stage(run, ch.stage_id)}</td>"
                         f"<td>{ch.kind}</td><td>{e(ch.before.outcome)}</td><td>{e(ch.after.outcome)}</td>"
                         f"<td>{why}</td></tr>")
        parts.append("</table>")
    if defects is not None:
        parts.append(f"<h2>Verify</h2><p>{len(run.recorded)} recorded decisions, {len(defects)} defect(s)</p><ul>")
        parts += [f"<li>{e(str(d))}</li>" for d in defects[:limit]]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def _impact_html(run: Replay, rep: ImpactReport) -> str:
    """One side's selection rates and impact ratios: a row per category, flagged ones marked."""
    e = html.escape
    out = [f"<h3>Impact: {e(rep.basis)}</h3><p>IR &lt; {rep.impact_ratio_threshold} is flagged; categories under "
           f"{rep.min_group_size} are too small to judge.</p><table><tr><th>stage</th><th>rule</th><th>by</th>"
           "<th>category</th><th>n</th><th>advanced</th><th>SR</th><th>IR</th><th></th></tr>"]
    for g in rep.groups:
        for d in g.dimensions:
            cells = [(c.label, c.n, c.advanced, c.selection_rate, c.impact_ratio,
                      "flagged" if c.flagged else "too small" if c.too_small else "") for c in d.categories]
            cells.append(("unknown", d.unknown.n, d.unknown.advanced, None, None, ""))
            for label, n, advanced, sr, ir, mark in cells:
                out.append(f"<tr class='{'removed' if mark == 'flagged' else ''}'><td>{_stage(run, g.stage_id)}</td>"
                           f"<td>{e(g.rule_id)}</td><td>{e(' × '.join(d.by))}</td><td>{e(label)}</td><td>{n}</td>"
                           f"<td>{advanced}</td><td>{'-' if sr is None else f'{sr:.0%}'}</td>"
                           f"<td>{'-' if ir is None else ir}</td><td>{mark}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _stage(run: Replay, stage_id: str) -> str:
    """A stage as a page shows it: its title, with its id on hover (the id alone when untitled)."""
    name = run.stage_names.get(stage_id)
    if name is None:
        return html.escape(stage_id)
    return f"<span title='{html.escape(stage_id, quote=True)}'>{html.escape(name)}</span>"


RENDERERS = {"table": to_table, "html": to_html}


def render(fmt: str, run: Replay, diff: Diff | None, defects: Sequence[Defect] | None = None,
           limit: int | None = None) -> str:
    if fmt == "json":
        return orjson.dumps(to_json(run, diff, defects, None), option=orjson.OPT_INDENT_2).decode() + "\n"
    return RENDERERS[fmt](run, diff, defects, limit)
