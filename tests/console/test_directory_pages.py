"""The directory pages (零售户名录) over real HTTP: search and the card in each role's view, the import's
dry run and apply, territory transfer, export, bindings and the aliases; refusals that change nothing."""

import csv
import io
import re

import pytest

from tests.console.test_console_http import csrf_of, sign_in
from tests.support.fixtures import new_member, unique_number
from tests.support.service import ADMIN_TOKEN

APPLY = ">确认导入</button>"
HEADER = ["许可证号", "客户名称", "经营者", "联系电话", "业态", "档位", "客户经理", "市场部"]


def gbk_csv(rows, header=HEADER) -> bytes:
    """A customer export as Excel on Chinese Windows saves it."""
    return ("\r\n".join(",".join(cells) for cells in [header, *rows]) + "\r\n").encode("gbk")


def licence() -> str:
    return f"43011{unique_number(7_000_000)}"


def dry_run_digest(page: str) -> str:
    found = re.search(r"([0-9a-f]{64})", page)
    assert found, "a clean dry run offers 确认导入 with the checked file's digest"
    return found.group(1)


@pytest.fixture(scope="module")
def crew(admin):
    district = f"测试区{unique_number(0)}"
    first = new_member(admin, "manager")
    second = new_member(admin, "manager")
    shops = {}
    for owner, store, grade, name in ((first, "东风便利店", 12, "赵大"), (first, "湘江烟酒行", 20, "钱二"),
                                      (second, "橘洲超市", 25, "孙三")):
        made = admin.post("/api/v1/retailers", json={
            "license_no": licence(), "store_name": store, "owner_name": name, "phone": "13912345678",
            "address": "芙蓉路1号", "grade": grade, "district": district, "manager_id": owner["id"]})
        assert made.status_code == 201, made.text
        shops[store] = made.json()
    return {"district": district, "first": first, "second": second, "shops": shops,
            "supervisor": new_member(admin, "supervisor"), "agent": new_member(admin, "agent"),
            "callback": new_member(admin, "callback"), "marketer": new_member(admin, "marketing")}


def listed(page: str) -> set[str]:
    return set(re.findall(r'<td data-label="店名"><a href="/console/directory/\d+">([^<]+)</a>', page))


def test_each_role_finds_what_it_may_see(service, crew):
    district, shops = crew["district"], crew["shops"]
    with sign_in(service, crew["supervisor"]["token"]) as supervisor:
        everyone = supervisor.get("/console/directory", params={"district": district})
        assert everyone.status_code == 200 and listed(everyone.text) == set(shops)
        assert "赵大" in everyone.text and 'href="/console/directory"' in everyone.text  # owner shown; in the nav
        by = {"q": "钱二", "district": district}  # an owner's name
        assert listed(supervisor.get("/console/directory", params=by).text) == {"湘江烟酒行"}
        licence_no = shops["橘洲超市"]["license_no"]
        assert listed(supervisor.get("/console/directory", params={"q": licence_no}).text) == {"橘洲超市"}
        assert listed(supervisor.get("/console/directory", params={"district": district, "grade": "20"}).text) \
            == {"湘江烟酒行"}
        by_manager = {"district": district, "manager": crew["second"]["id"]}
        assert listed(supervisor.get("/console/directory", params=by_manager).text) == {"橘洲超市"}
    with sign_in(service, crew["first"]["token"]) as manager:
        own = manager.get("/console/directory", params={"district": district, "manager": crew["second"]["id"]})
        assert listed(own.text) == {"东风便利店", "湘江烟酒行"}  # held to their own, whatever they pick
    with sign_in(service, crew["agent"]["token"]) as agent:
        page = agent.get("/console/directory", params={"district": district})
        assert listed(page.text) == set(shops) and "赵大" not in page.text and "经营者" not in page.text
        assert listed(agent.get("/console/directory", params={"q": "钱二", "district": district}).text) == set()
        assert "导出" not in page.text and "片区移交" not in page.text
    with sign_in(service, crew["marketer"]["token"]) as marketer:
        assert marketer.get("/console/directory").status_code == 403


