"""The pilot report: its tables (each a CSV), plots, the HTML page, the JSON of every
number, and the terminal summary, on the generic `stream.tools.report_html`. A number the
data cannot support is not stated: the cell says "not enough data" (in a CSV: empty, with
the reason in the `note` column)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from stream.tools.pilot.measures import ANSWERED, PERIODS, Interventions
from stream.tools.pilot.run import Findings
from stream.tools.pilot.stats import RESAMPLES, SEED, Comparison, Estimate
from stream.tools.pilot.suggest import MIN_FLAGGED
from stream.tools.report_html import (
    Table,
    esc,
    new_figure,
    page,
    svg_plot,
    table_html,
    write_csv,
    write_json,
)

NOT_ENOUGH = "not enough data"
OUTCOMES = ("on_time", "late", "never", "left", "open")


def _measures(f: Findings) -> list[tuple[str, str, Comparison, Estimate | None, float]]:
    """(name, unit, comparison, estimate, scale to show) of each headline estimate."""
    return [
        ("completion on time", "percentage points", f.completion, f.completion.did, 100.0),
        (
            "voluntary attrition",
            "leavers per 100 learner-weeks",
            f.attrition,
            f.attrition.did,
            100.0,
        ),
        ("voluntary attrition", "ratio of rate ratios", f.attrition, f.attrition.ratio, 1.0),
        ("on-time interventions", "percentage points", f.on_time, f.on_time.did, 100.0),
    ]


def _scaled(e: Estimate, scale: float) -> tuple[float, float, float]:
    """An estimate that has a value (and so an interval), times `scale`."""
    value, low, high = e.value or 0.0, e.low or 0.0, e.high or 0.0
    return value * scale, low * scale, high * scale


def _round(x: float | None, scale: float) -> float | None:
    return None if x is None else round(x * scale, 3)


def tables(f: Findings) -> list[Table]:
    """Every table of the report, each written whole to its CSV."""
    head = Table(
        "estimates",
        "Difference in differences (pilot team minus comparison teams, "
        "during minus before), with 95% bootstrap intervals",
        ["measure", "unit", "estimate", "low", "high", "note"],
        text_columns=frozenset({"note"}),
    )
    cells = Table(
        "cells",
        "Each group in each period: learners, the sums, the rate",
        ["measure", "group", "period", "learners", "numerator", "denominator", "rate", "note"],
    )
    for name, unit, comparison, estimate, scale in _measures(f):
        if estimate is None:
            continue
        value = _round(estimate.value, scale)
        head.rows.append(
            [
                name,
                unit,
                value,
                _round(estimate.low, scale),
                _round(estimate.high, scale),
                estimate.warning or "",
            ]
        )
        if unit == "ratio of rate ratios":
            continue
        for group, period, cell in comparison.cells():
            rate = _round(cell.ratio, scale)
            cells.rows.append(
                [
                    name,
                    group,
                    period,
                    cell.learners,
                    cell.numerator,
                    cell.denominator,
                    rate,
                    "" if cell.enough else NOT_ENOUGH,
                ]
            )
    return [head, cells, _interventions(f.interventions), *_feedback(f)]


def _interventions(done: Interventions) -> Table:
    table = Table(
        "interventions",
        "Tier 2 arrivals and how they were answered, days from an arrival to "
        "its conversation, and escalations (Tier 3 arrivals), per group and period",
        [
            "group",
            "period",
            "tier 2 arrivals",
            *OUTCOMES,
            "on-time share",
            "median days to conversation",
            "p90 days to conversation",
            "escalations",
        ],
    )
    for group in ("pilot", "comparison"):
        for period, name in enumerate(PERIODS):
            n = {o: done.outcomes[group, period, o] for o in OUTCOMES}
            answered = sum(n[o] for o in ANSWERED)
            share = round(n["on_time"] / answered, 4) if answered >= 10 else None
            days = done.days.get((group, period), [])
            median = statistics.median(days) if len(days) >= 5 else None
            p90 = (
                statistics.quantiles(days, n=10, method="inclusive")[-1] if len(days) >= 5 else None
            )
            table.rows.append(
                [
                    group,
                    name,
                    sum(n.values()),
                    *n.values(),
                    share,
                    median,
                    p90,
                    done.escalations[group, period],
                ]
            )
    return table


def _feedback(f: Findings) -> list[Table]:
    rules = Table(
        "feedback_by_rule",
        "Prompts per rule (reason code) and the share marked not "
        "useful or incorrectly flagged, over the whole history",
        ["reason code", "prompts", "not useful", "incorrectly flagged", "marked", "share"],
    )
    for r in f.rules:
        share = round(r.share, 4) if f.feedback else None
        rules.rows.append(
            [r.code, r.prompts, r.not_useful, r.incorrectly_flagged, r.flagged, share]
        )
    checks = Table(
        "suggestions",
        "Threshold changes checked with the what-if engine: what each removes",
        [
            "rule",
            "change",
            "flagged prompts",
            "flagged removed",
            "other prompts",
            "others removed",
            "tier 2 arrivals",
            "tier 2 removed",
            "tier 2 later",
            "suggested",
            "sentence",
        ],
        text_columns=frozenset({"sentence"}),
    )
    for c in f.checks:
        checks.rows.append(
            [
                c.candidate.code,
                c.candidate.change,
                c.flagged,
                c.flagged_removed,
                c.others,
                c.others_removed,
                c.arrivals,
                c.arrivals_removed,
                c.arrivals_later,
                "yes" if c.suggested else "no",
                c.sentence(),
            ]
        )
    return [rules, checks]


def plots(f: Findings) -> list[str]:
    """The plots that have data: group rates before and during, the estimates with their
    intervals, and how Tier 2 arrivals were answered."""
    out = []
    pairs = [(n, c) for n, _, c, _, _ in _measures(f)[:2]]
    if any(cell.ratio is not None for _, c in pairs for _, _, cell in c.cells()):
        fig, _ = new_figure(7.0, 3.0)
        fig.clf()
        for i, (name, comparison) in enumerate(pairs):
            ax = fig.add_subplot(1, 2, i + 1)
            for group, marker in (("pilot", "o-"), ("comparison", "s--")):
                ys = [cell.ratio for g, _, cell in comparison.cells() if g == group]
                ax.plot(
                    list(PERIODS),
                    [float("nan") if y is None else y for y in ys],
                    marker,
                    label=f"{group} team{'s' if group == 'comparison' else ''}",
                )
            ax.set_title(name + (" (share)" if i == 0 else " (weekly rate)"))
        fig.axes[0].legend(fontsize=8)
        out.append(
            svg_plot(
                fig,
                "Rates before and during the pilot",
                "Each group's rate in each period; a missing point is a cell without enough data.",
            )
        )
    shown = [
        (f"{n} ({u})", e, s)
        for n, u, _, e, s in _measures(f)
        if e is not None and e.value is not None and u != "ratio of rate ratios"
    ]
    if shown:
        fig, ax = new_figure(7.0, 0.8 + 0.6 * len(shown))
        for y, (_, e, s) in enumerate(shown):
            value, low, high = _scaled(e, s)
            ax.errorbar(
                [value],
                [y],
                xerr=[[value - low], [high - value]],
                fmt="o",
                capsize=4,
                color="#1a5fb4",
            )
        ax.axvline(0, color="#444", linewidth=1)
        ax.set_yticks(range(len(shown)), [label for label, _, _ in shown])
        out.append(
            svg_plot(
                fig,
                "Estimated effects with 95% intervals",
                "Difference in differences; an interval crossing 0 cannot tell an "
                "effect from none.",
            )
        )
    done = f.interventions
    if done.outcomes:
        fig, ax = new_figure(7.0, 3.0)
        labels = [f"{g}\n{p}" for g in ("pilot", "comparison") for p in PERIODS]
        bottom = [0.0] * 4
        for outcome in OUTCOMES:
            heights = [
                float(done.outcomes[g, i, outcome]) for g in ("pilot", "comparison") for i in (0, 1)
            ]
            ax.bar(labels, heights, bottom=bottom, label=outcome.replace("_", " "))
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.set_ylabel("Tier 2 arrivals")
        ax.legend(fontsize=8)
        out.append(
            svg_plot(
                fig,
                "How Tier 2 arrivals were answered",
                "Conversations recorded on time, late, never; left: the learner "
                "left first; open: still waiting when the history ends.",
            )
        )
    return out


def html_page(f: Findings, found: list[Table], pictures: list[str]) -> str:
    """The report page: the pilot, the warning rule, the plots, then every table."""
    p, by = f.pilot, {t.name: t for t in found}
    intro = (
        f"<p>Pilot team <strong>{esc(p.team)}</strong> ({f.learners['pilot']:,} learners) from "
        f"{p.start} for {p.weeks} weeks, against {esc(', '.join(p.compare))} "
        f"({f.learners['comparison']:,} learners), each over the {p.weeks} weeks before "
        f"({p.before} to {p.start}) and during. The history runs from {f.first_day} to "
        f"{f.last_day}; {len(f.bad_lines):,} bad lines were skipped, as replay skips them.</p>"
        f"<p>Intervals are 95% percentile bootstrap intervals: learners are resampled with "
        f"replacement within each group ({RESAMPLES:,} resamples, seed {SEED}); an interval "
        "that holds 0 (1 for a ratio) says the pilot's difference could be chance.</p>"
        f"<p><strong>When the data cannot say:</strong> a group in a period with fewer than "
        f"20 learners, or fewer than 30 assignments due, 5 voluntary leavers or 10 answered "
        f"Tier 2 arrivals, gives no number (\u201c{NOT_ENOUGH}\u201d); an interval wider than "
        "half the scale (50 points), than the comparison teams' own weekly leaving rate, or "
        "spanning more than 10-fold for a ratio, is said to be too wide to tell.</p>"
    )
    sections = [intro, *(f'<p class="note">{esc(n)}</p>' for n in f.notes)]
    warnings = [r for r in by["estimates"].rows if r[-1]]
    if warnings:
        items = "".join(f"<li>{esc(r[0])} ({esc(r[1])}): {esc(r[-1])}</li>" for r in warnings)
        sections.append(f'<h2>Warnings</h2><ul class="warnings">{items}</ul>')
    sections += [
        "<h2>Estimates</h2>",
        table_html(by["estimates"]),
        *pictures,
        table_html(by["cells"]),
        "<h2>Interventions</h2>",
        table_html(by["interventions"]),
        "<h2>Feedback and threshold suggestions</h2>",
    ]
    if not f.feedback:
        sections.append(
            "<p>No feedback in the history (no prompt was marked not useful or "
            "incorrectly flagged): no threshold can be suggested from it.</p>"
        )
    else:
        suggested = [c.sentence() for c in f.checks if c.suggested]
        sections.append(
            f"<p>Suggested (see the rule below the table): {len(suggested)} of "
            f"{len(f.checks)} changes checked.</p>"
        )
        if suggested:
            sections.append("<ul>" + "".join(f"<li>{esc(s)}</li>" for s in suggested) + "</ul>")
        sections += [table_html(by["feedback_by_rule"]), table_html(by["suggestions"])]
        sections.append(
            '<p class="note">Each change is run over the whole history with the what-if engine; '
            f"it is suggested when its rule had at least {MIN_FLAGGED} flagged prompts, it "
            "removes at least one, and the share of flagged prompts it removes is larger than "
            "the share of the rule's other prompts and of Tier 2 arrivals it removes.</p>"
        )
    files = ", ".join(f"<code>{esc(t.name)}.csv</code>" for t in found)
    sections.append(f'<p class="note">Every number is in {files} and <code>pilot.json</code>.</p>')
    return page(f"Pilot: {p.team} from {p.start}", sections)


def write_report(directory: Path, f: Findings) -> Path:
    """The report's files in `directory`: index.html, a CSV a table, pilot.json."""
    directory.mkdir(parents=True, exist_ok=True)
    found = tables(f)
    for table in found:
        write_csv(directory, table)
    p = f.pilot
    data: dict[str, Any] = {t.name: {"headers": t.headers, "rows": t.rows} for t in found}
    data["pilot"] = {
        "team": p.team,
        "from": p.start.isoformat(),
        "weeks": p.weeks,
        "compare": list(p.compare),
        "before_from": p.before.isoformat(),
        "learners": f.learners,
        "bad_lines": len(f.bad_lines),
        "resamples": RESAMPLES,
        "seed": SEED,
        "notes": f.notes,
    }
    write_json(directory / "pilot.json", data)
    index = directory / "index.html"
    index.write_text(html_page(f, found, plots(f)), encoding="utf-8")
    return index


def terminal_summary(f: Findings) -> list[str]:
    """A few lines for the terminal."""
    lines = [
        f"pilot {f.pilot.team} from {f.pilot.start}, {f.pilot.weeks} weeks: "
        f"{f.learners['pilot']:,} learners against {f.learners['comparison']:,}"
    ]
    for name, unit, _, e, scale in _measures(f):
        if e is None:
            continue
        if e.value is None:
            lines.append(f"{name} ({unit}): {NOT_ENOUGH}")
            continue
        value, low, high = _scaled(e, scale)
        warning = f"  ({e.warning})" if e.warning else ""
        sign = "" if unit == "ratio of rate ratios" else "+"
        lines.append(f"{name} ({unit}): {value:{sign}.3g} [{low:.3g}, {high:.3g}]{warning}")
    if f.feedback:
        lines += [f"suggest: {c.sentence()}" for c in f.checks if c.suggested] or [
            f"{len(f.checks)} threshold changes checked, none suggested"
        ]
    else:
        lines.append("no feedback in the history: no threshold suggestion")
    return lines
