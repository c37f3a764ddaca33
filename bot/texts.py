"""Everything the bot says, in Chinese, in one place so staff can review it."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bot.models import Launch, Product, SupplyItem, SupplyNotice

CATEGORY_LABELS = {
    "supply": "货源信息",
    "terminal": "功能终端",
    "launch": "新品宣传",
    "training": "客户培训",
    "marketing": "营销咨询",
    "monopoly": "专卖咨询",
    "delivery": "送货咨询",
    "complaint": "意见投诉",
    "other": "其他",
}


def local_time(moment: datetime, tz: ZoneInfo, now: datetime) -> str:
    local, today = moment.astimezone(tz), now.astimezone(tz)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    return local.strftime("%m月%d日 %H:%M")


def acknowledgement(ticket_id: int, category: str, due: datetime, now: datetime, tz: ZoneInfo,
                    trading: bool) -> str:
    text = (
        f"收到，已登记为工单 #{ticket_id}（{CATEGORY_LABELS.get(category, '其他')}），"
        f"客服将在 {local_time(due, tz, now)} 前回复您。"
    )
    if trading:
        text += "\n温馨提示：本群是服务平台，不在群内买卖卷烟，相关信息已转专卖人员。"
    return text


def acknowledgements_combined(count: int) -> str:
    """The first line of several acknowledgements sent as one message; each follows, naming its ticket."""
    return f"以下 {count} 条提问已分别登记为工单，客服会逐一回复："


def escalation_digest(notices: list[str]) -> str:
    """Several escalation notices for one recipient, sent as one message."""
    lines = [f"【超时汇总】共 {len(notices)} 条"]
    lines += [f"{number}. {notice}" for number, notice in enumerate(notices, start=1)]
    return "\n".join(lines)


PLEDGE_LABELS = {"reply": "回帖回复", "visit": "上门服务", "callback": "满意度回访"}
NEXT_STEP = {
    "reply": "请在群里引用提问回复，或发送「#{ticket_id} 回复内容」；接手请发送「#{ticket_id} 接单」。",
    "visit": "上门后私聊我发送「上门 #{ticket_id} 处理情况」。",
    "callback": "回访后请登记结果（联系上与否、满意度 1 到 5 分）。",
}


def about(ticket_id: int, who: str, request: str) -> str:
    """The first line of every notice to staff: which ticket, whose, and what was asked."""
    return f"工单 #{ticket_id}（{who}）：{request}"


def pledge_warning(ticket_id: int, who: str, request: str, kind: str, due: datetime, now: datetime,
                   tz: ZoneInfo) -> str:
    return (f"【即将超时】{about(ticket_id, who, request)}\n"
            f"{PLEDGE_LABELS[kind]}将于 {local_time(due, tz, now)} 到期。"
            + NEXT_STEP[kind].format(ticket_id=ticket_id))


def pledge_breached(ticket_id: int, who: str, request: str, kind: str, due: datetime, now: datetime,
                    tz: ZoneInfo) -> str:
    return (f"【已超时】{about(ticket_id, who, request)}\n"
            f"{PLEDGE_LABELS[kind]}已超过期限（{local_time(due, tz, now)}），已按规定上报。"
            + NEXT_STEP[kind].format(ticket_id=ticket_id))


def pledge_escalated(ticket_id: int, who: str, request: str, kind: str, level: int, overdue: timedelta,
                     owner: str | None) -> str:
    minutes = int(overdue.total_seconds() // 60)
    late = f"{minutes // 60} 小时 {minutes % 60} 分钟" if minutes >= 60 else f"{minutes} 分钟"
    return (f"【超时上报·第{level}级】{about(ticket_id, who, request)}\n"
            f"{PLEDGE_LABELS[kind]}已超时（工作时间 {late}），负责人：{owner or '未指定'}，请督办。")


def visit_task(ticket_id: int, who: str, request: str, retailer, note: str | None, due: datetime,
               now: datetime, tz: ZoneInfo) -> str:
    """Sent privately to the account manager (or a supervisor): the shop's details are for them only."""
    lines = [f"【上门任务】{about(ticket_id, who, request)}", f"请于 {local_time(due, tz, now)} 前上门服务。"]
    if retailer is not None:
        lines += [f"地址：{retailer.address or '未登记'}", f"电话：{retailer.phone or '未登记'}"]
    if note:
        lines.append(f"备注：{note}")
    lines.append(NEXT_STEP["visit"].format(ticket_id=ticket_id))
    return "\n".join(lines)


