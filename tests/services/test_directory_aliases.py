"""Header spellings and 业态 names added in the console: stored, read by the import, never ambiguous."""

from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.models import Retailer
from bot.policy import DirectoryPolicy, Policies
from bot.services import retailer_import
from bot.services.errors import Conflict, NotFound, ServiceError
from tests.services.test_retailer_import import csv_bytes

TZ = ZoneInfo("Asia/Shanghai")
POLICY = DirectoryPolicy()


def add(session, clock, kind, target, alias, policy=POLICY):
    row = retailer_import.add_alias(session, kind=kind, target=target, alias=alias, policy=policy, staff_id=None,
                                    now=clock.now())
    session.commit()
    return row


def load(session, clock, content, policy=POLICY):
    report = retailer_import.import_retailers(session, content, "客户.csv", policies=Policies(directory=policy),
                                              tz=TZ, dry_run=False, full=False, staff_id=None, now=clock.now())
    session.commit()
    return report


def test_an_added_header_and_business_type_are_what_the_next_import_reads(session, clock):
    header = ["证号", "户名", "业态"]
    content = csv_bytes([["430102100001", "老街烟酒", "烟草专柜"]], header=header)
    refused = load(session, clock, content)
    assert [(e.row, e.column) for e in refused.errors] == [(1, "表头")]

    add(session, clock, retailer_import.HEADER, "license_no", "证号")
    add(session, clock, retailer_import.HEADER, "store_name", "户 名")
    add(session, clock, retailer_import.BUSINESS_TYPE, "烟酒商店", "烟草专柜")
    report = load(session, clock, content)
    assert report.created == 1 and not report.errors
    shop = session.exec(select(Retailer)).one()
    assert (shop.store_name, shop.business_type) == ("老街烟酒", "烟酒商店")


@pytest.mark.parametrize(("kind", "target", "alias", "says"), [
    (retailer_import.HEADER, "store_name", "许可证号", "已是「许可证号」的名称"),  # a built-in header, another column
    (retailer_import.HEADER, "license_no", " 许可证 号 ", "已是「许可证号」的名称"),  # compared as the import compares
    (retailer_import.BUSINESS_TYPE, "超市", "小卖部", "已是「食杂店」的名称"),      # the policy's name of another type
    (retailer_import.BUSINESS_TYPE, "超市", "ktv", "已是「娱乐服务类」的名称"),     # letter case ignored
])
def test_a_name_the_import_already_reads_as_something_is_refused(session, clock, kind, target, alias, says):
    with pytest.raises(Conflict, match=says):
        add(session, clock, kind, target, alias)
    assert retailer_import.list_aliases(session) == []


def test_a_name_added_twice_is_refused_the_second_time(session, clock):
    add(session, clock, retailer_import.HEADER, "phone", "联络手机")
    with pytest.raises(Conflict, match="联络手机"):
        add(session, clock, retailer_import.HEADER, "owner_name", "联络手机")
    assert [a.alias for a in retailer_import.list_aliases(session)] == ["联络手机"]


@pytest.mark.parametrize(("kind", "target", "alias", "says"), [
    (retailer_import.HEADER, "grade_band", "档段", "不是导入的列"),
    (retailer_import.BUSINESS_TYPE, "加油站", "油站", "请选择别名对应的业态"),
    (retailer_import.HEADER, "phone", "   ", "1-32 个字"),
    (retailer_import.HEADER, "phone", "电" * 33, "1-32 个字"),
    ("column", "phone", "电话号", "未知的别名类别"),
])
def test_bad_names_are_refused_with_the_reason(session, clock, kind, target, alias, says):
    with pytest.raises(ServiceError, match=says):
        add(session, clock, kind, target, alias)
    assert retailer_import.list_aliases(session) == []


def test_a_name_the_policy_file_later_gives_to_another_type_is_left_out_not_fatal(session, clock):
    stored = add(session, clock, retailer_import.BUSINESS_TYPE, "超市", "量贩店")
    changed = DirectoryPolicy(business_types={"便利店": ["量贩店"]})
    assert not retailer_import.alias_in_effect(stored, changed)
    policy = retailer_import.import_policy(session, changed)
    assert policy.business_type_names()["量贩店"] == "便利店"
    assert retailer_import.alias_in_effect(stored, POLICY)


def test_a_removed_name_is_no_longer_read(session, clock):
    stored = add(session, clock, retailer_import.HEADER, "license_no", "证号")
    assert "证号" in retailer_import.import_policy(session, POLICY).header_aliases["license_no"]
    retailer_import.remove_alias(session, stored.id)
    session.commit()
    assert "license_no" not in retailer_import.import_policy(session, POLICY).header_aliases
    with pytest.raises(NotFound):
        retailer_import.remove_alias(session, stored.id)
