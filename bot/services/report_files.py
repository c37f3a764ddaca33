"""Report tables written as files for download: XLSX (for the office) and CSV (for anything else).

A report is a `Document`: a title, the period it covers, and one `Sheet` per view, each a list of typed
`Column`s and an iterable of rows. Nothing here touches the database: the caller hands rows in, possibly
as a generator over millions of them, and every writer consumes them one at a time, never all at once.

XLSX (XlsxWriter in constant-memory mode: a row goes out to disk once the next one starts):

    row 0   the title, bold, centred and merged across the table's columns
    row 1   the period ("统计期间：…")
    row 2   the sheet's note, when it has one (how a figure is counted)
    next    the header row: bold, filled, bordered; panes frozen below it; an autofilter over the table
    ...     the data rows, each cell in its column's number format
    last    the 合计 row: SUBTOTAL(109, …) for "sum" and SUBTOTAL(101, …) for "mean" (so a filter narrows
            the totals too), each with its computed value cached, so that a reader which does not
            recalculate (openpyxl's data_only, pandas) sees the number as Excel would show it.

A printable document is set up for A4 (landscape when a sheet has more than 6 columns), one page wide,
the header row repeated on every page and "第 N 页，共 M 页" in the footer; its signature lines
("考评人：", "审核人：", …) go under the last sheet's table.

Retailers' own words end up in these reports, so text is never written as something a spreadsheet could
run: in XLSX every text cell is a string cell (and one that starts like a formula gets Excel's quote
prefix as well, so editing it keeps it text); in CSV such a value gets a leading single quote
(`spreadsheets.safe_cell`, OWASP's advice for CSV injection).
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, BinaryIO, Literal, cast
from zoneinfo import ZoneInfo

from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_range
from xlsxwriter.worksheet import Worksheet

from bot.services.spreadsheets import safe_cell

SHANGHAI = ZoneInfo("Asia/Shanghai")

ColumnKind = Literal["text", "int", "number", "percent", "minutes", "date", "datetime", "link"]
Total = Literal["sum", "mean"]

TOTAL_LABEL = "合计"
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class Column:
    """One column of a sheet.

    `kind` says what the row values are and how they are shown:
    text: anything, written as text; int: a whole number; number: shown with two decimals;
    percent: a float 0..1 shown as 0.0%; minutes: float business minutes shown as 0.0;
    date / datetime: `date` / `datetime` (an aware datetime is shown in the document's time zone, a naive
    one as it is); link: a `(text, url)` tuple written as a hyperlink (http, https or mailto URLs: any
    other is shown as its text only). `None` (and NaN) is an empty cell. A value of the wrong type for
    its column (text in a number column) is written as text and left out of the totals.

    `total` is what the 合计 row shows: "sum", "mean" (the mean of the rows' values, blank cells not
    counted; for a percent column the plain mean of the rows' rates) or None (blank; the first column
    then shows "合计"). `width` is in characters; None picks one from the kind and the header."""

    header: str
    kind: ColumnKind = "text"
    total: Total | None = None
    width: float | None = None


@dataclass(frozen=True)
class Sheet:
    """One view of the report: a worksheet in XLSX, a whole file in CSV.

    `name` is the sheet tab's name (Excel's rules are applied: at most 31 characters, none of []:*?/\\).
    `rows` is iterated once, lazily; each row has at most one value per column (a shorter row is padded
    with empty cells). `note` is a line under the title, e.g. how a figure is counted."""

    name: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[object]]
    note: str | None = None


@dataclass(frozen=True)
class Document:
    """A whole report. `printable` sets every sheet up for printing on A4 and writes `signatures` as
    signature lines under the last sheet's table (they are left out of a document that is not printable).
    Aware datetimes are shown in `tz`."""

    title: str
    period: str
    sheets: Sequence[Sheet]
    printable: bool = False
    signatures: Sequence[str] = ()
    tz: ZoneInfo = SHANGHAI


# ---------------------------------------------------------------------------------------------- values

_MAX_TEXT = 32_767          # Excel's limit for one cell's text
_MAX_URL = 2_079            # Excel's limit for a hyperlink's address
_MAX_LINKS = 65_530         # Excel's limit of hyperlinks on one worksheet; later links are shown as text
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters an XLSX cannot hold

_NUMBER_FORMATS: dict[str, str] = {
    "int": "0", "number": "0.00", "percent": "0.0%", "minutes": "0.0",
    "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm",
}
_DEFAULT_WIDTHS: dict[str, float] = {
    "text": 16, "int": 10, "number": 12, "percent": 10, "minutes": 10, "date": 12, "datetime": 18, "link": 24,
}
_NUMERIC = frozenset({"int", "number", "percent", "minutes"})


def _number(value: object) -> float | int | None:
    """The value as a number for a numeric column, or None when it is not one (None, NaN, text, …)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _local(value: datetime, tz: ZoneInfo) -> datetime:
    """An aware datetime in the report's time zone, without tzinfo (spreadsheets have no time zones)."""
    if value.tzinfo is not None:
        value = value.astimezone(tz).replace(tzinfo=None)
    return value