def visit_unassigned(ticket_id: int, who: str, request: str, retailer, why: str, due: datetime,
                     now: datetime, tz: ZoneInfo) -> str:
    """To supervisors privately: a visit nobody can be told about yet."""
    lines = [f"【待指派上门】{about(ticket_id, who, request)}", f"{why}，请指派客户经理，"
             f"{local_time(due, tz, now)} 前须上门。"]
    if retailer is not None:
        lines += [f"地址：{retailer.address or '未登记'}", f"电话：{retailer.phone or '未登记'}"]
    return "\n".join(lines)


def identify_shop(ticket_id: int, who: str, request: str) -> str:
    """An unbound sender's visit: an agent must find out which shop it is."""
    return (f"【请确认店铺】{about(ticket_id, who, request)}\n"
            f"这个工单需要上门，但提问人尚未绑定许可证。请联系提问人核实店铺，"
            f"然后发送「#{ticket_id} 绑定 许可证号」，系统会把上门任务交给该店的客户经理。")


def callback_task(ticket_id: int, who: str, request: str, visited: bool, phone: str | None,
                  due: datetime, now: datetime, tz: ZoneInfo) -> str:
    done = "回复和上门" if visited else "回复"
    return (f"【回访任务】{about(ticket_id, who, request)}\n"
            f"已完成{done}，请于 {local_time(due, tz, now)} 前回访客户征询满意度。\n"
            f"电话：{phone or '未登记'}\n" + NEXT_STEP["callback"])


_PRIVATE_LINES = ("地址：", "电话：")


def for_staff_group(text: str) -> str:
    """A staff notice as a WeCom or DingTalk group robot posts it: without the shop's address and phone,
    which go only to their owner privately (QQ) or in the console."""
    lines = text.split("\n")
    kept = [line for line in lines if not line.startswith(_PRIVATE_LINES)]
    if len(kept) < len(lines):
        kept.append("（店铺地址、电话请在工作台查看）")
    return "\n".join(kept)


def reply_task(ticket_id: int, who: str, request: str, why: str, due: datetime, now: datetime,
               tz: ZoneInfo) -> str:
    """A ticket came back (reopened or assigned): its owner must reply again."""
    return (f"【待回复】{about(ticket_id, who, request)}\n{why}，请于 {local_time(due, tz, now)} 前回复。"
            + NEXT_STEP["reply"].format(ticket_id=ticket_id))


def low_satisfaction(ticket_id: int, who: str, request: str, score: int, comment: str | None) -> str:
    text = f"【满意度低】{about(ticket_id, who, request)}\n回访评分 {score} 分，工单已重新打开，请督办。"
    return text + (f"\n客户意见：{comment}" if comment else "")


VISIT_OUTCOME_NAMES = {"resolved": "已解决", "partly": "部分解决", "unresolved": "未解决，需跟进"}
# The satisfaction items a callback asks (seed 003 §八), and their answers.
SATISFACTION_ITEMS = {"supply_satisfaction": "货源供应", "manager_satisfaction": "客户经理服务",
                      "handling_satisfaction": "处理问题的时效与结果"}
SATISFACTION_NAMES = {"satisfied": "满意", "fair": "一般", "dissatisfied": "不满意", "not_involved": "未涉及"}


