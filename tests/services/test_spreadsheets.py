"""The one spreadsheet reader: every limit is checked before a grid is built, and exports are
safe to open."""

import csv
import io

import pytest
from openpyxl import load_workbook

from bot.services import spreadsheets
from bot.services.spreadsheets import Limits, TableError, TableTooLarge, read_rows, write_table
from tests.support.sheets import sheet_xml, xls, xlsx

HEADER = {"A1": "许可证号", "B1": "客户名称"}


def rows(content, filename="x.xlsx", limits=Limits()):
    return list(read_rows(content, filename, limits))


def test_a_hand_written_workbook_reads_like_any_other():
    content = xlsx(sheet_xml(HEADER | {"A2": "430102100001", "B2": "甲店"}, dimension="A1:B2"))
    assert rows(content) == [["许可证号", "客户名称"], ["430102100001", "甲店"]]


@pytest.mark.parametrize(("far", "message"), [
    ("XFD1048576", "最多 100000 行"),        # 1.6 KB that asked calamine for 512 GiB
    ("ZZ100000", "列数过多：最多 200 列"),     # 2.9 GB and 18 s
    ("A100002", "最多 100000 行"),
    ("GR20000", "行数×列数最多 3000000 格"),  # 200 columns × 20,000 rows, each within its own limit
])
def test_cells_far_apart_are_refused_before_the_grid_is_built(far, message):
    content = xlsx(sheet_xml({"A1": "许可证号", far: "x"}))
    assert len(content) < 2000
    with pytest.raises(TableTooLarge, match=message):
        rows(content)


def test_a_declared_dimension_beyond_the_limits_is_refused():
    with pytest.raises(TableTooLarge, match="最多 100000 行"):
        rows(xlsx(sheet_xml(HEADER, dimension="A1:XFD1048576")))
    content = xlsx(sheet_xml(HEADER, dimension="A1:ZZ2"))
    with pytest.raises(TableTooLarge, match="列数过多"):
        rows(content)


def test_cells_without_references_are_counted_where_they_fall():
    cells = "".join(f"<c><v>{n}</v></c>" for n in range(250))
    sheet = sheet_xml({}).replace("<sheetData></sheetData>", f"<sheetData><row>{cells}</row></sheetData>")
    with pytest.raises(TableTooLarge, match="列数过多"):
        rows(xlsx(sheet))


@pytest.mark.parametrize("cell", ['<c a=">" r="XFD1"/>', "<x:c r='XFD1'/>", '<c\n r="XFD1" t="s"/>'])
def test_a_cell_cannot_hide_its_place_from_the_scan(cell):
    sheet = sheet_xml(HEADER).replace("</row>", f"{cell}</row>")
    with pytest.raises(TableTooLarge, match="列数过多"):
        rows(xlsx(sheet))


def test_a_cell_with_two_places_is_malformed():
    sheet = sheet_xml(HEADER).replace("</row>", '<c r="C1" r="XFD1"/></row>')
    with pytest.raises(TableError, match="单元格位置重复"):
        rows(xlsx(sheet))


def test_a_worksheet_wherever_the_workbook_puts_it_is_checked():
    content = xlsx(sheet_xml({"A1": "x", "XFD1": "y"}), target="elsewhere/data.xml")
    with pytest.raises(TableTooLarge):
        rows(content)


def test_a_zip_bomb_is_refused_by_its_unpacked_size():
    content = xlsx(sheet_xml(HEADER), extra={"xl/sharedStrings.xml": 3 << 20})
    assert len(content) < 100_000
    with pytest.raises(TableTooLarge, match="文件解压后过大：最多 2 MB"):
        rows(content, limits=Limits(unpacked=2 << 20))


def test_the_raw_size_is_checked_first():
    with pytest.raises(TableTooLarge, match="文件过大：最多 1 MB"):
        rows(b"a,b\n" * 300_000, "x.csv", Limits(bytes=1 << 20))


