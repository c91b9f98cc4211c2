"""A task record's repr at the prompt: its headline numbers as a short text table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_ROWS = 12


def summary_text(task: str, record: Mapping[str, Any]) -> str:
    """'<title>' then one line per headline number, then how to see the rest."""
    from almacal.report.build import task_parts

    try:
        parts = task_parts(task, record)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        # a record this summary does not know (b2b's plan mode): its keys
        return f"{task} record ({exc.__class__.__name__} in the summary), keys: {', '.join(record)}"
    rows = parts.headline
    width = max([len(h.label) for h in rows] + [5])
    vwidth = max([len(h.value) for h in rows] + [5])
    lines = [parts.title]
    for h in rows[:MAX_ROWS]:
        lines.append(f"  {h.label:<{width}}  {h.value:<{vwidth}}  {h.note}".rstrip())
    if len(rows) > MAX_ROWS:
        lines.append(f"  ... {len(rows) - MAX_ROWS} more (in the HTML report)")
    for w in parts.warnings[:3]:
        lines.append(f"  ! {w.message}" + (f" ({w.reason})" if w.reason else ""))
    lines.append(
        f"(a dict with {len(record)} keys: {', '.join(list(record)[:8])}"
        + (", ..." if len(record) > 8 else "")
        + "; dict(result) shows them all)"
    )
    return "\n".join(lines)