REOPEN_REASONS = {
    "low satisfaction": "回访满意度低，工单已重新打开",
    "not solved": "客户表示问题没有解决",
    "staff": "工作人员重新打开了工单",
    "handover": "客户要求人工服务",
}
UNBOUND_SENDER = "提问人未绑定许可证，无电话可回访"
UNREACHABLE = "多次电话联系不上"

# -- confirmations to staff (always privately, never in the retailer group) --
NO_SUCH_TICKET = "工单 #{ticket_id} 不存在，请核对工单号。"
AMBIGUOUS_QUOTE = "你引用的消息对应多个工单，请发送「#工单号 回复内容」回复其中一个。"
# 建单: staff quote a retailer's line the bot left alone (took for chatter) and make a ticket of it
NOT_LEFT_ALONE = "你引用的消息不是机器人没建单的零售户消息（已建单的请回复工单；超过 7 天的消息不再保留），没有建单。"
UNKNOWN_CATEGORY = "没有「{word}」这个类别，没有建单。可用：货源、终端、新品、培训、营销、专卖、送货、投诉、其他。"
ALREADY_TICKETED = "你引用的消息已是工单 #{ticket_id}，不用再建单。"
TICKETED_BY_STAFF = "已为这条消息建单：工单 #{ticket_id}（{category}），回复时限从现在起算，群里已告知零售户。"
TICKET_CLOSED = "工单 #{ticket_id} 已关闭，不能再处理。"
REPLY_RECORDED = "已记录你对工单 #{ticket_id} 的回复。"
REPLY_POSTED = "你的回复已发给客户（工单 #{ticket_id}）。"
REPLY_CLAIMED_BY_OTHER = ("工单 #{ticket_id} 已由 {owner} 接单，你的回复也已记录。"
                          "如要接手，请发送「#{ticket_id} 接单 确认」。")
CLAIMED = "你已接单：工单 #{ticket_id}，请于 {due} 前回复。"
CLAIMED_ALREADY = "工单 #{ticket_id} 已经是你在负责。"
CLAIMED_BY_OTHER = "工单 #{ticket_id} 已由 {owner} 接单。确需接手请发送「#{ticket_id} 接单 确认」。"
NO_REPLY_PLEDGE = "工单 #{ticket_id} 不需要回复，无法接单。"
VISIT_TOLD_MANAGER = "已安排上门（工单 #{ticket_id}），上门任务已私信通知客户经理 {manager}。"
VISIT_TO_SUPERVISORS = "已安排上门（工单 #{ticket_id}），{why}，已请督导指派客户经理。"
VISIT_NEEDS_SHOP = ("已登记上门（工单 #{ticket_id}），但提问人尚未绑定许可证：请核实店铺后发送"
                    "「#{ticket_id} 绑定 许可证号」，系统再通知客户经理。")
VISIT_ALREADY = "工单 #{ticket_id} 已安排过上门。"
NO_MANAGER = "该客户没有登记客户经理"
NO_MANAGER_ACCOUNT = "该客户的客户经理没有登记聊天账号"
RETAILER_IDENTIFIED = "已把工单 #{ticket_id} 的提问人绑定到 {store_name}。"
NO_SUCH_LICENSE = "许可证号 {license_no} 不在客户名单中，请核对。"
STAFF_UNKNOWN_COMMAND = "没看懂这条命令。发送「帮助」查看可用的命令。"
VISIT_RECORDED = "已记录工单 #{ticket_id} 的上门服务，谢谢！"
WORDING_ADDED = "已把这位客户的问法加入知识条目 {entry}，以后类似的提问会自动回答。"
CONSOLE_LINK = ("网页工作台登录链接（10 分钟内有效，只能使用一次，请勿转发给他人）：\n{url}\n"
                "过期或已用过时，再发一次「登录」即可获取新链接。")
CONSOLE_NOT_STAFF = ("抱歉，网页工作台只对登记在册的工作人员开放，您的账号无法获取登录链接。"
                     "如有问题，请直接发送您要咨询的内容。")
