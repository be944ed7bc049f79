"""Report tables: one CSV writer and one Markdown table renderer for every report section.

`markdown_table(rows, columns, fmt)`: columns are row keys, or (key, header) pairs; a cell is
`fmt[key](value)` when given, else the default format: floats with 2 decimals (3 significant
digits below 0.1), booleans yes/no, None empty.
"""
from __future__ import annotations

import csv
import io

__all__ = ["csv_text", "markdown_table", "format_value"]


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