def test_an_old_binary_workbook_is_read():
    content = xls({(0, 0): "许可证号", (0, 1): "客户名称", (1, 0): "430102100001", (1, 1): "甲店"})
    assert rows(content, "x.xls") == [["许可证号", "客户名称"], ["430102100001", "甲店"]]


@pytest.mark.parametrize(("far", "message"), [((65535, 255), "列数过多"), ((65535, 0), "格")])
def test_an_old_binary_workbook_is_measured_before_calamine_opens_it(far, message):
    content = xls({(0, 0): "许可证号", far: "x"})  # 6 KB that cost calamine 1 GB when it opened it
    with pytest.raises(TableTooLarge, match=message):
        rows(content, "x.xls", Limits(cells=60_000))


@pytest.mark.parametrize("content", [b"PK\x03\x04 not a zip", b"\xd0\xcf\x11\xe0 not an OLE file"])
def test_damaged_workbooks_are_malformed_not_too_large(content):
    with pytest.raises(TableError) as raised:
        rows(content)
    assert not isinstance(raised.value, TableTooLarge) and "Excel" in str(raised.value)


def test_an_open_document_spreadsheet_is_refused_unread():
    content = xlsx(sheet_xml(HEADER)).replace(b"xl/workbook.xml", b"xl/workbook.xmx")
    with pytest.raises(TableError, match="只支持 XLSX、XLS 和 CSV"):
        rows(content)


def test_csv_limits():
    with pytest.raises(TableTooLarge, match="列数过多：最多 200 列"):
        rows(("a," * 200 + "a\n").encode(), "x.csv")
    with pytest.raises(TableTooLarge, match="最多 10 行"):
        rows(b"h\n" + b"v\n" * 11, "x.csv", Limits(rows=10))
    with pytest.raises(TableTooLarge, match="最多 100 格"):  # refused before a row is read
        read_rows(b",,,,,,,,,," * 10, "x.csv", Limits(cells=100))
    assert rows("许可证号,客户名称\n\n4301,甲店\n".encode("gbk"), "x.csv") == [
        ["许可证号", "客户名称"], [], ["4301", "甲店"]]


HOSTILE = ['=HYPERLINK("http://x","点我")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\t=1", "\r=1"]


def test_formula_like_text_is_exported_as_text():
    table = [["店名", "电话", "档位"], *[[text, "-", 5] for text in HOSTILE], ["好邻居", "13912345678", -1]]
    written = list(csv.reader(io.StringIO(write_table(table, "csv").decode("utf-8-sig"), newline="")))
    assert [row[0] for row in written[1:-1]] == ["'" + text for text in HOSTILE]
    assert written[-1] == ["好邻居", "13912345678", "-1"] and written[1][1] == "-"

    sheet = load_workbook(io.BytesIO(write_table(table, "xlsx"))).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    texts = [row[0].value for row in sheet.iter_rows(min_row=2, max_row=len(HOSTILE) + 1)]
    assert texts == [text.replace("\r", "\n") for text in HOSTILE]  # XML reads a lone CR as LF
    assert all(row[0].quotePrefix for row in sheet.iter_rows(min_row=2, max_row=len(HOSTILE) + 1))
    assert [cell.value for cell in sheet[len(HOSTILE) + 2]] == ["好邻居", "13912345678", -1]


def test_what_is_not_text_is_left_alone():
    assert spreadsheets.safe_cell(-1) == -1 and spreadsheets.safe_cell(None) is None
    assert spreadsheets.safe_cell("-") == "-" and spreadsheets.safe_cell("0731-8888888") == "0731-8888888"


def test_an_xlsx_export_of_a_name_with_a_control_character_is_written_not_refused():
    """A stored name may hold a character XLSX cannot (found by the fuzz test: the export answered 500)."""
    content = write_table([["客户名称"], ["好邻居\x01便利店"]], "xlsx")
    sheet = load_workbook(io.BytesIO(content)).active
    assert [cell.value for cell in sheet["A"]] == ["客户名称", "好邻居\ufffd便利店"]