VISIT_NOT_STAFF = "只有客户经理可以记录上门服务。"
VISIT_USAGE = "记录上门请发送：上门 #工单号 处理情况，例如：上门 #12 已更换扫码枪"


def reply_apology(ticket_id: int) -> str:
    return f"抱歉让您久等了！您的问题（工单 #{ticket_id}）已加急转交负责人，我们会尽快答复您。"


def auto_answer(ticket_id: int, answer: str) -> str:
    return f"【自动回答 · 工单 #{ticket_id}】\n{answer}\n——没解决请回复「转人工」，客服会接手。"


# An entry's answer ends by offering a person (回复「转人工」); under first aid a person already has the ticket.
_ASK_FOR_A_PERSON = re.compile(r"(?:直接)?(?:在群里)?再?回复「转人工」")


def first_aid(answer: str) -> str:
    """The knowledge base's answer under the acknowledgement of a ticket a person still deals with: where the
    answer says to ask for a person, it says one will be in touch, since the ticket is with staff already."""
    return f"在等待期间，可以先参考：\n{_ASK_FOR_A_PERSON.sub('等客服联系您', answer)}"


def suggestions(questions: list[str]) -> str:
    lines = "\n".join(f"{number}. {question}" for number, question in enumerate(questions, start=1))
    return f"你是不是想问：\n{lines}\n（可以直接发送上面的问题，客服也会回复您）"


def handed_over(ticket_id: int, due: datetime, now: datetime, tz: ZoneInfo) -> str:
    return f"好的，已为您转人工客服（工单 #{ticket_id}），客服将在 {local_time(due, tz, now)} 前回复您。"


def reopened(ticket_id: int, due: datetime, now: datetime, tz: ZoneInfo) -> str:
    return f"收到，问题还没解决：工单 #{ticket_id} 已重新交给客服，客服将在 {local_time(due, tz, now)} 前回复您。"


RETAILER_HELP = """您好，我是零售客户服务助手。私聊可以：
绑定 许可证号 手机后四位 —— 绑定账号
我的信息 —— 查看档位、订货日和客户经理
我能订多少 / 本周货源 / 订货截止 —— 货源信息
有什么新品 —— 新品介绍
也可以直接提问，我会回答或转给客服。"""
STAFF_HELP = {
    "agent": "「#工单号 回复内容」回复客户；「#工单号 接单」接手工单；「#工单号 上门 备注」安排上门；"
             "「#工单号 绑定 许可证号」确认未绑定提问人的店铺；「#工单号 加问法 条目编号」把问法加入知识库。"
             "在群里也可以直接引用客户的提问回复。",
    "manager": "「我的任务」查看待上门的工单；上门后发送「上门 #工单号 处理情况」。",
    "callback": "「我的任务」查看待回访的工单；回访结果在工作台登记。",
    "supervisor": "「#工单号 接单」「#工单号 上门」等客服命令都可以用；超时和低满意度会私信通知您。",
    "admin": "命令同督导；员工、群和客户名单在管理接口维护。",
}


def staff_help(roles: list[str]) -> str:
    lines = [f"【{ROLE_LABELS.get(role, role)}】{STAFF_HELP[role]}" for role in roles if role in STAFF_HELP]
    return "\n".join(["工作人员可用的命令：", *lines, "「我的任务」列出你负责的未完成事项。",
                      "「登录」获取网页工作台的登录链接（私聊发送，10 分钟内有效，只能用一次）。"])


ROLE_LABELS = {"agent": "客服", "manager": "客户经理", "callback": "回访", "supervisor": "督导",
               "admin": "管理员", "marketing": "营销"}


def my_tasks(items: list[tuple[str, int, str, datetime]], now: datetime, tz: ZoneInfo) -> str:
    """Each: (pledge kind, ticket id, who and what, due)."""
    if not items:
        return "你目前没有未完成的任务。"
    lines = [f"{number}. {PLEDGE_LABELS[kind]} · 工单 #{ticket_id}（{about_it}）· {local_time(due, tz, now)} 前"
             for number, (kind, ticket_id, about_it, due) in enumerate(items, start=1)]
    return "\n".join([f"你有 {len(items)} 项未完成的任务：", *lines])


