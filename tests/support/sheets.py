"""Workbooks written by hand, byte by byte, so tests can build hostile ones without the memory
they would ask of a reader: cells far apart, a false dimension, a bomb of a member."""

from __future__ import annotations

import io
import re
import zipfile
from xml.sax.saxutils import escape

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="{target}"/></Relationships>')


def sheet_xml(cells: dict[str, str], dimension: str | None = None) -> str:
    """A worksheet with text cells at the given references ({"A1": "许可证号", ...})."""
    rows: dict[int, list[str]] = {}
    for ref, value in cells.items():
        row = int(re.sub(r"[A-Z]", "", ref))
        rows.setdefault(row, []).append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>')
    data = "".join(f'<row r="{row}">{"".join(parts)}</row>' for row, parts in sorted(rows.items()))
    declared = f'<dimension ref="{dimension}"/>' if dimension else ""
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"{declared}<sheetData>{data}</sheetData></worksheet>")


def xlsx(sheet: str, *, target: str = "worksheets/sheet1.xml", extra: dict[str, int] | None = None) -> bytes:
    """A minimal workbook around one worksheet's XML; `extra` adds members of that many spaces."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS.format(target=target))
        archive.writestr(f"xl/{target}", sheet)
        for name, size in (extra or {}).items():
            with archive.open(name, "w", force_zip64=True) as member:
                for start in range(0, size, 1 << 20):
                    member.write(b" " * min(1 << 20, size - start))
    return buffer.getvalue()


def xls(cells: dict[tuple[int, int], str]) -> bytes:
    """An old binary workbook (BIFF8) with text at (row, column), both from 0."""
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Sheet1")
    for (row, column), value in cells.items():
        sheet.write(row, column, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
