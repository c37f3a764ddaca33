"""The reports as documents to download: one sheet per view, Chinese headers, a 合计 row where a sum
means something; the monthly appraisal ready to print with signature lines. `report_files` writes
them as XLSX or CSV."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, BinaryIO, cast

from bot.models import PledgeKind
from bot.policy import AppraisalPolicy
from bot.services.errors import ServiceError
from bot.services.report_files import Column, Document, Sheet, csv_chunks, write_xlsx
from bot.services.reports import appraisal, compliance, satisfaction, workload
from bot.services.reports.base import KIND_LABELS, Period
from bot.services.reports.drill import Line

NAMES = {"compliance": "承诺兑现统计", "satisfaction": "满意度统计", "workload": "工作量统计",
         "appraisal": "员工月度考评"}
SIGNATURES = ("考评人：", "审核人：", "日期：")
_COUNTS = [Column(header, "int", "sum") for header in ("应兑现", "按时兑现", "超时兑现", "超时未兑现", "进行中",
                                                        "无法兑现", "已取消")]


def _tally_cells(tally: compliance.Tally) -> list[object]:
    return [tally.due, tally.met_in_time, tally.met_late, tally.breached_open, tally.open, tally.not_applicable,
            tally.cancelled, tally.in_time_share]


def _kind(row: compliance.Row) -> str:
    return KIND_LABELS.get(row.kind, row.kind)  # type: ignore[call-overload]


def _compliance(result: compliance.Compliance) -> list[Sheet]:
    rate = Column("按时兑现率", "percent")
    by_kind = Sheet("按承诺", [Column("承诺"), *_COUNTS, rate],
                    [[row.label, *_tally_cells(row.tally)] for row in result.by_kind],
                    note="按时兑现率 = 按时兑现 ÷（按时兑现 + 超时兑现 + 超时未兑现）；按统计期间内开始计时的承诺统计")

    def per(title: str, header: str, rows: Sequence[compliance.Row]) -> Sheet:
        return Sheet(title, [Column("承诺"), Column(header), *_COUNTS, rate],
                     [[_kind(row), row.label, *_tally_cells(row.tally)] for row in rows])

    timing = Sheet("时效", [Column("指标"), Column("次数", "int"), Column("中位数（工作分钟）", "minutes"),
                            Column("90% 分位（工作分钟）", "minutes")],
                   [[label, t.count, t.median, t.p90] for label, t in (
                       ("首次回复用时", result.first_reply), ("上门用时", result.visit_lead),
                       ("回访用时", result.callback_lead))],
                   note=f"回访完成率：{percent(result.callback_completion)}（不含无法联系和未绑定的客户）")
    return [by_kind, per("按负责人", "负责人", result.by_owner), per("按群", "群", result.by_group),
            per("按区域", "区域", result.by_district), timing]


def percent(value: float | None) -> str:
    """A share as 87.5%, or — when there is nothing to divide by."""
    return "—" if value is None else f"{value:.1%}"


def _scores_sheet(title: str, header: str, rows: Sequence[satisfaction.Row]) -> Sheet:
    return Sheet(title, [Column(header), Column("回访次数", "int", "sum"), Column("平均分", "number"),
                         *(Column(f"{score} 分", "int", "sum") for score in range(5, 0, -1)),
                         Column("低分（≤2）", "int", "sum")],
                 [[row.label, row.scores.total, row.scores.mean, *(row.scores.counts[s] for s in range(5, 0, -1)),
                   row.scores.low] for row in rows])


def _satisfaction(result: satisfaction.SatisfactionReport) -> list[Sheet]:
    checks = Sheet("客户确认与记录", [Column("项目"), Column("询问", "int", "sum"), Column("一致", "int", "sum"),
                                      Column("客户说是、记录为否", "int", "sum"),
                                      Column("客户说否、记录为是", "int", "sum")],
                   [[label, c.asked, c.agree, c.said_yes_clock_no, c.said_no_clock_yes] for label, c in (
                       ("回复是否及时", result.reply_check), ("是否上门", result.visit_check))])
    answers = [Column(word, "int", "sum") for word in satisfaction.ANSWERS.values()]
    items = Sheet("满意度项目", [Column("项目"), *answers],
                  [[label, *result.items[item].values()] for item, label in satisfaction.ITEMS.items()])
    low = Sheet("低分跟进", [Column("工单号", "int"), Column("回访时间", "datetime"), Column("评分", "int"),
                             Column("客户意见", width=40), Column("后续", width=30)],
                [[x.ticket_id, x.at, x.score, x.comment, x.after] for x in result.low_scores])
    comments = Sheet("客户意见", [Column("工单号", "int"), Column("回访时间", "datetime"), Column("评分", "int"),
                                  Column("意见", width=60)],
                     [[c.ticket_id, c.at, c.score, c.text] for c in result.comments])
    distribution = Sheet("评分分布", [Column("评分"), Column("次数", "int", "sum")],
                         [[f"{score} 分", result.scores.counts[score]] for score in range(5, 0, -1)],
                         note=f"回访 {result.calls} 次，接通 {result.reached} 次，平均分 {result.scores.mean or '—'}")
    return [distribution, _scores_sheet("按人员", "人员", result.by_person),
            _scores_sheet("按群", "群", result.by_group), _scores_sheet("按区域", "区域", result.by_district),
            checks, items, low, comments]


def _workload(result: workload.Workload) -> list[Sheet]:
    return [
        Sheet("按类别", [Column("类别"), Column("诉求数", "int", "sum")],
              [[c.label, c.count] for c in result.by_category],
              note=f"共 {result.requests} 条诉求，机器人自动答复 {result.answered_by_bot} 条"
                   f"（{percent(result.bot_share)}），其后转人工 {result.handed_over} 条"
                   f"（{percent(result.handover_share)}）"),
        Sheet("按日", [Column("日期", "date"), Column("诉求数", "int", "sum"), Column("工作日")],
              [[day, count, "是" if working else "否"] for day, count, working in result.by_day]),
        Sheet("知识条目", [Column("条目"), Column("自动答复", "int", "sum"), Column("其后转人工", "int", "sum")],
              [[c.label, c.count, c.extra] for c in result.entries]),
        Sheet("待补充问题", [Column("问题", width=50), Column("次数", "int", "sum"), Column("自动答复后转人工", "int"),
                             Column("最近工单号", "int")],
              [[q.text, q.count, q.handed_over, q.ticket_id] for q in result.questions],
              note="需要人工回答的问题（机器人未答或答后转人工），按出现次数排列：补充知识库的清单"),
        Sheet("货源新品关注", [Column("项目", width=40), Column("次数", "int", "sum")],
              [[c.label, c.count] for c in result.interest]),
    ]


def formula(policy: AppraisalPolicy) -> str:
    """The appraisal's formula in words, from the policy in force."""
    points = "、".join(f"{KIND_LABELS[PledgeKind(kind)]}每次扣 {value:g} 分"
                      for kind, value in policy.breach_points.items())
    return (f"满分 {policy.base:g} 分：{points}；超时后每多升级一级再扣 {policy.level_points:g} 分；"
            f"经办工单回访评分 2 分及以下每次扣 {policy.low_score_points:g} 分；回访均分不低于 {policy.bonus_mean:g}"
            f"（至少 {policy.bonus_min_calls} 次）加 {policy.bonus_points:g} 分；最高 {policy.base:g} 分，"
            f"{policy.excellent:g} 分及以上为优秀。经主管免责的超时不扣分。")


