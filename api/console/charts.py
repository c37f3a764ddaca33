"""The report pages' charts as ECharts option dicts, built from the reports' results.

A template puts one into an element's `data-chart` attribute (`{{ option | chart_json }}` inside double
quotes: autoescape turns the JSON's quotes into entities); `static/console.js` draws it. A top-level
`links` (one URL per data point of series 0) makes a click on that bar or slice open the tickets behind
it. Colours are console.css's; labels are Chinese.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from bot.services.reports.compliance import BUCKET_LABELS, BUCKETS, Row
from bot.services.reports.satisfaction import Scores
from bot.services.reports.workload import Count

BRAND, OK, AMBER, RED, MUTED, LINE = "#0b5cad", "#2f855a", "#b7791f", "#c53030", "#616e7c", "#d9e2ec"
REST_DAY = "#bcccdc"  # a day the desk does not work: grey
BUCKET_COLOURS = {"met_in_time": OK, "met_late": AMBER, "breached_open": RED, "open": BRAND,
                  "not_applicable": "#9fb3c8", "cancelled": LINE}
SCORE_COLOURS = {1: RED, 2: RED, 3: AMBER, 4: BRAND, 5: OK}
WEEKDAYS = "一二三四五六日"
Option = dict[str, Any]


def chart_json(option: Option) -> str:
    """The option as the attribute's JSON (Chinese kept as it is; the template escapes it)."""
    return json.dumps(option, ensure_ascii=False, separators=(",", ":"))


def _base(**extra: Any) -> Option:
    return {"animation": False, "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
            "grid": {"left": 8, "right": 16, "top": 36, "bottom": 8, "containLabel": True}, **extra}


def compliance_buckets(by_kind: Sequence[Row], link: Callable[[Row, str], str]) -> Option:
    """Per pledge, its rounds stacked by bucket (horizontal, so it reads on a phone). Series 0 is
    按时兑现: a click on it lists those rounds (the table under the chart links every bucket)."""
    rows = list(reversed(by_kind))  # the first pledge on top
    return _base(
        legend={"top": 0, "data": [BUCKET_LABELS[name] for name in BUCKETS]},
        xAxis={"type": "value", "minInterval": 1},
        yAxis={"type": "category", "data": [row.label for row in rows]},
        series=[{"name": BUCKET_LABELS[name], "type": "bar", "stack": "rounds", "barMaxWidth": 36,
                 "itemStyle": {"color": BUCKET_COLOURS[name]},
                 "data": [getattr(row.tally, name) for row in rows]} for name in BUCKETS],
        grid={"left": 8, "right": 16, "top": 64, "bottom": 8, "containLabel": True},
        links=[link(row, BUCKETS[0]) for row in rows])


def score_distribution(scores: Scores, link: Callable[[int], str]) -> Option:
    """How many calls gave each score, 1 to 5; a bar lists those calls."""
    return _base(
        xAxis={"type": "category", "data": [f"{score} 分" for score in scores.counts]},
        yAxis={"type": "value", "minInterval": 1, "name": "次数"},
        series=[{"name": "回访次数", "type": "bar", "barMaxWidth": 48, "label": {"show": True, "position": "top"},
                 "data": [{"value": count, "itemStyle": {"color": SCORE_COLOURS[score]}}
                          for score, count in scores.counts.items()]}],
        links=[link(score) for score in scores.counts])


def requests_per_day(by_day: Sequence[tuple[date, int, bool]], link: Callable[[date], str]) -> Option:
    """Requests per day; days the desk does not work are grey bars, and their names say 休."""
    return _base(
        legend={"top": 0, "data": ["工作日", "休息日"], "selectedMode": False},
        xAxis={"type": "category", "data": [f"{day.month}/{day.day} 周{WEEKDAYS[day.weekday()]}"
                                             + ("" if workday else " 休") for day, _, workday in by_day],
               "axisLabel": {"hideOverlap": True}},
        yAxis={"type": "value", "minInterval": 1, "name": "咨询量"},
        series=[{"name": "工作日", "type": "bar", "barMaxWidth": 28, "itemStyle": {"color": BRAND},
                 "data": [{"value": count, "itemStyle": {"color": BRAND if workday else REST_DAY}}
                          for _, count, workday in by_day]},
                {"name": "休息日", "type": "bar", "itemStyle": {"color": REST_DAY}, "data": []}],
        links=[link(day) for day, _, _ in by_day])


def by_category(counts: Sequence[Count], link: Callable[[Count], str]) -> Option:
    """Requests by category, largest first, as a pie; a slice lists that category's requests."""
    return {"animation": False, "tooltip": {"trigger": "item", "formatter": "{b}：{c}（{d}%）"},
            "color": [BRAND, OK, AMBER, "#805ad5", RED, "#2b6cb0", "#38a169", "#d69e2e", MUTED],
            "series": [{"name": "咨询类别", "type": "pie", "radius": ["35%", "65%"],
                        "label": {"formatter": "{b} {c}"},
                        "data": [{"name": count.label, "value": count.count} for count in counts]}],
            "links": [link(count) for count in counts]}


def appraisal_scores(names: Sequence[str], scores: Sequence[float], excellent: float, base: float,
                     links: Sequence[str]) -> Option:
    """Each person's score, best on top; 优秀 ones green, a mark at the 优秀 line. A bar opens the person."""
    return _base(
        tooltip={"trigger": "axis", "axisPointer": {"type": "shadow"}},
        xAxis={"type": "value", "min": 0, "max": base},
        yAxis={"type": "category", "data": list(reversed(names)), "axisLabel": {"interval": 0}},
        series=[{"name": "得分", "type": "bar", "barMaxWidth": 22, "label": {"show": True, "position": "right"},
                 "data": [{"value": score, "itemStyle": {"color": OK if score >= excellent else BRAND}}
                          for score in reversed(scores)],
                 "markLine": {"silent": True, "symbol": "none", "lineStyle": {"color": AMBER, "type": "dashed"},
                              "label": {"formatter": f"优秀 {excellent:g}"}, "data": [{"xAxis": excellent}]}}],
        grid={"left": 8, "right": 40, "top": 36, "bottom": 8, "containLabel": True},  # room for the 100 label
        links=list(reversed(links)))


def height_for(bars: int, *, each: int = 28, extra: int = 80, least: int = 200) -> int:
    """A horizontal bar chart's height in pixels for this many bars."""
    return max(least, bars * each + extra)
