"""Loading the customer export: all rows valid or nothing changes."""

import io
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlmodel import select

from bot.models import Retailer, RetailerChange, Role
from bot.policy import DirectoryPolicy, Policies
from bot.services.retailer_import import import_retailers
from bot.services.spreadsheets import TableError
from tests import factories as make

TZ = ZoneInfo("Asia/Shanghai")

HEADER = ["许可证号", "客户编码", "客户名称", "经营者", "联系电话", "经营地址", "业态", "档位", "客户经理",
          "订货日", "送货日", "拜访周期", "市场部"]


def row(license_no, name="便民店", grade="12", manager="刘经理", phone="13912345678", kind="便利店"):
    return [license_no, "C" + license_no[-4:], name, "王老板", phone, "芙蓉路1号", kind, grade, manager,
            "周二", "周三", "每周", "芙蓉区"]


def csv_bytes(rows, encoding="utf-8", header=HEADER):
    text = "\r\n".join(",".join(cells) for cells in [header, *rows]) + "\r\n"
    return text.encode(encoding)


def xlsx_bytes(rows, header=HEADER, numeric_licences=False):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for cells in rows:
        cells = list(cells)
        if numeric_licences:
            cells[0] = float(cells[0])  # as Excel stores a long number typed into a cell
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def manager(session, clock):
    member = make.staff(session, clock, Role.MANAGER, name="刘经理")
    return member.id


_DEFAULT_POLICY = DirectoryPolicy()


@pytest.fixture
def load(session, clock, manager):
    def run(content, filename="客户.csv", dry_run=False, full=False, policy=_DEFAULT_POLICY):
        report = import_retailers(session, content, filename, policies=Policies(directory=policy), tz=TZ,
                                  dry_run=dry_run, full=full, staff_id=None, now=clock.now())
        session.commit()
        return report

    return run


def retailers(session):
    return {r.license_no: r for r in session.exec(select(Retailer))}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_encoding_excel_writes(load, session, manager, encoding):
    report = load(csv_bytes([row("430102100001"), row("430102100002", name="好邻居超市")], encoding))
    assert report.applied and report.created == 2 and not report.errors
    stored = retailers(session)
    assert stored["430102100002"].store_name == "好邻居超市"
    assert stored["430102100001"].manager_id == manager and stored["430102100001"].grade == 12
    assert stored["430102100001"].ordering_day == "周二"


def test_xlsx_with_licences_stored_as_numbers(load, session):
    report = load(xlsx_bytes([row("430102100001"), row("430102100002")], numeric_licences=True), "客户.xlsx")
    assert report.created == 2
    assert set(retailers(session)) == {"430102100001", "430102100002"}


def test_header_variants_are_recognised_and_unknown_columns_listed(load, session):
    header = ["专卖许可证号", "店名", "负责人", "手机", "档级", "片区", "备注", "积分"]
    content = csv_bytes([["430102100001", "老街烟酒", "李四", "13800001111", "8档", "雨花区", "无", "3"]],
                        header=header)
    report = load(content)
    assert report.unknown_columns == ["备注", "积分"]
    shop = retailers(session)["430102100001"]
    assert (shop.store_name, shop.owner_name, shop.grade, shop.district) == ("老街烟酒", "李四", 8, "雨花区")


def test_every_bad_row_is_reported_and_nothing_is_written(load, session):
    rows = [
        row("430102100001"),
        row(""),                                     # 3: missing licence
        row("430102100001", name="重复"),             # 4: duplicate of row 2
        row("430102100004", grade="31"),             # 5: grade out of range
        row("430102100005", kind="加油站"),           # 6: unknown business type
        row("430102100006", manager="张三"),          # 7: not on staff
        row("430102100007", phone="12345"),          # 8: malformed phone
    ]
    report = load(csv_bytes(rows))
    assert not report.applied
    found = {(e.row, e.column) for e in report.errors}
    assert found == {(3, "许可证号"), (4, "许可证号"), (5, "档位"), (6, "业态"), (7, "客户经理"), (8, "联系电话")}
    assert "第 2 行" in next(e.message for e in report.errors if e.row == 4)
    assert retailers(session) == {}


def test_a_missing_required_column_is_reported_on_the_header(load, session):
    report = load(csv_bytes([["430102100001"]], header=["许可证号"]))
    assert [(e.row, e.column) for e in report.errors] == [(1, "表头")]
    assert "客户名称" in report.errors[0].message