# The group's columns (seed 000 section 三) that retailers ask about, each served by a plugin of its own.
COLUMNS = {  # name, what to ask, what the column does
    "supply": ("货源信息", "本周货源、我能订几条、订货截止",
             "货源通知由调度按时群发（发件箱按频率发送），零售客户问「本周货源」「我能订多少」「订货截止」由受理服务从本期通知作答，限量私信发给本人"),
    "launch": ("新品宣传", "有什么新品、新品怎么订",
             "新品宣传按计划群发（厂家宣传须审批），零售客户问「有什么新品」「某新品怎么样」、引用宣传回复「想订」「不感兴趣」由受理服务作答并计数"),
    "terminal": ("功能终端", "扫码枪扫不出、小票打印机不出纸、收款失败",
             "零售终端（扫码枪、小票打印机、收款、盘点）的常见问题由知识库自动回答，硬件故障安排客户经理上门"),
    "training": ("客户培训", "卷烟怎么陈列、怎么提高毛利",
             "陈列、毛利、经营等培训问题由知识库自动回答，没解决可转人工"),
}


def menu(columns: tuple[str, ...] = tuple(COLUMNS)) -> str:
    """帮助 in a group: the columns this bot serves, then the promise."""
    lines = [f"【{COLUMNS[column][0]}】{COLUMNS[column][1]}" for column in columns if column in COLUMNS]
    return "\n".join(["本群为零售客户服务群，可以这样提问：", *lines,
                      "另有营销、专卖、送货咨询。每个问题都有客服回复，需要时客户经理上门，区营销部回访满意度。",
                      "私聊我发送「绑定 许可证号 手机后四位」绑定账号后，可查询您的专属信息。"])



def agent_reply(ticket_id: int, text: str) -> str:
    return f"【工单 #{ticket_id} 客服回复】\n{text}"


BIND_HINT = "提示：私聊我发送「绑定 许可证号 手机后四位」绑定账号，就能查询您的档位、限量和客户经理。"
BIND_USAGE = "绑定账号请私聊发送：绑定 许可证号 手机后四位\n例如：绑定 430102100001 1234"
BIND_OK = "绑定成功：{store_name}。以后在群里提问，我们就能按您的档位和客户经理为您服务。"
BIND_MISMATCH = "许可证号和手机后四位没有对上，请核对后再试。"
BIND_LOCKED = "今天尝试次数过多，账号暂时不能绑定，请明天再试，或联系您的客户经理协助绑定。"
BIND_TAKEN = "这个账号已绑定其他许可证，请先发送「解绑」再重新绑定。"
BIND_ALREADY = "这个账号已经绑定了{store_name}，无需重复绑定。"
UNBIND_OK = "已解除绑定。"
UNBIND_NONE = "这个账号还没有绑定许可证。"
MY_CARD_UNBOUND = "您还没有绑定许可证。" + "\n" + BIND_USAGE


def my_card(*, store_name: str, license_no: str, grade: int | None, ordering_day: str | None,
            delivery_day: str | None, manager_name: str | None, manager_work_no: str | None) -> str:
    """The retailer's own card: sent only in their private chat."""
    manager = manager_name or "未分配"
    if manager_name and manager_work_no:
        manager += f"（工号 {manager_work_no}）"
    return "\n".join([
        f"【我的信息】{store_name}",
        f"许可证号：{license_no}",
        f"档位：{grade if grade is not None else '未登记'} 档",
        f"订货日：{ordering_day or '未登记'}",
        f"送货日：{delivery_day or '未登记'}",
        f"客户经理：{manager}",
    ])