def test_the_card_shows_a_retailer_in_the_callers_view(service, crew):
    shop = crew["shops"]["东风便利店"]
    other = crew["shops"]["橘洲超市"]
    with sign_in(service, crew["agent"]["token"]) as agent:
        card = agent.get(f"/console/directory/{shop['id']}")
        assert card.status_code == 200 and shop["license_no"] in card.text
        assert "13912345678" not in card.text and "芙蓉路1号" not in card.text and "变更记录" not in card.text
    with sign_in(service, crew["callback"]["token"]) as caller:
        card = caller.get(f"/console/directory/{shop['id']}")
        assert 'href="tel:13912345678"' in card.text and "芙蓉路1号" not in card.text
    with sign_in(service, crew["first"]["token"]) as manager:
        assert "芙蓉路1号" in manager.get(f"/console/directory/{shop['id']}").text
        assert manager.get(f"/console/directory/{other['id']}").status_code == 404  # not theirs: not there
        assert "聊天账号绑定" not in manager.get(f"/console/directory/{shop['id']}").text
    with sign_in(service, crew["supervisor"]["token"]) as supervisor:
        assert supervisor.get("/console/directory/999999999").status_code == 404


def test_a_supervisor_transfers_a_territory_and_the_card_keeps_the_history(service, admin, crew):
    first, second = new_member(admin, "manager"), new_member(admin, "manager")
    district = f"移交区{unique_number(0)}"
    shops = [admin.post("/api/v1/retailers", json={
        "license_no": licence(), "store_name": f"移交店{n}", "district": district, "manager_id": first["id"]}).json()
        for n in range(2)]
    with sign_in(service, crew["supervisor"]["token"]) as supervisor:
        csrf = csrf_of(supervisor.get("/console/directory").text)
        form = {"csrf": csrf, "from_manager": first["id"], "to_manager": first["id"], "confirm": "1"}
        same = supervisor.post("/console/directory/transfer", data=form)
        assert same.status_code == 422 and "同一人" in same.text
        unconfirmed = supervisor.post("/console/directory/transfer", data={**form, "to_manager": second["id"],
                                                                              "confirm": ""})
        assert unconfirmed.status_code == 422 and "确认" in unconfirmed.text
        nobody = supervisor.post("/console/directory/transfer", data={**form, "to_manager": second["id"],
                                                                          "district": "没有这个片区"})
        assert nobody.status_code == 422 and "没有符合条件的零售户" in nobody.text
        not_a_manager = supervisor.post("/console/directory/transfer",
                                        data={**form, "to_manager": crew["agent"]["id"]})
        assert not_a_manager.status_code == 422 and "不是客户经理" in not_a_manager.text
        assert {r["manager_id"] for r in admin.get("/api/v1/retailers", params={
            "district": district}).json()["items"]} == {first["id"]}  # nothing moved

        moved = supervisor.post("/console/directory/transfer", data={
            **form, "to_manager": second["id"], "district": district})
        assert moved.status_code == 303
        assert "已将 2 家零售户" in supervisor.get(moved.headers["location"]).text
        assert {r["manager_id"] for r in admin.get("/api/v1/retailers", params={
            "district": district}).json()["items"]} == {second["id"]}
        card = supervisor.get(f"/console/directory/{shops[0]['id']}").text
        history = card[card.index("变更记录"):]
        assert "片区移交" in history and first["name"] in history and second["name"] in history
    with sign_in(service, crew["agent"]["token"]) as agent:
        csrf = csrf_of(agent.get("/console/directory").text)
        refused = agent.post("/console/directory/transfer", data={
            "csrf": csrf, "from_manager": second["id"], "to_manager": first["id"], "confirm": "1"})
        assert refused.status_code == 403


def test_export_gives_only_what_the_caller_sees_in_full(service, crew):
    with sign_in(service, crew["first"]["token"]) as manager:
        answer = manager.get("/console/directory/export", params={"format": "csv", "district": crew["district"]})
        assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["许可证号", "客户编码", "客户名称"]
        assert {row[2] for row in rows[1:]} == {"东风便利店", "湘江烟酒行"}
        xlsx = manager.get("/console/directory/export", params={"format": "xlsx", "district": crew["district"]})
        assert xlsx.content.startswith(b"PK")
    with sign_in(service, crew["agent"]["token"]) as agent:
        assert agent.get("/console/directory/export").status_code == 403


