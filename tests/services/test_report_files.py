"""Report files (bot/services/report_files.py): every document is written, then read back as a reader would
(openpyxl with data_only, which sees only the cached values of formulas, and the csv module)."""

from __future__ import annotations

import csv
import io
import os
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.services import report_files
from bot.services.report_files import (
    Column,
    Document,
    Sheet,
    csv_chunks,
    sheet_name,
    write_xlsx,
    xlsx_chunks,
)

TITLE = "2026年11月 员工月度考评"
PERIOD = "统计期间：2026-11-01 至 2026-11-30"
NOTE = "按时兑现率 = 按时兑现的承诺数 ÷ 到期的承诺数；用时按工作时间计（分钟）"
TICKET_URL = "https://service.example.cn/console/tickets/12"
INJECTIONS = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+86 138", "-2+3", "@SUM(A1)", "=1+1"]

COLUMNS = (
    Column("员工"),
    Column("工单数", "int", "sum"),
    Column("按时兑现率", "percent", "mean"),
    Column("平均用时（分钟）", "minutes", "mean"),
    Column("金额", "number", "sum"),
    Column("首次日期", "date"),
    Column("最后处理", "datetime"),
    Column("工单", "link"),
)
ROWS = [
    ["张三", 3, 0.875, 12.25, 10.5, date(2026, 11, 2), datetime(2026, 11, 23, 2, 0, tzinfo=UTC), ("#12", TICKET_URL)],
    ["李四", 5, 0.5, None, 1, date(2026, 11, 3), datetime(2026, 11, 30, 16, 30, tzinfo=UTC), ("#13", "/relative")],
    ["王五", 0, 1.0, 30.0, 0.25, None, None, None],
]


def document(*sheets: Sheet, **options) -> Document:
    return Document(title=TITLE, period=PERIOD, sheets=sheets, **options)


def staff_sheet(rows: Sequence[Sequence[object]] = ROWS, **options) -> Sheet:
    return Sheet(name=options.pop("name", "员工考评"), columns=COLUMNS, rows=iter(rows), note=NOTE, **options)


def workbook_of(doc: Document, data_only: bool = True):
    out = io.BytesIO()
    write_xlsx(doc, out)
    return load_workbook(io.BytesIO(out.getvalue()), data_only=data_only)


def values(sheet: Worksheet) -> list[list[object]]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def csv_rows(sheet: Sheet, **options) -> list[list[str]]:
    data = b"".join(csv_chunks(sheet, **options))
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, or Excel shows mojibake"
    text = data[3:].decode("utf-8")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text, newline="")))


# ---------------------------------------------------------------------------------------------- XLSX


def test_the_layout_title_period_note_header_rows_and_the_total_row():
    sheet = workbook_of(document(staff_sheet())).worksheets[0]
    rows = values(sheet)
    assert rows[0][0] == TITLE and "A1:H1" in {str(merged) for merged in sheet.merged_cells.ranges}
    assert sheet["A1"].font.b and sheet["A1"].alignment.horizontal == "center"
    assert rows[1][0] == PERIOD
    assert rows[2][0] == NOTE
    assert rows[3] == [column.header for column in COLUMNS]
    assert sheet["A4"].font.b and sheet["A4"].fill.fgColor.rgb not in (None, "00000000")
    assert sheet.freeze_panes == "A5"
    assert sheet.auto_filter.ref == "A4:H7"

    assert rows[4][:5] == ["张三", 3, 0.875, 12.25, 10.5]
    assert rows[5][:5] == ["李四", 5, 0.5, None, 1]
    total = rows[7]
    assert total[0] == "合计"
    assert total[1] == 8                                 # sum
    assert total[2] == pytest.approx((0.875 + 0.5 + 1.0) / 3)  # the rows' mean rate, not weighted
    assert total[3] == pytest.approx((12.25 + 30.0) / 2)     # blank cells are not counted
    assert total[4] == pytest.approx(11.75)
    assert total[5:] == [None, None, None]
    assert len(rows) == 8


