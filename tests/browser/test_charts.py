"""The console's charts in a real browser: console.js draws a data-chart element with the vendored ECharts
(served by the running service from /console/static), after page load and after an htmx swap; a click on
a data point follows its link; a chart is resized with the window and disposed once its element is gone.

No console page draws a chart yet, so the test writes a page of its own that loads the service's static
files (the app has no test-only routes); the htmx fragment comes from Playwright's request interception."""

from __future__ import annotations

import html
import json

from playwright.async_api import Page, Route

from tests.browser.conftest import open_console_page

OPTION = {
    "xAxis": {"type": "category", "data": ["芙蓉区", "天心区", "岳麓区"]},
    "yAxis": {"type": "value"},
    "series": [{"type": "bar", "data": [5, 8, 3]}],
    "animation": False,
    "links": ["/console/tickets?x=1", "/console/tickets?x=2", "/console/tickets?x=3"],
}


def chart_div(id: str, option: dict, style: str = "") -> str:
    return f'<div id="{id}" style="{style}" data-chart="{html.escape(json.dumps(option))}"></div>'


async def canvas_size(page: Page, selector: str) -> list[int]:
    return await page.evaluate(f"""(() => {{
        const canvas = document.querySelector({json.dumps(selector)} + " canvas");
        return canvas ? [canvas.width, canvas.height] : [0, 0];
    }})()""")


async def test_a_data_chart_element_is_drawn_with_the_vendored_echarts_and_drills_down(page: Page, service):
    await open_console_page(page, "/console/login")  # the page's origin is the service: relative URLs go there
    static = f"{service.base_url}/console/static"
    await page.set_content(f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
        <script src="{static}/vendor/htmx.min.js" defer></script>
        <script src="{static}/vendor/echarts/echarts.min.js" defer></script>
        <script src="{static}/console.js" defer></script></head>
        <body style="margin:0">
        {chart_div("chart", OPTION, "height:300px")}
        <button hx-get="/console/chart-fragment" hx-target="#slot">更多</button><div id="slot"></div>
        </body></html>""")
    await page.wait_for_function("window.echarts && document.querySelector('#chart canvas')")

    assert (await page.evaluate("echarts.version")).startswith("5.")
    width, height = await canvas_size(page, "#chart")
    assert width > 0 and height > 0, "the chart drew on a canvas of its own size"
    option = await page.evaluate("echarts.getInstanceByDom(document.querySelector('#chart')).getOption()")
    assert "links" not in option, "links are the console's, not an ECharts option"
    assert option["textStyle"]["fontFamily"].startswith('"Noto Sans CJK SC"'), "the console's fonts, for Chinese"

    # the window narrows: the chart follows
    assert await page.evaluate("echarts.getInstanceByDom(document.querySelector('#chart')).getWidth()") == 1280
    await page.set_viewport_size({"width": 700, "height": 700})
    await page.wait_for_function("echarts.getInstanceByDom(document.querySelector('#chart')).getWidth() === 700")

    # htmx brings in a fragment with a chart: it is drawn too
    async def fragment(route: Route) -> None:
        await route.fulfill(content_type="text/html; charset=utf-8",
                            body=chart_div("swapped", {**OPTION, "links": []}, "width:400px;height:200px"))

    await page.route("**/console/chart-fragment", fragment)
    await page.get_by_role("button", name="更多").click()
    await page.wait_for_function("document.querySelector('#swapped canvas')")
    assert (await canvas_size(page, "#swapped"))[0] > 0

    # and disposed when it leaves the page
    await page.evaluate("window.__swapped = document.querySelector('#swapped'); window.__swapped.remove()")
    await page.wait_for_function("!echarts.getInstanceByDom(window.__swapped)")

    # a click on the second bar goes to the second link
    x, y = await page.evaluate("""echarts.getInstanceByDom(document.querySelector('#chart'))
                                  .convertToPixel({seriesIndex: 0}, [1, 4])""")
    box = await page.locator("#chart").bounding_box()
    assert box is not None
    async with page.expect_request(lambda request: request.url.endswith("/console/tickets?x=2")) as drill:
        await page.mouse.click(box["x"] + x, box["y"] + y)
    assert (await drill.value).is_navigation_request()
