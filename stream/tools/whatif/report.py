"""The what-if report: its tables (each a CSV), its plots, the HTML page, the JSON of every
number, and the terminal summary. Numbers the data cannot support are not stated: no
feedback rate without feedback, no time to Tier 2 without an arrival there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from stream.tools.whatif.aggregates import Difference, PolicyFigures, quantile

EXAMPLES = 5  # learners shown for each pair of policies that disagree
ROLES = ("learner", "manager", "hr", "wellbeing")


def tables(policies: list[PolicyFigures], differences: list[Difference]) -> list[Table]:
    """Every table of the report, each written whole to its CSV."""
    overview = Table(
        "overview",
        "Per policy: records, transitions, learners flagged, alert load, time to Tier 2",
        [
            "policy", "file", "records", "bad lines", "transitions", "rises", "learners flagged",
            "reached tier 2", "reached tier 3", "manager messages", "worst manager-week",
            "worst week", "nudges held back", "episodes", "reached tier 2 (episodes)",
            "median days to tier 2", "p90 days to tier 2",
        ],
    )  # fmt: skip
    weekly = Table(
        "transitions_by_week", "Transitions per ISO week, role and tier",
        ["policy", "week", "role", "to tier", "direction", "transitions"],
    )  # fmt: skip
    messages = Table(
        "messages_by_week", "Messages per ISO week and recipient (one a recipient)",
        ["policy", "week", *ROLES],
    )  # fmt: skip
    managers = Table(
        "manager_weeks", "Messages per manager and ISO week",
        ["policy", "manager", "week", "messages"],
    )  # fmt: skip
    flagged = Table(
        "learners_flagged_by_week", "Learners whose tier rose, per ISO week",
        ["policy", "week", "learners"],
    )  # fmt: skip
    tier2 = Table(
        "time_to_tier2", "Episodes: from the first signal (a rise from Tier 0) to Tier 2",
        ["policy", "learner", "first signal", "tier 2 or higher", "days"],
    )  # fmt: skip
    feedback = Table(
        "feedback_by_rule", "Manager feedback per rule (reason code)",
        ["policy", "reason code", "transitions", "not useful", "incorrectly flagged", "rate"],
    )  # fmt: skip
    for p in policies:
        overview.rows.append(_overview(p))
        for (week, role, tier, direction), n in sorted(p.by_week.items()):
            weekly.rows.append([p.name, week, role, tier, direction, n])
        for week in sorted({w for w, _ in p.messages}):
            messages.rows.append([p.name, week, *(p.messages[week, r] for r in ROLES)])
        for (manager, week), n in sorted(p.manager_weeks.items()):
            managers.rows.append([p.name, manager, week, n])
        for week, learners in sorted(p.flagged_by_week.items()):
            flagged.rows.append([p.name, week, len(learners)])
        for e in p.episodes:
            at = e.tier2.isoformat() if e.tier2 else None
            tier2.rows.append([p.name, e.learner_id, e.started.isoformat(), at, e.days])
        for code, n, useless, wrong in p.feedback_rows:
            rate = round((useless + wrong) / n, 4) if p.feedback_total and n else None
            feedback.rows.append([p.name, code, n, useless, wrong, rate])
    return [overview, weekly, messages, managers, flagged, tier2, feedback,
            *_difference_tables(differences)]  # fmt: skip


def _overview(p: PolicyFigures) -> list[Any]:
    worst = p.worst_manager_week
    rises = sum(n for (_, _, _, d), n in p.by_week.items() if d == "up")
    days = p.tier2_days()
    return [
        p.name, p.source, p.summary.records, p.bad_lines, len(p.seen), rises, len(p.highest),
        sum(1 for t in p.highest.values() if t >= 2), sum(1 for t in p.highest.values() if t == 3),
        sum(n for (_, r), n in p.messages.items() if r == "manager"),
        worst[2] if worst else None, f"{worst[0]} {worst[1]}" if worst else None,
        p.skipped_nudges, len(p.episodes), len(days), quantile(days, 0.5), quantile(days, 0.9),
    ]  # fmt: skip


def _difference_tables(differences: list[Difference]) -> list[Table]:
    counts = Table(
        "disagreements", "Transitions one policy gives and the other does not, per ISO week",
        ["policy", "other policy", "week", "to tier", "only in policy", "only in other"],
    )  # fmt: skip
    examples = Table(
        "disagreement_examples",
        f"Examples: up to {EXAMPLES} learners per pair, with the transitions only one policy gives",
        ["policy pair", "learner", "only under", "at", "tier", "reasons"],
        text_columns=frozenset({"reasons"}),
    )  # fmt: skip
    for d in differences:
        tally: dict[tuple[str, int], list[int]] = {}
        for side, seen in ((0, d.only_first), (1, d.only_second)):
            for s in seen:
                tally.setdefault((s.week, s.transition.to_tier), [0, 0])[side] += 1
        for (week, tier), (a, b) in sorted(tally.items()):
            counts.rows.append([d.first, d.second, week, tier, a, b])
        chosen = set(d.learners()[:EXAMPLES])
        for name, seen in ((d.first, d.only_first), (d.second, d.only_second)):
            for s in seen:
                t = s.transition
                if t.learner_id not in chosen:
                    continue
                reasons = " ".join(r.text for r in t.reasons)
                examples.rows.append(
                    [f"{d.first} / {d.second}", t.learner_id, name, t.at.isoformat(),
                     f"{t.from_tier} → {t.to_tier}", reasons]
                )  # fmt: skip
        examples.rows.sort(key=lambda row: (row[0], row[1], row[3], row[2]))
    return [counts, examples]


def plots(policies: list[PolicyFigures]) -> list[str]:
    """The report's plots as inline SVG: rises per week, the heaviest manager each week,
    learners by the highest tier reached, days from the first signal to Tier 2."""
    out = []
    weeks = sorted({w for p in policies for (w, _, _, _) in p.by_week})
    fig, ax = new_figure()
    for p in policies:
        ys = [sum(n for (w, _, _, d), n in p.by_week.items() if w == week and d == "up")
              for week in weeks]  # fmt: skip
        ax.plot(range(len(weeks)), ys, label=p.name, linewidth=1.4)
    _week_axis(ax, weeks, "rises of tier")
    about = "Transitions to a higher tier in each week, one line per policy."
    out.append(svg_plot(fig, "Rises of tier per ISO week", about))
    fig, ax = new_figure()
    for p in policies:
        heaviest = {w: 0 for w in weeks}
        for (_, w), n in p.manager_weeks.items():
            heaviest[w] = max(heaviest.get(w, 0), n)
        ax.plot(range(len(weeks)), [heaviest[w] for w in weeks], label=p.name, linewidth=1.4)
    _week_axis(ax, weeks, "messages")
    about = "The most messages any one manager would get in each week."
    out.append(svg_plot(fig, "The heaviest manager load per ISO week", about))
    fig, ax = new_figure()
    width = 0.8 / max(len(policies), 1)
    for i, p in enumerate(policies):
        counts = [sum(1 for t in p.highest.values() if t == tier) for tier in (1, 2, 3)]
        ax.bar([tier + (i - (len(policies) - 1) / 2) * width for tier in (1, 2, 3)], counts,
               width=width, label=p.name)  # fmt: skip
    ax.set_xticks([1, 2, 3], ["tier 1", "tier 2", "tier 3"])
    ax.set_ylabel("learners")
    ax.legend(fontsize=8)
    about = "Each learner counted once, at the highest tier any transition took them."
    out.append(svg_plot(fig, "Learners by the highest tier they reached", about))
    with_days = [p for p in policies if p.tier2_days()]
    if with_days:
        fig, ax = new_figure()
        ax.boxplot([p.tier2_days() for p in with_days], vert=False)
        ax.set_yticks(range(1, len(with_days) + 1), [p.name for p in with_days])
        ax.set_xlabel("days from the first signal to Tier 2")
        about = "Episodes that reached Tier 2: median, quartiles and range."
        out.append(svg_plot(fig, "Days from the first signal to Tier 2", about))
    return out


def _week_axis(ax: Any, weeks: list[str], label: str) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: whole numbers
    step = max(1, len(weeks) // 8)
    ax.set_xticks(range(0, len(weeks), step), weeks[::step], rotation=30, ha="right")
    ax.set_ylabel(label)
    ax.legend(fontsize=8)


def html_page(policies: list[PolicyFigures], found: list[Table], pictures: list[str]) -> str:
    """The report page: what was compared, the plots, then every table (long ones cut
    on the page, whole in their CSV)."""
    by_name = {t.name: t for t in found}
    names = ", ".join(p.name for p in policies)
    intro = (
        f"<p>The same history through {len(policies)} policies ({esc(names)}). Each policy's "
        "transitions are exactly those <code>tierwatch replay --policy</code> gives for it. "
        "Messages are counted with dispatch's own routing and nudge limit, one a recipient, "
        "as if every message were delivered.</p>"
    )
    sections = [intro, "<h2>Overview</h2>", table_html(by_name["overview"]), *pictures]
    sections.append("<h2>Feedback per rule</h2>")
    sections.append(_feedback_note(policies))
    if any(p.feedback_total for p in policies):
        sections.append(table_html(by_name["feedback_by_rule"]))
    sections.append("<h2>Where the policies disagree</h2>")
    if len(policies) < 2:
        sections.append('<p class="note">One policy: nothing to compare.</p>')
    sections += [table_html(by_name["disagreements"], 60),
                 table_html(by_name["disagreement_examples"], 80)]  # fmt: skip
    sections.append("<h2>Per week</h2>")
    for name in ("messages_by_week", "learners_flagged_by_week", "transitions_by_week"):
        sections.append(table_html(by_name[name], 60))
    files = ", ".join(f"<code>{esc(t.name)}.csv</code>" for t in found)
    sections.append(f'<p class="note">Every number is in {files} and <code>whatif.json</code>.</p>')
    return page("What if: policies compared on one history", sections)


def _feedback_note(policies: list[PolicyFigures]) -> str:
    if not any(p.feedback_total or p.feedback_unknown for p in policies):
        return "<p>No feedback in the history: no rate of feedback per rule can be given.</p>"
    parts = []
    for p in policies:
        unknown = sum(p.feedback_unknown.values())
        parts.append(
            f"{esc(p.name)}: {p.feedback_total} pieces of feedback, {unknown} naming a "
            "transition this policy does not give"
        )
    return (
        "<p>Feedback is counted once for each reason code of the transition it names; the rate "
        "is feedback over the transitions carrying the code. " + "; ".join(parts) + ".</p>"
    )


def write_report(
    directory: Path, policies: list[PolicyFigures], differences: list[Difference]
) -> Path:
    """The report's files in `directory`: index.html, a CSV a table, whatif.json."""
    directory.mkdir(parents=True, exist_ok=True)
    found = tables(policies, differences)
    for table in found:
        write_csv(directory, table)
    write_json(
        directory / "whatif.json",
        {t.name: {"headers": t.headers, "rows": t.rows} for t in found},
    )
    index = directory / "index.html"
    index.write_text(html_page(policies, found, plots(policies)), encoding="utf-8")
    return index


def terminal_summary(policies: list[PolicyFigures], differences: list[Difference]) -> list[str]:
    """A few lines for the terminal."""
    lines = []
    for p in policies:
        worst = p.worst_manager_week
        days = quantile(p.tier2_days(), 0.5)
        tier2 = "no episode reached tier 2" if days is None else f"median {days:.1f} days to tier 2"
        lines.append(
            f"{p.name}: {len(p.seen):,} transitions, {len(p.highest):,} learners flagged, "
            f"worst manager-week {worst[2] if worst else 0} messages, {tier2}"
        )
    for d in differences:
        lines.append(
            f"{d.first} vs {d.second}: {len(d.only_first):,} transitions only under "
            f"{d.first}, {len(d.only_second):,} only under {d.second}, "
            f"{len(d.learners()):,} learners differ"
        )
    return lines
