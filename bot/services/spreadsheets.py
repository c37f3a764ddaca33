"""Reading uploaded tables (XLSX, XLS, CSV) and writing exports, safely.

A workbook's cells are read by calamine, which builds a dense grid of the
sheet's whole extent: a 1.6 KB XLSX with cells only in A1 and XFD1048576 asks
it for 512 GiB, and a 6 KB XLS with A1 and IV65536 for 1 GB. So every limit
(raw size, unpacked size, declared and real extent, rows, columns, cells) is
checked on the file's bytes first, streaming, before calamine sees the file.
Exports escape cells that a spreadsheet program would run as a formula.
"""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from bot.services.errors import ServiceError, TooLarge

MAX_BYTES = 30 * 1024 * 1024            # the upload itself
MAX_UNPACKED_BYTES = 256 * 1024 * 1024  # all members of an XLSX, uncompressed (zip bombs)
MAX_ROWS = 100_000                      # below the header
MAX_COLUMNS = 200
MAX_CELLS = 3_000_000                   # rows × columns of the grid calamine would build (~100 MB)
_CHUNK = 256 * 1024                     # one regex search holds the GIL: keep each one short
_MAX_TAG = 1024 * 1024                  # a run of text without '<' this long is not a worksheet


@dataclass(frozen=True)
class Limits:
    bytes: int = MAX_BYTES
    unpacked: int = MAX_UNPACKED_BYTES
    rows: int = MAX_ROWS
    columns: int = MAX_COLUMNS
    cells: int = MAX_CELLS


class TableError(ServiceError):
    """The file cannot be read as a table (answered 422)."""


class TableTooLarge(TableError, TooLarge):
    """The file is over one of the limits (answered 413); the message names it."""


def read_rows(content: bytes, filename: str = "", limits: Limits = Limits()) -> Iterator[list[str]]:
    """Rows of cells as text, from the first sheet of an XLSX/XLS or from a CSV.

    Refuses (before building anything the size of the table) a file over `limits`."""
    if len(content) > limits.bytes:
        raise TableTooLarge(f"文件过大：最多 {limits.bytes // (1024 * 1024)} MB")
    if content.startswith(b"PK\x03\x04"):
        _check_xlsx(content, limits)
        return _workbook_rows(content, limits)
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        _check_xls(content, limits)
        return _workbook_rows(content, limits)
    if filename.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise TableError("无法读取 Excel 文件：文件已损坏或不是工作簿（支持 XLSX、XLS）")
    return _csv_rows(content, limits)


def _refuse_extent(rows: int, columns: int, cells: int, limits: Limits) -> None:
    if rows > limits.rows + 1:
        raise TableTooLarge(f"表格过大：最多 {limits.rows} 行（不含表头）")
    if columns > limits.columns:
        raise TableTooLarge(f"表格列数过多：最多 {limits.columns} 列")
    if rows * columns > limits.cells or cells > limits.cells:
        raise TableTooLarge(f"表格过大：行数×列数最多 {limits.cells} 格，请删去多余的行列或分批导入")


# -- XLSX --------------------------------------------------------------------------------------