# -- supply notices and new products --
NO_SUPPLY_NOTICE = "本期货源通知还没有发布，发布后会第一时间发到群里。"
QUOTA_NEEDS_BINDING = "限量按您的档位计算，需要先绑定账号：请私聊我发送「绑定 许可证号 手机后四位」。"
QUOTA_SENT_PRIVATELY = "您的限量已私信发给您，请查看私聊消息。"
QUOTAS_SENT_PRIVATELY = "以下各位的限量已私信发送，请查看私聊消息："  # several at once, each mentioned after it
FEEDBACK_NOTED = "已记下您对「{product}」的意向：{choice}。谢谢反馈！"


# -- supply notices (货源信息) and new-product publicity (新品宣传) -------------------------------

def _yuan(amount: Decimal) -> str:
    return f"{amount.normalize():f}"  # 450.00 -> 450, 23.50 -> 23.5


def price(product: Product) -> str:
    """批发价450元/条，建议零售价65元/包，A类: what a retailer reads of a product's price."""
    parts = []
    if product.wholesale_price is not None:
        parts.append(f"批发价{_yuan(product.wholesale_price)}元/条")
    if product.retail_price is not None:
        parts.append(f"建议零售价{_yuan(product.retail_price)}元/包")
    if product.price_class:
        parts.append(f"{product.price_class}类")
    return "，".join(parts)


def day(moment: datetime | date, tz: ZoneInfo) -> str:
    if isinstance(moment, datetime):
        local = moment.astimezone(tz)
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{moment.month}月{moment.day}日"


def window(opens: datetime, closes: datetime, tz: ZoneInfo) -> str:
    return f"{day(opens, tz)} 至 {day(closes, tz)}"


def bands(quotas: list[dict[str, int]]) -> str:
    return "；".join(f"{band['min_grade']}-{band['max_grade']}档 "
                    f"{band['cartons']}条" if band["cartons"] else
                    f"{band['min_grade']}-{band['max_grade']}档 不供" for band in quotas)


def supply_notice(notice: SupplyNotice, items: list[tuple[SupplyItem, Product]], tz: ZoneInfo) -> str:
    """The notice as a group reads it: period, window, one short block per product."""
    lines = [f"【货源信息】{notice.title}",
             f"供货周期：{day(notice.period_start, tz)} 至 {day(notice.period_end, tz)}",
             f"订货时间：{window(notice.order_opens_at, notice.order_closes_at, tz)}"]
    for number, (item, product) in enumerate(items, start=1):
        mark = "（紧俏）" if item.scarce else ""
        shown = price(product)
        lines.append(f"{number}. {product.name}{mark}" + (f" {shown}" if shown else ""))
        lines.append(f"   限量：{bands(item.quotas)}" + (f"；{item.note}" if item.note else ""))
    if notice.notes:
        lines.append(f"备注：{notice.notes}")
    lines.append("发送「我能订多少」，按您的档位私信告诉您限量；紧俏品规按连续、均衡、公平的原则分配。")
    return "\n".join(lines)


def supply_brief(notice: SupplyNotice, items: list[tuple[SupplyItem, Product]], tz: ZoneInfo) -> str:
    """The live notice in a few lines, for 本周货源: products without their quota tables."""
    names = "、".join(product.name + ("（紧俏）" if item.scarce else "") for item, product in items[:40])
    more = f" 等 {len(items)} 个品规" if len(items) > 40 else ""
    return (f"{notice.title}\n订货时间：{window(notice.order_opens_at, notice.order_closes_at, tz)}\n"
            f"可订品规：{names}{more}\n发送「我能订多少」或「中华能订几条」查看您的限量。")


def supply_window(notice: SupplyNotice, tz: ZoneInfo, now: datetime) -> str:
    text = f"{notice.title} 订货时间：{window(notice.order_opens_at, notice.order_closes_at, tz)}。"
    if now > notice.order_closes_at:
        return text + "本期订货已截止。"
    if now < notice.order_opens_at:
        return text + "订货还没开始。"
    return text + "现在可以订货。"