def test_an_admin_imports_a_gbk_file_after_a_dry_run(service, admin, crew):
    manager = crew["first"]["name"]
    fresh, known = licence(), crew["shops"]["湘江烟酒行"]
    content = gbk_csv([[fresh, "新开便民店", "周四", "13800001111", "小卖部", "8", manager, crew["district"]],
                       [known["license_no"], "湘江烟酒行", "钱二", "13912345678", "烟酒店", "22", manager,
                        crew["district"]]])
    upload = {"file": ("客户名单.csv", content, "text/csv")}
    with sign_in(service, ADMIN_TOKEN) as console:
        csrf = csrf_of(console.get("/console/directory/import").text)
        dry = console.post("/console/directory/import", data={"csrf": csrf, "mode": "check"}, files=upload)
        assert dry.status_code == 200, dry.text
        assert "试运行结果" in dry.text and "新开便民店" in dry.text and "新增" in dry.text
        changed = dry.text[dry.text.index(known["license_no"]):]
        assert "更新" in changed[:300] and "档位" in changed[:300]
        assert admin.get("/api/v1/retailers", params={"q": fresh}).json()["total"] == 0  # a dry run writes nothing
        digest = dry_run_digest(dry.text[dry.text.index(APPLY) - 400:])

        unchecked = console.post("/console/directory/import", data={"csrf": csrf, "mode": "apply"}, files=upload)
        assert unchecked.status_code == 422 and "请先试运行" in unchecked.text
        other_option = console.post("/console/directory/import",
                                    data={"csrf": csrf, "mode": "apply", "checked": digest, "full": "1"},
                                    files=upload)
        assert other_option.status_code == 422 and "请先试运行" in other_option.text
        assert admin.get("/api/v1/retailers", params={"q": fresh}).json()["total"] == 0

        applied = console.post("/console/directory/import", data={"csrf": csrf, "mode": "apply", "checked": digest},
                               files=upload)
        assert applied.status_code == 303
        assert "导入完成：新增 1 家，更新 1 家" in console.get(applied.headers["location"]).text
    [made] = admin.get("/api/v1/retailers", params={"q": fresh}).json()["items"]
    assert (made["store_name"], made["business_type"], made["grade"]) == ("新开便民店", "食杂店", 8)
    assert admin.get(f"/api/v1/retailers/{known['id']}").json()["grade"] == 22


def test_a_file_with_bad_rows_is_reported_row_by_row_and_nothing_changes(service, admin, crew):
    good, bad = licence(), licence()
    content = gbk_csv([[good, "好店", "", "", "便利店", "10", "", ""],
                       [bad, "坏店", "", "12345", "加油站", "31", "", ""]])
    with sign_in(service, ADMIN_TOKEN) as console:
        csrf = csrf_of(console.get("/console/directory/import").text)
        answer = console.post("/console/directory/import", data={"csrf": csrf, "mode": "check"},
                              files={"file": ("名单.csv", content, "text/csv")})
        assert answer.status_code == 422 and "未做任何更改" in answer.text
        problems = set(re.findall(r'<td data-label="行">第 (\d+) 行</td><td data-label="列">([^<]+)</td>',
                                  answer.text))
        assert problems == {("3", "联系电话"), ("3", "业态"), ("3", "档位")}
        assert APPLY not in answer.text  # nothing to apply
        assert admin.get("/api/v1/retailers", params={"q": good}).json()["total"] == 0

        not_a_table = console.post("/console/directory/import", data={"csrf": csrf, "mode": "check"},
                                   files={"file": ("名单.xlsx", b"not a workbook", "application/octet-stream")})
        assert not_a_table.status_code == 422 and "无法读取 Excel 文件" in not_a_table.text
        nothing = console.post("/console/directory/import", data={"csrf": csrf, "mode": "check"})
        assert nothing.status_code == 422 and "请选择要导入的文件" in nothing.text
        forged = console.post("/console/directory/import", data={"csrf": "", "mode": "check"},
                              files={"file": ("名单.csv", content, "text/csv")})
        assert forged.status_code == 403
    with sign_in(service, crew["supervisor"]["token"]) as supervisor:
        assert supervisor.get("/console/directory/import").status_code == 403
        csrf = csrf_of(supervisor.get("/console/directory").text)
        refused = supervisor.post("/console/directory/import", data={"csrf": csrf, "mode": "check"},
                                  files={"file": ("名单.csv", content, "text/csv")})
        assert refused.status_code == 403