_NAME = rb"<(?:[A-Za-z_][\w.\-]*:)?"
_ATTRS = rb"((?:[^>\"']+|\"[^\"]*\"|'[^']*')*)"
_TAG = re.compile(_NAME + rb"(row|c|dimension)(?=[\s/>])" + _ATTRS + rb">")
_ATTR = re.compile(rb"""(?:^|\s)(r|ref)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CELL_REF = re.compile(rb"^\$?([A-Z]{1,3})\$?(\d{1,7})$")
_PREFIXED_CELL = re.compile(rb"<[A-Za-z_][\w.\-]*:c[\s/>]")
_PLAIN_CELL = re.compile(rb'<c\s+r="([A-Z]{1,3})(\d{1,7})"[^>r]*(?:r(?!\s*=)[^>r]*)*>')
_ROW_NUMBER = re.compile(_NAME + rb"""row\s[^>]*?(?<=\s)r\s*=\s*["'](\d+)""")
_HIDDEN_BRACKET = re.compile(rb"""=\s*(?:"[^"]*>|'[^']*>)""")
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b" + _ATTRS + rb">")
_TYPE_TARGET = re.compile(rb"""(?:^|\s)(Type|Target)\s*=\s*(["'])(.*?)\2""")


def _column(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _reference(attributes: bytes, name: bytes) -> bytes | None:
    """The value of attribute `name` (r or ref); two of them would be read differently by calamine."""
    found = [double or single for key, double, single in _ATTR.findall(attributes) if key == name]
    if len(found) > 1:
        raise TableError("无法读取 Excel 文件：单元格位置重复")
    return found[0] if found else None


def _cell_ref(value: bytes) -> tuple[int, int]:
    match = _CELL_REF.match(value)
    if match is None:
        raise TableError(f"无法读取 Excel 文件：单元格位置「{value.decode(errors='replace')[:20]}」无效")
    return int(match[2]), _column(match[1])


def _check_xlsx(content: bytes, limits: Limits) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        names = archive.namelist()
        if "xl/workbook.xml" not in names:
            raise TableError("无法读取表格：只支持 XLSX、XLS 和 CSV（不是 Excel 工作簿）")
        sheets = _worksheets(archive, limits) | {name for name in names
                                                 if name.startswith("xl/worksheets/") and name.endswith(".xml")}
        unpacked = 0
        for info in archive.infolist():
            if info.file_size > limits.unpacked - unpacked:
                raise TableTooLarge(f"文件解压后过大：最多 {limits.unpacked // (1024 * 1024)} MB")
            with archive.open(info) as member:  # read through: zipfile checks sizes and CRC
                if info.filename in sheets:
                    unpacked += _scan_sheet(member, limits, limits.unpacked - unpacked)
                else:
                    while chunk := member.read(_CHUNK):
                        unpacked += len(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError,
            ValueError) as error:
        raise TableError("无法读取 Excel 文件：文件已损坏或不是工作簿（支持 XLSX、XLS）") from error


def _worksheets(archive: zipfile.ZipFile, limits: Limits) -> set[str]:
    """Members the workbook names as worksheets (calamine follows these relationships)."""
    try:
        info = archive.getinfo("xl/_rels/workbook.xml.rels")
    except KeyError:
        return set()
    if info.file_size > limits.unpacked:
        raise TableTooLarge(f"文件解压后过大：最多 {limits.unpacked // (1024 * 1024)} MB")
    sheets = set()
    for match in _RELATIONSHIP.finditer(archive.read(info)):
        attributes = {key: value for key, _, value in _TYPE_TARGET.findall(match[1])}
        target = attributes.get(b"Target", b"").decode(errors="replace")
        if attributes.get(b"Type", b"").endswith(b"/worksheet") and target:
            sheets.add(target.lstrip("/") if target.startswith("/") else f"xl/{target}")
    return sheets


def _scan_sheet(member: Any, limits: Limits, budget: int) -> int:
    """Declared dimension and real extent of a worksheet's XML, read in chunks; returns its size."""
    size = rows = columns = cells = row = column = 0
    tail = b""
    while chunk := member.read(_CHUNK):
        size += len(chunk)
        if size > budget:
            raise TableTooLarge(f"文件解压后过大：最多 {limits.unpacked // (1024 * 1024)} MB")
        text = tail + chunk
        cut = text.rfind(b"<")
        text, tail = text[:cut], text[cut:]
        if len(tail) > _MAX_TAG + _CHUNK:
            raise TableError("无法读取 Excel 文件：工作表内容异常")
        if (fast := _scan_plain(text)) is not None:
            found, highest_row, highest_column, last = fast
            cells, rows, columns = cells + found, max(rows, highest_row), max(columns, highest_column)
            row, column = last or (row, column)
        else:
            for tag, attributes in _TAG.findall(text):
                if tag == b"c":
                    cells += 1
                    if (ref := _reference(attributes, b"r")) is not None:
                        row, column = _cell_ref(ref)
                    else:
                        column += 1
                elif tag == b"row":
                    ref = _reference(attributes, b"r")
                    if ref is not None and not ref.isdigit():
                        raise TableError("无法读取 Excel 文件：行号无效")
                    row, column = (int(ref) if ref is not None else row + 1), 0
                elif (ref := _reference(attributes, b"ref")) is not None:  # as the writer declared it
                    corners = [_cell_ref(part) for part in ref.split(b":")]
                    _refuse_extent(max(r for r, _ in corners), max(c for _, c in corners), 0, limits)
                    continue
                if row > rows:
                    rows = row
                if column > columns:
                    columns = column
        _refuse_extent(rows, columns, cells, limits)
    return size


def _scan_plain(text: bytes) -> tuple[int, int, int, tuple[int, int] | None] | None:
    """The usual worksheet, where every cell names its place first (r="B2"), read with a few
    C-speed searches: (cells, highest row, highest column, the last cell's place). None when
    anything is unusual (a '>' inside an attribute, a declared dimension, a cell without a
    plain reference), for the tag-by-tag reading."""
    if b"dimension" in text or _HIDDEN_BRACKET.search(text) or _PREFIXED_CELL.search(text):
        return None
    plain = _PLAIN_CELL.findall(text)
    if len(plain) != sum(text.count(b"<c" + end) for end in (b" ", b"\t", b"\n", b"\r", b"/", b">")):
        return None
    row_numbers = [int(number) for number in _ROW_NUMBER.findall(text)]
    cell_rows = [int(number) for _, number in plain]
    highest_row = max(cell_rows + row_numbers, default=0)
    highest_column = max(map(_column, {letters for letters, _ in plain}), default=0)
    last = (cell_rows[-1], _column(plain[-1][0])) if plain else None
    return len(plain), highest_row, highest_column, last


# -- XLS (BIFF in an OLE compound file) --------------------------------------------------------

_BOF, _DIMENSIONS, _MULRK, _MULBLANK = 0x0809, 0x0200, 0x00BD, 0x00BE
_CELLS = {0x0006, 0x00FD, 0x0203, 0x027E, 0x0201, 0x0205, 0x0204, 0x00D6}  # row, column come first


def _check_xls(content: bytes, limits: Limits) -> None:
    """calamine parses every sheet of an XLS when it opens it, so every sheet is checked."""
    import olefile

    try:
        with olefile.OleFileIO(io.BytesIO(content)) as ole:
            stream = next((name for name in ("Workbook", "Book") if ole.exists(name)), None)
            data = ole.openstream(stream).read(limits.unpacked + 1) if stream else b""
    except Exception as error:  # a damaged compound file fails in many ways, all of them malformed
        raise TableError("无法读取 Excel 文件：文件已损坏或不是工作簿（支持 XLSX、XLS）") from error
    if not data:
        raise TableError("无法读取 Excel 文件：不是 XLS 工作簿")
    if len(data) > limits.unpacked:
        raise TableTooLarge(f"文件解压后过大：最多 {limits.unpacked // (1024 * 1024)} MB")
    position = rows = columns = cells = 0
    while position + 4 <= len(data):
        kind, length = struct.unpack_from("<HH", data, position)
        body = data[position + 4:position + 4 + length]
        position += 4 + length
        if kind == _BOF:
            _refuse_extent(rows, columns, cells, limits)
            rows = columns = cells = 0
        elif kind == _DIMENSIONS and length >= 14:  # BIFF8: first row, last row + 1 (32 bit), columns
            _, last_row, _, last_column = struct.unpack_from("<IIHH", body)
            _refuse_extent(last_row, last_column, 0, limits)
        elif kind in _CELLS and length >= 4:
            row, column = struct.unpack_from("<HH", body)
            rows, columns, cells = max(rows, row + 1), max(columns, column + 1), cells + 1
        elif kind in (_MULRK, _MULBLANK) and length >= 6:
            row, first = struct.unpack_from("<HH", body)
            (last,) = struct.unpack_from("<H", body, length - 2)
            rows, columns, cells = max(rows, row + 1), max(columns, last + 1), cells + max(last - first + 1, 0)
    _refuse_extent(rows, columns, cells, limits)


def _workbook_rows(content: bytes, limits: Limits) -> Iterator[list[str]]:
    # calamine reads a 30,000-row workbook in about 0.5 s; openpyxl took 9 s
    from python_calamine import CalamineWorkbook

    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0)
    except Exception as error:  # calamine raises its own types for every kind of damage
        raise TableError("无法读取 Excel 文件：文件已损坏或不是工作簿（支持 XLSX、XLS）") from error
    _refuse_extent(sheet.height, sheet.width, 0, limits)  # what calamine built, should the scan have missed it
    return ([_text(value) for value in cells] for cells in sheet.iter_rows())


def _text(value: Any) -> str:
    """Cells as text; Excel keeps licence numbers as floats (430102100001.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# -- CSV ---------------------------------------------------------------------------------------

def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030, a superset of what Excel writes as GBK."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return content.decode("gb18030")
        except UnicodeDecodeError as error:
            raise TableError("文件编码无法识别：请另存为 UTF-8 或 GBK 编码的 CSV，或 XLSX") from error


def _csv_rows(content: bytes, limits: Limits) -> Iterator[list[str]]:
    text = _decode(content)
    # every field ends at a comma or a line break, so this bounds the cells whatever the quoting
    if text.count(",") + text.count("\n") + 1 > limits.cells:
        raise TableTooLarge(f"表格过大：最多 {limits.cells} 格，请分批导入")
    return _csv_records(text, limits)


def _csv_records(text: str, limits: Limits) -> Iterator[list[str]]:
    rows = 0
    try:
        for cells in csv.reader(io.StringIO(text, newline="")):
            if len(cells) > limits.columns:
                raise TableTooLarge(f"表格列数过多：最多 {limits.columns} 列")
            rows += bool(cells)
            if rows > limits.rows + 1:
                raise TableTooLarge(f"表格过大：最多 {limits.rows} 行（不含表头）")
            yield [cell.strip() for cell in cells]
    except csv.Error as error:
        raise TableError(f"无法读取 CSV 文件：{error}") from error


# -- exports -----------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell that Excel or WPS would run as a formula, made plain text (OWASP CSV injection).

    Text starting with = + - @ tab or carriage return gets a leading single quote; numbers and
    the lone '-' that stands for "none" are left as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and value != "-":
        return "'" + value
    return value


MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def write_table(rows: Iterable[list[Any]], format: str, title: str = "Sheet1") -> bytes:
    """An export as CSV (UTF-8 with BOM, so Excel on Chinese Windows opens it) or XLSX.

    In CSV a cell `safe_cell` changes gets its quote; in XLSX it is written as a text cell
    with Excel's quote prefix instead, so it reads back exactly and is never evaluated."""
    if format == "csv":
        text = io.StringIO()
        csv.writer(text).writerows([safe_cell(value) for value in row] for row in rows)
        return text.getvalue().encode("utf-8-sig")
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, str):  # control characters XLSX cannot hold (a stored name may have one)
                value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
            cell = WriteOnlyCell(sheet, value)
            if safe_cell(value) is not value:
                cell.data_type, cell.quotePrefix = "s", True
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
