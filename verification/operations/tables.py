"""A table is shown three ways from one object: as HTML, as the numbers behind a chart, and as CSV."""

import csv
import io
from dataclasses import dataclass, field

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False
    format: str = ""  # a format spec for the page (".2g" for p-values); CSV keeps the full value


@dataclass(frozen=True)
class Cell:
    value: object
    href: str = ""
    numeric: bool = False
    format: str = ""

    @property
    def text(self) -> str:
        if self.value is None:
            return "—"
        if self.format:
            return format(self.value, self.format)
        if isinstance(self.value, float):
            return f"{self.value:,.1f}"
        if isinstance(self.value, int) and not isinstance(self.value, bool):
            return f"{self.value:,}"
        return str(self.value)


    def html(self, tag: str) -> SafeString:
        content = format_html('<a href="{}">{}</a>', self.href, self.text) if self.href else self.text
        if tag == "th":
            return format_html('<th scope="row">{}</th>', content)
        return format_html('<td class="num">{}</td>', content) if self.numeric else format_html("<td>{}</td>", content)


@dataclass(frozen=True)
class Row:
    cells: list[Cell]
    flagged: bool = False

    @property
    def html(self) -> SafeString:
        """The row's cells (the first a row header), built here: a template loop per cell is
        slow on a table of hundreds of rows."""
        return mark_safe("".join(cell.html("th" if i == 0 else "td") for i, cell in enumerate(self.cells)))  # noqa: S308


@dataclass
class Table:
    """`name` is the table's key in the CSV link (`?csv=<name>`)."""

    name: str
    caption: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    note: str = ""
    empty: str = _("Nothing to show for this period.")

    def add(self, values: dict, *, flagged: bool = False, links: dict[str, str] | None = None) -> None:
        links = links or {}
        self.rows.append(Row([Cell(values.get(c.key), links.get(c.key, ""), c.numeric, c.format)
                              for c in self.columns],
                             flagged=flagged))

    def column(self, key: str) -> list:
        index = [c.key for c in self.columns].index(key)
        return [row.cells[index].value for row in self.rows]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value) -> object:
    """A text cell that a spreadsheet would run as a formula (a name starting with '=') is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.label for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if cell.value is None else _csv_safe(cell.value) for cell in row.cells])
    return out.getvalue()