def test_an_admin_adds_a_header_alias_the_next_import_reads_and_removes_it(service, admin, crew):
    word = f"证号{unique_number(0)}"
    content = gbk_csv([[licence(), "别名店"]], header=[word, "客户名称"])
    with sign_in(service, ADMIN_TOKEN) as console:
        page = console.get("/console/directory/aliases")
        assert page.status_code == 200 and "专卖许可证号" in page.text and "烟酒行" in page.text
        csrf = csrf_of(page.text)
        before = console.post("/console/directory/import", data={"csrf": csrf, "mode": "check"},
                              files={"file": ("名单.csv", content, "text/csv")})
        assert before.status_code == 422 and "缺少必需的列：许可证号" in before.text

        taken = console.post("/console/directory/aliases", data={
            "csrf": csrf, "kind": "header", "target": "store_name", "alias": "联系电话"})
        assert taken.status_code == 422 and "已是「联系电话」的名称" in taken.text
        no_column = console.post("/console/directory/aliases", data={
            "csrf": csrf, "kind": "header", "target": "", "alias": word})
        assert no_column.status_code == 422 and "请选择别名对应的列" in no_column.text
        added = console.post("/console/directory/aliases", data={
            "csrf": csrf, "kind": "header", "target": "license_no", "alias": word})
        assert added.status_code == 303

        after = console.post("/console/directory/import", data={"csrf": csrf, "mode": "check"},
                             files={"file": ("名单.csv", content, "text/csv")})
        assert after.status_code == 200 and "别名店" in after.text
        alias_id = re.search(rf'action="/console/directory/aliases/(\d+)/delete"[^>]*>\s*<input[^>]*>\s*'
                             rf'<span>{word}</span>', console.get("/console/directory/aliases").text).group(1)
        removed = console.post(f"/console/directory/aliases/{alias_id}/delete", data={"csrf": csrf})
        assert removed.status_code == 303
        gone = console.post(f"/console/directory/aliases/{alias_id}/delete", data={"csrf": csrf})
        assert gone.status_code == 404 and "不存在" in gone.text
    with sign_in(service, crew["supervisor"]["token"]) as supervisor:
        assert supervisor.get("/console/directory/aliases").status_code == 403
        csrf = csrf_of(supervisor.get("/console/directory").text)
        assert supervisor.post("/console/directory/aliases", data={
            "csrf": csrf, "kind": "header", "target": "license_no", "alias": "号码"}).status_code == 403


def test_an_admin_binds_and_unbinds_a_chat_account_on_the_card(service, admin, crew):
    shop, other = crew["shops"]["橘洲超市"], crew["shops"]["东风便利店"]
    account = str(unique_number(77_000))
    with sign_in(service, ADMIN_TOKEN) as console:
        card = f"/console/directory/{shop['id']}"
        csrf = csrf_of(console.get(card).text)
        malformed = console.post(f"{card}/bindings", data={"csrf": csrf, "chat_user_id": "12a"})
        assert malformed.status_code == 422 and "QQ 号须为 4-20 位数字" in malformed.text
        bound = console.post(f"{card}/bindings", data={"csrf": csrf, "chat_user_id": account})
        assert bound.status_code == 303
        assert account in console.get(card).text
        elsewhere = console.post(f"/console/directory/{other['id']}/bindings",
                                 data={"csrf": csrf, "chat_user_id": account})
        assert elsewhere.status_code == 409 and "已绑定其他许可证" in elsewhere.text
        [binding] = admin.get(f"/api/v1/retailers/{shop['id']}/bindings").json()
        assert console.post(f"/console/directory/{other['id']}/bindings/{binding['id']}/delete",
                            data={"csrf": csrf}).status_code == 404  # not this card's binding
        assert console.post(f"{card}/bindings/{binding['id']}/delete", data={"csrf": csrf}).status_code == 303
        assert admin.get(f"/api/v1/retailers/{shop['id']}/bindings").json() == []
    with sign_in(service, crew["supervisor"]["token"]) as supervisor:
        csrf = csrf_of(supervisor.get("/console/directory").text)
        assert supervisor.post(f"/console/directory/{shop['id']}/bindings",
                               data={"csrf": csrf, "chat_user_id": account}).status_code == 403