def _clean_text(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return _ILLEGAL.sub("\ufffd", text)[:_MAX_TEXT]


def _display_width(text: str) -> int:
    """Characters as a spreadsheet column counts them: a Chinese character is two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _width(column: Column) -> float:
    if column.width is not None:
        return column.width
    return max(_DEFAULT_WIDTHS[column.kind], _display_width(column.header) + 2)


def sheet_name(name: str, taken: Iterable[str] = ()) -> str:
    """`name` as Excel accepts it for a sheet tab: none of []:*?/\\, no quote at either end, at most 31
    characters, not "History", and (case-insensitively) different from every name in `taken`."""
    cleaned = re.sub(r"[\[\]:*?/\\]", "", name).strip().strip("'").strip() or "Sheet"
    if cleaned.casefold() == "history":
        cleaned += " 1"
    used = {other.casefold() for other in taken}
    candidate, number = cleaned[:31], 1
    while candidate.casefold() in used:
        number += 1
        suffix = f"({number})"
        candidate = cleaned[:31 - len(suffix)] + suffix
    return candidate


# ---------------------------------------------------------------------------------------------- XLSX


class _Formats:
    """The workbook's cell formats, made once (XlsxWriter keeps one style per distinct format)."""

    def __init__(self, workbook: Workbook, printable: bool) -> None:
        base = {"font_name": "等线", "font_size": 11, "valign": "vcenter"}
        cell = {**base, "border": 1, "border_color": "#BFBFBF"}
        self.title = workbook.add_format({**base, "bold": True, "font_size": 16 if printable else 14,
                                          "align": "center"})
        self.period = workbook.add_format({**base, "font_color": "#595959"})
        self.note = workbook.add_format({**base, "font_color": "#595959", "text_wrap": True, "valign": "top"})
        self.header = workbook.add_format({**cell, "bold": True, "bg_color": "#DDEBF7", "align": "center",
                                           "text_wrap": True})
        self.text = workbook.add_format(cell)
        self.quoted = workbook.add_format({**cell, "quote_prefix": True})
        self.link = workbook.add_format({**cell, "font_color": "#0563C1", "underline": 1})
        self.signature = workbook.add_format({**base, "font_size": 12})
        self.signature_line = workbook.add_format({**base, "bottom": 1})
        self.kinds = {kind: workbook.add_format({**cell, "num_format": number_format})
                      for kind, number_format in _NUMBER_FORMATS.items()}
        total = {**cell, "bold": True, "top": 2, "bg_color": "#F2F2F2"}
        self.total_label = workbook.add_format({**total, "align": "center"})
        self.total_blank = workbook.add_format(total)
        self.totals = {kind: workbook.add_format({**total, "num_format": number_format})
                       for kind, number_format in _NUMBER_FORMATS.items()}
        self.int_mean = workbook.add_format({**total, "num_format": "0.0"})


_Writer = Callable[[Worksheet, int, int, object], None]


class _Tally:
    """What one column's 合计 needs: the sum of its numbers and how many there were."""

    __slots__ = ("count", "total")

    def __init__(self) -> None:
        self.total: float | int = 0
        self.count = 0


def _cell_writer(column: Column, formats: _Formats, tz: ZoneInfo, tally: _Tally | None,
                 links: list[int]) -> _Writer:
    """The function that writes one of this column's values (chosen once, not per cell)."""
    def text(sheet: Worksheet, row: int, col: int, value: object) -> None:
        string = _clean_text(value)
        sheet.write_string(row, col, string, formats.quoted if safe_cell(string) is not string else formats.text)

    if column.kind in _NUMERIC:
        number_format = formats.kinds[column.kind]

        def numeric(sheet: Worksheet, row: int, col: int, value: object) -> None:
            number = _number(value)
            if number is None:
                if value is None or isinstance(value, float | Decimal):  # None, NaN, ±inf: no figure
                    sheet.write_blank(row, col, None, number_format)
                else:
                    text(sheet, row, col, value)
                return
            sheet.write_number(row, col, number, number_format)
            if tally is not None:
                tally.total += number
                tally.count += 1

        return numeric

    if column.kind in ("date", "datetime"):
        when_format = formats.kinds[column.kind]
        as_date = column.kind == "date"

        def when(sheet: Worksheet, row: int, col: int, value: object) -> None:
            if isinstance(value, datetime):
                local = _local(value, tz)
                sheet.write_datetime(row, col, local.date() if as_date else local, when_format)
            elif isinstance(value, date):
                sheet.write_datetime(row, col, value, when_format)
            elif value is None:
                sheet.write_blank(row, col, None, when_format)
            else:
                text(sheet, row, col, value)

        return when

    if column.kind == "link":
        def link(sheet: Worksheet, row: int, col: int, value: object) -> None:
            if value is None:
                sheet.write_blank(row, col, None, formats.text)
                return
            if not isinstance(value, tuple | list) or len(value) != 2:
                text(sheet, row, col, value)
                return
            label, url = _clean_text(value[0]), value[1]
            linkable = (isinstance(url, str) and url.startswith(_LINK_SCHEMES) and len(url) <= _MAX_URL
                        and links[0] < _MAX_LINKS)
            if linkable and sheet.write_url(row, col, url, formats.link, label) == 0:
                links[0] += 1
            else:
                text(sheet, row, col, label)

        return link

    def plain(sheet: Worksheet, row: int, col: int, value: object) -> None:
        if value is None:
            sheet.write_blank(row, col, None, formats.text)
        else:
            text(sheet, row, col, value)

    return plain


def _merged(sheet: Worksheet, row: int, last_col: int, text: str, cell_format: Format) -> None:
    """Text across the table's columns, written as a string (merge_range would take '=…' as a formula)."""
    if last_col > 0:
        sheet.merge_range(row, 0, row, last_col, "", cell_format)
    sheet.write_string(row, 0, _clean_text(text), cell_format)


def _write_sheet(workbook: Workbook, formats: _Formats, document: Document, spec: Sheet, name: str,
                 signatures: Sequence[str]) -> None:
    sheet = workbook.add_worksheet(name)
    columns = list(spec.columns)
    ncols = len(columns)
    last_col = max(ncols - 1, 0)
    for index, column in enumerate(columns):
        sheet.set_column(index, index, _width(column))

    # title, period, note: rows must be finished in order (constant memory), so heights are set first
    sheet.set_row(0, 28 if document.printable else 24)
    row = 2
    if spec.note:
        span = sum(_width(column) for column in columns) or 40
        lines = sum(max(1, math.ceil(_display_width(line) / span)) for line in spec.note.splitlines() or [""])
        sheet.set_row(row, 15 * lines + 3)
        row += 1
    header_row = row
    sheet.set_row(header_row, 30)
    _merged(sheet, 0, last_col, document.title, formats.title)
    _merged(sheet, 1, last_col, document.period, formats.period)
    if spec.note:
        _merged(sheet, 2, last_col, spec.note, formats.note)
    for index, column in enumerate(columns):
        sheet.write_string(header_row, index, _clean_text(column.header), formats.header)

    tallies = [_Tally() if column.total else None for column in columns]
    links = [0]
    writers = [_cell_writer(column, formats, document.tz, tally, links)
               for column, tally in zip(columns, tallies, strict=True)]
    first_data = row = header_row + 1
    for values in spec.rows:
        if len(values) > ncols:
            raise ValueError(f"sheet {spec.name!r}: a row has {len(values)} values for {ncols} columns")
        for index, value in enumerate(values):
            writers[index](sheet, row, index, value)
        row += 1
    last_data = row - 1
    has_rows = last_data >= first_data

    total_row = row
    for index, (column, tally) in enumerate(zip(columns, tallies, strict=True)):
        _write_total(sheet, formats, total_row, index, column, tally, first_data, last_data if has_rows else None)

    if ncols:
        sheet.freeze_panes(header_row + 1, 0)
        sheet.autofilter(header_row, 0, max(last_data, header_row), last_col)
    if document.printable:
        _print_setup(sheet, ncols, header_row)
        if signatures:
            _signature_lines(sheet, formats, total_row + 2, max(ncols, 1), signatures)


def _write_total(sheet: Worksheet, formats: _Formats, row: int, col: int, column: Column, tally: _Tally | None,
                 first: int, last: int | None) -> None:
    if tally is None or column.total is None:
        if col == 0:
            sheet.write_string(row, col, TOTAL_LABEL, formats.total_label)
        else:
            sheet.write_blank(row, col, None, formats.total_blank)
        return
    kind = column.kind if column.kind in _NUMERIC else "number"
    total_format = formats.totals[kind]
    if column.total == "sum":
        value: float | int = tally.total
        function = 109
    else:
        value = tally.total / tally.count if tally.count else 0
        function = 101
        if kind == "int":
            total_format = formats.int_mean
    if last is None or (function == 101 and not tally.count):
        # no rows (a SUBTOTAL over none would read the header), or nothing to average (#DIV/0!): zero
        sheet.write_number(row, col, value, total_format)
        return
    sheet.write_formula(row, col, f"=SUBTOTAL({function},{xl_range(first, col, last, col)})", total_format, value)


def _print_setup(sheet: Worksheet, ncols: int, header_row: int) -> None:
    sheet.set_paper(9)  # A4
    if ncols > 6:
        sheet.set_landscape()
    else:
        sheet.set_portrait()
    sheet.fit_to_pages(1, 0)  # one page wide, as many pages tall as it takes
    sheet.repeat_rows(header_row)
    sheet.center_horizontally()
    sheet.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
    sheet.set_footer("&C第 &P 页，共 &N 页")


def _signature_lines(sheet: Worksheet, formats: _Formats, row: int, ncols: int, signatures: Sequence[str]) -> None:
    """"考评人：____  审核人：____  日期：____": the columns shared out between the signatures, each label in
    the first of its columns and a line to sign on under the rest. With fewer columns than signatures,
    one signature a row."""
    if ncols < len(signatures):
        for offset, label in enumerate(signatures):
            sheet.write_string(row + offset, 0, _clean_text(label), formats.signature)
            for col in range(1, ncols):
                sheet.write_blank(row + offset, col, None, formats.signature_line)
        return
    sheet.set_row(row, 30)
    starts = [index * ncols // len(signatures) for index in range(len(signatures))] + [ncols]
    for index, label in enumerate(signatures):
        sheet.write_string(row, starts[index], _clean_text(label), formats.signature)
        for col in range(starts[index] + 1, starts[index + 1]):
            sheet.write_blank(row, col, None, formats.signature_line)


def write_xlsx(document: Document, out: BinaryIO) -> None:
    """Write the document as an XLSX workbook to `out` (a binary file or buffer), one worksheet per sheet.

    Rows are consumed one at a time and go to disk as soon as the next row starts, so memory stays flat
    however many there are. If a row iterator raises, the error propagates and `out` holds no usable
    workbook; XlsxWriter's own temporary files are removed either way."""
    with tempfile.TemporaryDirectory(prefix="report-xlsx-") as scratch:
        workbook = Workbook(out, {"constant_memory": True, "tmpdir": scratch})
        workbook.set_properties({"title": document.title, "comments": document.period})
        formats = _Formats(workbook, document.printable)
        taken: list[str] = []
        sheets = list(document.sheets) or [Sheet(name=document.title, columns=(), rows=())]
        try:
            for index, spec in enumerate(sheets):
                name = sheet_name(spec.name, taken)
                taken.append(name)
                last = index == len(sheets) - 1
                _write_sheet(workbook, formats, document, spec, name, document.signatures if last else ())
        except BaseException:
            for sheet in workbook.worksheets():  # each holds its rows' temporary file open until close()
                with contextlib.suppress(Exception):
                    sheet.row_data_fh.close()
            raise
        workbook.close()


_SPOOL_BYTES = 8 * 1024 * 1024  # a workbook up to this size is kept in memory, a bigger one on disk


def xlsx_chunks(document: Document, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """The XLSX workbook in pieces, for a streaming response (`StreamingResponse(xlsx_chunks(doc), …)`).

    A zip file is finished only at its end (its directory comes last), so the workbook is written whole to
    a temporary file first (kept in memory up to 8 MiB, then on disk), then read out in chunks. The file is
    removed when the chunks are done, when the consumer stops early, and when writing fails (the error
    propagates, before any chunk was yielded)."""
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, prefix="report-", suffix=".xlsx") as spool:
        write_xlsx(document, cast(BinaryIO, spool))
        spool.seek(0)
        while chunk := spool.read(chunk_size):
            yield chunk


# ---------------------------------------------------------------------------------------------- CSV

_CSV_BATCH_ROWS = 1_000
_CSV_BATCH_BYTES = 64 * 1024


def _fixed(number: float | int, places: int, scale: int = 0) -> str:
    """The number as a cell with that many decimals shows it: halves rounded away from zero, as Excel does
    (Python's own formatting would show 12.25 as 12.2 where Excel shows 12.3). `scale` moves the point
    right first (2 for a percentage), exactly, in decimal."""
    exact = Decimal(repr(number) if isinstance(number, float) else number).scaleb(scale)
    rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{rounded.copy_abs() if rounded.is_zero() else rounded:f}"


def _csv_formatter(column: Column, tz: ZoneInfo) -> Callable[[object], str]:
    """How one of the column's values is written in CSV: as the XLSX cell shows it."""
    def text(value: object) -> str:
        return "" if value is None else str(safe_cell(value if isinstance(value, str) else str(value)))

    places = {"int": 0, "number": 2, "minutes": 1, "percent": 1}
    kind = column.kind
    if kind in _NUMERIC:
        def numeric(value: object) -> str:
            number = _number(value)
            if number is None:
                return "" if value is None or isinstance(value, float | Decimal) else text(value)
            if kind == "int" and isinstance(number, int):
                return str(number)
            if kind == "percent":
                return _fixed(number, places[kind], scale=2) + "%"
            return _fixed(number, places[kind])

        return numeric
    if kind in ("date", "datetime"):
        def when(value: object) -> str:
            if isinstance(value, datetime):
                local = _local(value, tz)
                return local.strftime("%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M")
            if isinstance(value, date):
                return value.strftime("%Y-%m-%d")
            return text(value)

        return when
    if kind == "link":
        def link(value: object) -> str:
            if isinstance(value, tuple | list) and len(value) == 2:
                return text(value[0])
            return text(value)

        return link
    return text


def csv_chunks(sheet: Sheet, tz: ZoneInfo = SHANGHAI) -> Iterator[bytes]:
    """One sheet as CSV, in pieces for a streaming response: UTF-8 with a BOM (without it Excel on Chinese
    Windows shows mojibake), the header line, then one line per row (no 合计 line), CRLF line ends, values
    formatted as the XLSX shows them (87.5%, minutes with one decimal, datetimes "YYYY-MM-DD HH:MM" in
    `tz`, a link as its text) and text that starts like a formula quoted ('=…). Rows are read in batches,
    never all at once."""
    formatters = [_csv_formatter(column, tz) for column in sheet.columns]
    ncols = len(formatters)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([str(safe_cell(column.header)) for column in sheet.columns])
    first = True

    def take() -> bytes:
        nonlocal first
        data = buffer.getvalue().encode("utf-8-sig" if first else "utf-8")
        first = False
        buffer.seek(0)
        buffer.truncate()
        return data

    pending = 0
    for values in sheet.rows:
        if len(values) > ncols:
            raise ValueError(f"sheet {sheet.name!r}: a row has {len(values)} values for {ncols} columns")
        line: list[Any] = [format_(value) for format_, value in zip(formatters, values, strict=False)]
        line.extend([""] * (ncols - len(line)))
        writer.writerow(line)
        pending += 1
        if pending >= _CSV_BATCH_ROWS or buffer.tell() >= _CSV_BATCH_BYTES:
            yield take()
            pending = 0
    yield take()