def supply_quota(notice: SupplyNotice, grade: int | None, quotas: list[tuple[str, bool, int | None]],
                 tz: ZoneInfo) -> str:
    """A retailer's own quotas: (product, scarce, cartons or None when not supplied to their grade)."""
    if grade is None:
        return "您的档位信息还没有录入，暂时无法按档位查询限量，请联系您的客户经理。"
    lines = [f"您是 {grade} 档。{notice.title}（订货 {window(notice.order_opens_at, notice.order_closes_at, tz)}）："]
    for name, scarce, cartons in quotas:
        lines.append(f"{name}{'（紧俏）' if scarce else ''}：{f'{cartons} 条' if cartons else '本期不供'}")
    return "\n".join(lines)


def supply_changes(before: dict, after: dict, tz: ZoneInfo) -> list[str]:
    """What a correction changed, one line each (the snapshots of `supply._snapshot`)."""
    lines = []
    if before["title"] != after["title"]:
        lines.append(f"标题改为：{after['title']}")
    if before["period"] != after["period"]:
        start, end = after["period"]
        lines.append(f"供货周期改为：{day(start, tz)} 至 {day(end, tz)}")
    if before["window"] != after["window"]:
        opens, closes = after["window"]
        lines.append(f"订货时间改为：{window(opens, closes, tz)}")
    if before["notes"] != after["notes"]:
        lines.append(f"备注改为：{after['notes'] or '（无）'}")
    old, new = before["items"], after["items"]
    for name in new.keys() - old.keys():
        lines.append(f"新增 {name}：{bands(new[name][0])}")
    for name in old.keys() - new.keys():
        lines.append(f"取消 {name}")
    for name in sorted(old.keys() & new.keys()):
        if old[name][0] != new[name][0]:
            lines.append(f"{name} 限量改为：{bands(new[name][0])}（原 {bands(old[name][0])}）")
        if old[name][1] != new[name][1]:
            lines.append(f"{name} {'改为紧俏' if new[name][1] else '不再列为紧俏'}")
    return lines


def supply_correction(title: str, changes: list[str]) -> str:
    return f"【货源信息更正】{title}\n" + "\n".join(changes) + "\n其余内容不变。发送「我能订多少」查看您的最新限量。"


def supply_withdrawal(title: str, reason: str | None) -> str:
    return f"【货源信息撤回】{title} 已撤回，请以后续通知为准。" + (f"\n原因：{reason}" if reason else "")


def launch_card(launch: Launch, product: Product) -> str:
    lines = [product.name]
    if product.spec:
        lines.append(f"规格：{product.spec}")
    if shown := price(product):
        lines.append(f"价格：{shown}")
    if product.manufacturer:
        lines.append(f"厂家：{product.manufacturer}")
    lines.append(f"上市日期：{launch.launch_date.month}月{launch.launch_date.day}日")
    lines.append(f"卖点：{launch.selling_points}")
    return "\n".join(lines)


PUBLICITY_HEADINGS = {"before": "【新品预告】", "launch_day": "【新品上市】", "after": "【新品回顾】"}


def publicity_post(kind: str, launch: Launch, product: Product, note: str | None) -> str:
    text = PUBLICITY_HEADINGS[kind] + launch_card(launch, product) + (f"\n{note}" if note else "")
    return text + "\n有意向请回复本条「想订」，不需要请回复「不感兴趣」。"


def launches_list(found: list[tuple[Launch, Product]]) -> str:
    if not found:
        return "最近没有新品上市，有新品会第一时间在群里宣传。"
    lines = ["最近的新品："]
    for launch, product in found:
        lines.append(f"· {product.name}（{launch.launch_date.month}月{launch.launch_date.day}日上市）"
                     + (f" {product.price_class}类" if product.price_class else ""))
    lines.append("发送「新品名称 怎么样」查看介绍。")
    return "\n".join(lines)


PICTURE = "[图片]"  # a picture in a stored message, before its address (the console shows it as a link)