def test_a_dry_run_reports_and_changes_nothing(load, session):
    load(csv_bytes([row("430102100001"), row("430102100002")]))
    report = load(csv_bytes([row("430102100001"), row("430102100002", grade="20"), row("430102100003")]),
                  dry_run=True)
    assert (report.created, report.updated, report.unchanged, report.applied) == (1, 1, 1, False)
    assert [(c.license_no, c.action, c.fields) for c in report.changes if c.action == "update"] == [
        ("430102100002", "update", ["grade"])]
    assert retailers(session)["430102100002"].grade == 12 and "430102100003" not in retailers(session)


def test_upserts_keep_history_and_a_full_import_deactivates_the_absent(load, session, clock, manager):
    load(csv_bytes([row("430102100001"), row("430102100002"), row("430102100003")]))
    other = make.staff(session, clock, Role.MANAGER, name="陈经理")
    clock.advance(days=1)
    report = load(csv_bytes([row("430102100001", grade="13"), row("430102100002", manager="陈经理")]), full=True)
    assert (report.updated, report.deactivated) == (2, 1)
    stored = retailers(session)
    assert stored["430102100003"].active is False  # kept, not deleted
    assert stored["430102100002"].manager_id == other.id
    changes = {(c.field, c.old_value, c.new_value) for c in session.exec(select(RetailerChange))}
    assert changes == {("grade", "12", "13"), ("manager_id", str(manager), str(other.id))}
    again = load(csv_bytes([row("430102100001", grade="13"), row("430102100002", manager="陈经理"),
                            row("430102100003")]))
    assert again.updated == 1 and retailers(session)["430102100003"].active is True


def test_managers_with_the_same_name_must_be_given_by_work_number(load, session, clock):
    make.staff(session, clock, Role.MANAGER, name="刘经理")  # a second 刘经理
    report = load(csv_bytes([row("430102100001")]))
    assert "工号" in report.errors[0].message


@pytest.mark.parametrize(("content", "filename"), [
    (b"", "empty.csv"), (b"PK\x03\x04 not really a workbook", "broken.xlsx"), (b"\xff\xfe\x00\xd8" * 20, "x.csv"),
])
def test_unreadable_files_get_a_clear_error(load, content, filename):
    with pytest.raises(TableError):
        load(content, filename)


def test_business_types_are_stored_by_their_canonical_name(load, session):
    rows = [row("430102100001", kind="烟酒店"), row("430102100002", kind=" ktv "), row("430102100003", kind="超市")]
    assert load(csv_bytes(rows)).created == 3
    assert {r.license_no: r.business_type for r in retailers(session).values()} == {
        "430102100001": "烟酒商店", "430102100002": "娱乐服务类", "430102100003": "超市"}


def test_the_policy_adds_header_spellings_and_business_types(load, session):
    policy = DirectoryPolicy(header_aliases={"license_no": ["证号"], "grade": ["星级"]},
                             business_types={"批发部": ["二批"]})
    content = csv_bytes([["430102100001", "甲店", "二批", "7"]], header=["证号", "户名", "业态", "星级"])
    assert [e.message for e in load(content, policy=policy).errors] == ["缺少必需的列：客户名称"]
    content = csv_bytes([["430102100001", "甲店", "二批", "7"]], header=["证号", "店名", "业态", "星级"])
    report = load(content, policy=policy)
    assert report.created == 1 and not report.unknown_columns
    shop = retailers(session)["430102100001"]
    assert (shop.business_type, shop.grade) == ("批发部", 7)


def test_a_manager_problem_is_reported_with_the_rows_other_problems(load, session):
    report = load(csv_bytes([row("430102100001", grade="99", manager="张三")]))
    assert {(e.row, e.column) for e in report.errors} == {(2, "档位"), (2, "客户经理")}


def test_an_import_that_changes_the_manager_moves_the_open_visit_and_tells_the_new_one(session, clock, runtime, load,
                                                                                        manager):
    from bot.models import ChatBinding, OutboxMessage, Pledge
    from bot.services import staff as staff_service

    new = staff_service.create_staff(session, {"name": "陈经理", "work_no": "KM002", "roles": [Role.MANAGER],
                                               "chat_user_id": "60002"}, now=clock.now())
    session.commit()
    load("许可证号,客户名称,客户经理\n430102100001,甲店,刘经理\n".encode())
    shop = session.exec(select(Retailer)).one()
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    make.group(session, clock)
    make.post(session, clock, runtime.settings, "我要投诉送货员", policies=runtime.policies)  # a visit by rule
    load("许可证号,客户名称,客户经理\n430102100001,甲店,KM002\n".encode())
    visit = session.exec(select(Pledge).where(Pledge.kind == "visit")).one()
    assert visit.owner_staff_id == new.id
    [task] = session.exec(select(OutboxMessage.text).where(OutboxMessage.target_id == "60002")).all()
    assert "上门任务" in task and "甲店" in task
