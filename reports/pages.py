"""Self-contained HTML pages for the district reports: no script, no tiles, no font or
stylesheet fetched from anywhere (city networks are often offline), printable."""

from html import escape

STYLE = """
body { font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 2em; color: #212121; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #bdbdbd; padding: 0.25em 0.6em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.met { color: #2e7d32; } .unmet { color: #c62828; font-weight: bold; }
.summary td { border: none; padding: 0.1em 1em 0.1em 0; }
@media print { body { margin: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


def page(title: str, body: str, *, lang: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>\n{body}\n</body></html>\n"
    )


def table(
    headers: list[str], rows: list[list[object]], *, numeric: frozenset[int] = frozenset()
) -> str:
    """`rows` of plain values (escaped here), or of `Raw` markup."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=n' if i in numeric else ''}>{_cell(v)}</td>" for i, v in enumerate(row)
        )
        + "</tr>\n"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


class Raw(str):
    """Markup made here, not to be escaped again."""


def _cell(value: object) -> str:
    if isinstance(value, Raw):
        return str(value)
    return escape("" if value is None else str(value))