def _appraisal(result: appraisal.Appraisal) -> list[Sheet]:
    ranking = Sheet("考评排名", [Column("名次", "int"), Column("姓名"), Column("岗位"), Column("超时", "int", "sum"),
                                 Column("免责", "int", "sum"), Column("低分回访", "int", "sum"),
                                 Column("回访次数", "int", "sum"), Column("回访均分", "number"),
                                 Column("得分", "number", "mean"), Column("等级")],
                    [[s.rank, s.name, s.roles, s.breaches, s.excused, s.low_scores, s.calls, s.mean_score, s.score,
                      "优秀" if s.excellent else ""] for s in result.scores],
                    note=formula(result.policy))
    details = Sheet("扣分明细", [Column("姓名"), Column("时间", "datetime"), Column("工单号", "int"),
                                 Column("事项", width=36), Column("分值", "number", "sum")],
                    [[s.name, line.at, line.ticket_id, line.what, line.points] for s in result.scores
                     for line in s.lines])
    return [ranking, details]


_BUILDERS: dict[str, Callable[[Any], list[Sheet]]] = {
    "compliance": _compliance, "satisfaction": _satisfaction, "workload": _workload, "appraisal": _appraisal}


def document(name: str, result: Any, *, printable: bool = False) -> Document:
    """A report (`name` in NAMES) as a document; `printable` sets it up for A4 with signature lines."""
    sheets = _BUILDERS[name](result)
    period: Period = result.period
    return Document(title=f"{period.label} {NAMES[name]}", period=period.span, sheets=sheets, printable=printable,
                    signatures=SIGNATURES if printable else ())


def lines_document(caption: str, period: Period, rows: Iterable[Line]) -> Document:
    """A drill-down list (streamed: rows are read as they are written)."""
    return Document(title=f"{period.label} {caption}", period=period.span, sheets=[
        Sheet("明细", [Column("工单号", "int"), Column("时间", "datetime"), Column("类别"), Column("群"),
                       Column("诉求", width=50), Column("情况", width=36), Column("负责人")],
              _line_cells(rows))])


def _line_cells(rows: Iterable[Line]) -> Iterator[list[object]]:
    for line in rows:
        yield [line.ticket_id, line.at, line.category, line.group, line.text, line.detail, line.staff]



SPOOL_BYTES = 8 * 1024 * 1024  # a file larger than this goes to disk while it is written


def write_file(document: Document, fmt: str, *, sheet: int = 0) -> IO[bytes]:
    """The document written as `fmt` (xlsx; or csv, one sheet: `sheet` is its index) into a temporary
    file, rewound, for the caller to stream and close. Rows are consumed as they are written."""
    if fmt not in ("xlsx", "csv"):
        raise ServiceError("导出格式须是 xlsx 或 csv")
    if not 0 <= sheet < len(document.sheets):
        raise ServiceError(f"没有第 {sheet} 张表：这份报表有 {len(document.sheets)} 张（从 0 数起）")
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 — the caller streams and closes it
    try:
        if fmt == "xlsx":
            write_xlsx(document, cast(BinaryIO, out))
        else:
            for chunk in csv_chunks(document.sheets[sheet], document.tz):
                out.write(chunk)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def file_name(document: Document, fmt: str, *, sheet: int = 0) -> str:
    """2026年11月 员工月度考评.xlsx; a CSV names its sheet too."""
    suffix = f"-{document.sheets[sheet].name}" if fmt == "csv" and len(document.sheets) > 1 else ""
    return f"{document.title}{suffix}.{fmt}"