def test_the_totals_are_subtotal_formulas_so_a_filter_narrows_them():
    sheet = workbook_of(document(staff_sheet()), data_only=False).worksheets[0]
    assert sheet["B8"].value == "=SUBTOTAL(109,B5:B7)"
    assert sheet["C8"].value == "=SUBTOTAL(101,C5:C7)"
    assert sheet["D8"].value == "=SUBTOTAL(101,D5:D7)"
    assert sheet["E8"].value == "=SUBTOTAL(109,E5:E7)"


def test_number_formats_by_kind():
    sheet = workbook_of(document(staff_sheet())).worksheets[0]
    assert sheet["B5"].number_format == "0"
    assert "%" in sheet["C5"].number_format and "%" in sheet["C8"].number_format
    assert sheet["C5"].number_format == "0.0%"
    assert sheet["D5"].number_format == "0.0"
    assert sheet["E5"].number_format == "0.00"
    assert sheet["F5"].number_format == "yyyy-mm-dd"
    assert sheet["G5"].number_format == "yyyy-mm-dd hh:mm"


def test_dates_and_aware_datetimes_are_shown_in_local_time():
    sheet = workbook_of(document(staff_sheet())).worksheets[0]
    assert sheet["F5"].value == datetime(2026, 11, 2)
    assert sheet["G5"].value == datetime(2026, 11, 23, 10, 0)   # 02:00 UTC is 10:00 in Shanghai
    assert sheet["G6"].value == datetime(2026, 12, 1, 0, 30)    # and the next day there
    utc = workbook_of(document(staff_sheet(), tz=ZoneInfo("UTC"))).worksheets[0]
    assert utc["G5"].value == datetime(2026, 11, 23, 2, 0)


def test_a_link_cell_is_a_hyperlink_showing_its_text():
    sheet = workbook_of(document(staff_sheet())).worksheets[0]
    assert sheet["H5"].value == "#12"
    assert sheet["H5"].hyperlink is not None and sheet["H5"].hyperlink.target == TICKET_URL
    assert sheet["H6"].value == "#13" and sheet["H6"].hyperlink is None  # not an absolute URL: text only


def test_text_that_starts_like_a_formula_stays_text():
    rows = [[text, 1, None, None, None, None, None, (text, TICKET_URL)] for text in INJECTIONS]
    formulas = workbook_of(document(staff_sheet(rows)), data_only=False).worksheets[0]
    for index, text in enumerate(INJECTIONS, start=5):
        cell = formulas.cell(index, 1)
        assert cell.value == text and cell.data_type == "s", text
        assert cell.quotePrefix, "Excel's quote prefix keeps it text even when the cell is edited"
        assert formulas.cell(index, 8).value == text and formulas.cell(index, 8).data_type == "s"
    out = io.BytesIO()
    write_xlsx(document(staff_sheet(rows)), out)
    with zipfile.ZipFile(out) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert xml.count("<f>") == 2 and "HYPERLINK" not in xml.split("<f>", 1)[1]  # the two totals only


def test_an_empty_sheet_has_its_header_and_a_total_row_of_zeros():
    empty = Sheet(name="空表", columns=COLUMNS, rows=iter(()))
    sheet = workbook_of(document(empty)).worksheets[0]
    rows = values(sheet)
    assert rows[2] == [column.header for column in COLUMNS]  # no note: the header is the third row
    assert rows[3][:5] == ["合计", 0, 0, 0, 0]
    assert len(rows) == 4
    assert sheet.freeze_panes == "A4"


def test_a_mean_over_only_blank_cells_is_zero_not_a_division_error():
    rows = [["张三", 1, None, None, None, None, None, None]]
    sheet = workbook_of(document(staff_sheet(rows)), data_only=False).worksheets[0]
    assert sheet["C6"].value == 0 and sheet["B6"].value == "=SUBTOTAL(109,B5)"


def test_sheet_names_follow_excels_rules_and_stay_distinct():
    long = "满意度[按片区]:芙蓉区/天心区*岳麓区?开福区\\雨花区望城区长沙县浏阳市宁乡市"
    book = workbook_of(document(Sheet(name=long, columns=COLUMNS[:2], rows=[]),
                                Sheet(name=long, columns=COLUMNS[:2], rows=[]),
                                Sheet(name="", columns=COLUMNS[:2], rows=[])))
    first, second, third = book.sheetnames
    assert len(first) <= 31 and not set("[]:*?/\\") & set(first) and first.startswith("满意度按片区芙蓉区天心区")
    assert second != first and len(second) <= 31 and second.endswith("(2)")
    assert third
    assert sheet_name("History") != "History"
    assert sheet_name("'引号'") == "引号"


