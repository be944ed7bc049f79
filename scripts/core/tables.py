"""Report tables: the one CSV writer, Markdown table renderer and percent formatter of every
report section (and of the plan and delta tables).

`markdown_table(rows, columns, fmt)`: columns are row keys, or (key, header) pairs; a cell is
`fmt[key](value)` when given, else the default format: floats with 2 decimals (3 significant
digits below 0.1), booleans yes/no, None empty. `csv_text(dicts)` / `csv_rows(lists)`: CSV with
"\n" line ends. `pct_change(x, ref)`: 100 (x - ref) / ref (None when ref is 0 or None);
`signed(v, digits, suffix)`: "+1.5%"-style text (ints as "+3"). Imports nothing of the project.
"""
from __future__ import annotations

import csv
import io

__all__ = ["csv_text", "csv_rows", "markdown_table", "format_value", "pct_change", "signed"]


def format_value(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) >= 0.1 or v == 0 else f"{v:.3g}"
    return str(v)


def markdown_table(rows: list[dict], columns, fmt: dict | None = None, default=format_value) -> list[str]:
    """Markdown table lines (header, rule, one line per row); `default` formats the cells that
    `fmt` does not name."""
    cols = [c if isinstance(c, tuple) else (c, c) for c in columns]
    fmt = fmt or {}
    lines = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(fmt[k](r.get(k)) if k in fmt else default(r.get(k, ""))
                                       for k, _ in cols) + " |")
    return lines


def csv_text(rows: list[dict], fields: list[str] | None = None) -> str:
    """CSV text of `rows` (header from `fields`, or the first row's keys); '' for no rows."""
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=fields or list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()


def csv_rows(rows, header=None) -> str:
    """CSV text of row lists (optionally after a `header` row)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header is not None:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def pct_change(x, ref) -> float | None:
    """100 * (x - ref) / ref, the change of x against ref in percent; None when ref is 0 or None."""
    return None if not ref else 100.0 * (x - ref) / ref


def signed(v, digits: int = 1, suffix: str = "", missing: str = "") -> str:
    """`v` with its sign (+1.5, -0.25; an int as +3) and `suffix`; `missing` for None."""
    if v is None:
        return missing
    return (f"{v:+d}" if isinstance(v, int) else f"{v:+.{digits}f}") + suffix