def test_several_sheets_one_per_view_each_with_the_title():
    book = workbook_of(document(staff_sheet(name="承诺兑现"), staff_sheet(name="满意度")))
    assert book.sheetnames == ["承诺兑现", "满意度"]
    assert all(sheet["A1"].value == TITLE for sheet in book.worksheets)


def test_a_plain_document_has_no_print_setup_and_no_signatures():
    sheet = workbook_of(document(staff_sheet(), signatures=("考评人：",))).worksheets[0]
    assert sheet.page_setup.paperSize is None
    assert "考评人：" not in [value for row in values(sheet) for value in row]


def test_a_printable_document_is_set_up_for_a4_and_signed_under_the_last_table():
    narrow = Sheet(name="汇总", columns=COLUMNS[:3], rows=iter([ROWS[0][:3], ROWS[1][:3]]))
    doc = document(staff_sheet(), narrow, printable=True, signatures=("考评人：", "审核人：", "日期："))
    wide, last = workbook_of(doc).worksheets
    for sheet, orientation, header in ((wide, "landscape", 4), (last, "portrait", 3)):
        setup = sheet.page_setup
        assert setup.paperSize == 9  # A4
        assert setup.orientation == orientation
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert (setup.fitToWidth or 1) == 1   # 1 is OOXML's default, so XlsxWriter leaves the attribute out
        assert setup.fitToHeight == 0         # as many pages tall as it takes
        assert sheet.print_title_rows == f"${header}:${header}"
        assert "第 &P 页，共 &N 页" in sheet.oddFooter.center.text
        assert sheet.print_options.horizontalCentered

    signed = values(last)
    assert signed[5][0] == "合计"
    assert signed[7] == ["考评人：", "审核人：", "日期："]  # a blank row, then the signatures
    assert all("考评人：" not in row for row in values(wide))


def test_signatures_on_a_narrow_table_get_a_row_each():
    narrow = Sheet(name="汇总", columns=COLUMNS[:2], rows=[])
    rows = values(workbook_of(document(narrow, printable=True, signatures=("考评人：", "审核人：", "日期："))).active)
    assert [row[0] for row in rows[-3:]] == ["考评人：", "审核人：", "日期："]


def test_control_characters_are_replaced_and_an_overlong_text_is_cut_to_excels_limit():
    rows = [["好邻居\x01便利店", None, None, None, None, None, None, None], ["长" * 40_000]]
    sheet = workbook_of(document(staff_sheet(rows))).worksheets[0]
    assert sheet["A5"].value == "好邻居\ufffd便利店"
    assert len(sheet["A6"].value) == 32_767


def test_a_row_longer_than_the_columns_is_refused():
    with pytest.raises(ValueError, match="values for 8 columns"):
        write_xlsx(document(staff_sheet([[*ROWS[0], "多余"]])), io.BytesIO())


def counted(count: int) -> Iterator[list[object]]:
    """Rows made one at a time (a generator, so taking its len() or indexing it would fail)."""
    for index in range(count):
        yield [f"零售户{index}", index % 7, (index % 100) / 100, index % 50 + 0.5, 1.25,
               date(2026, 11, 1 + index % 30), datetime(2026, 11, 1, tzinfo=UTC), (f"#{index}", TICKET_URL)]


def test_twenty_thousand_rows_from_a_generator():
    rows = counted(20_000)
    out = io.BytesIO()
    write_xlsx(document(Sheet(name="明细", columns=COLUMNS, rows=rows)), out)
    assert next(rows, None) is None, "the generator was consumed"
    book = load_workbook(out, data_only=True, read_only=True)  # a full load takes seconds over 20,000 links
    written = list(book.active.iter_rows(values_only=True))
    assert len(written) == 3 + 20_000 + 1
    assert written[3][0] == "零售户0" and written[-2][0] == "零售户19999"
    total = written[-1]
    assert total[0] == "合计"
    assert total[1] == sum(index % 7 for index in range(20_000))
    assert total[4] == pytest.approx(1.25 * 20_000)


# ---------------------------------------------------------------------------------------------- chunks


def test_xlsx_chunks_stream_the_same_workbook_and_leave_no_temporary_file(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    chunks = list(xlsx_chunks(document(Sheet(name="明细", columns=COLUMNS, rows=counted(3_000))), chunk_size=4096))
    assert len(chunks) > 1 and all(len(chunk) <= 4096 for chunk in chunks)
    book = load_workbook(io.BytesIO(b"".join(chunks)), data_only=True)
    assert book.active.max_row == 3 + 3_000 + 1
    assert os.listdir(tmp_path) == []


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_an_abandoned_download_on_disk_leaves_no_file_and_no_descriptor_open(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(report_files, "_SPOOL_BYTES", 16 * 1024)  # so the workbook goes to disk
    before = open_files()
    chunks = xlsx_chunks(document(Sheet(name="明细", columns=COLUMNS, rows=counted(2_000))), chunk_size=1024)
    assert next(chunks).startswith(b"PK")
    assert open_files() == before + 1  # the spooled workbook, on disk and nameless
    chunks.close()  # the client went away
    assert open_files() == before
    assert os.listdir(tmp_path) == []


def test_a_failure_while_writing_propagates_and_leaves_no_temporary_file(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def failing() -> Iterator[list[object]]:
        yield from counted(500)
        raise RuntimeError("数据库连接断开")

    before = open_files()
    with pytest.raises(RuntimeError, match="数据库连接断开"):
        list(xlsx_chunks(document(Sheet(name="明细", columns=COLUMNS, rows=failing()))))
    assert os.listdir(tmp_path) == []
    assert open_files() == before


# ---------------------------------------------------------------------------------------------- CSV


def test_csv_header_values_formatted_like_the_sheet():
    lines = csv_rows(staff_sheet())
    assert lines[0] == [column.header for column in COLUMNS]
    assert lines[1] == ["张三", "3", "87.5%", "12.3", "10.50", "2026-11-02", "2026-11-23 10:00", "#12"]
    assert lines[2] == ["李四", "5", "50.0%", "", "1.00", "2026-11-03", "2026-12-01 00:30", "#13"]
    assert lines[3] == ["王五", "0", "100.0%", "30.0", "0.25", "", "", ""]
    assert len(lines) == 4  # no 合计 line


def test_csv_datetimes_in_the_time_zone_given():
    lines = csv_rows(staff_sheet(), tz=ZoneInfo("UTC"))
    assert lines[1][6] == "2026-11-23 02:00"


def test_csv_quotes_what_needs_quoting_and_defuses_formulas():
    rows = [[text, -3, -0.25, None, None, None, None, (text, TICKET_URL)] for text in INJECTIONS]
    rows.append(['他说："扫码枪，坏了"\r\n第二行', 1, None, None, None, None, None, None])
    lines = csv_rows(staff_sheet(rows))
    for line, text in zip(lines[1:], INJECTIONS, strict=False):
        assert line[0] == "'" + text and line[7] == "'" + text
        assert line[1] == "-3" and line[2] == "-25.0%"  # negative numbers are numbers, not formulas
    assert lines[-1][0] == '他说："扫码枪，坏了"\r\n第二行'


def test_csv_of_an_empty_sheet_is_the_header_alone():
    assert csv_rows(Sheet(name="空", columns=COLUMNS, rows=iter(()))) == [[column.header for column in COLUMNS]]


def test_csv_comes_in_batches_from_a_generator():
    rows = counted(20_000)
    chunks = csv_chunks(Sheet(name="明细", columns=COLUMNS, rows=rows))
    first = next(chunks)
    assert next(rows, None) is not None, "the first batch came before all the rows were read"
    rest = list(chunks)
    assert len(rest) > 5
    lines = list(csv.reader(io.StringIO((first + b"".join(rest)).decode("utf-8-sig"), newline="")))
    assert len(lines) == 1 + 19_999  # the header, and the rows but the one the test took above
