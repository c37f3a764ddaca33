"""Browser tests of the staff console: the real service in a subprocess, a NapCat client on its OneBot
WebSocket, and headless Chromium driven by Playwright's async API.

Playwright cannot download its own browsers here, so it drives Debian's `/usr/bin/chromium`
(`apt-get install chromium fonts-noto-cjk`; `.ci/install-browser` does it). Without that browser the tests
are skipped, with the reason, unless `CI` is set: in CI a missing browser is an error, never a skip.

`SCREENSHOTS=1 .venv/bin/pytest tests/browser` writes the tests' screenshots to `docs/screenshots/`; a failing
test's page is saved under its pytest temporary directory, and the report names the file.
"""

from __future__ import annotations

import asyncio
import os
import re
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, Playwright, Request, Response, async_playwright, expect

from tests.support.fixtures import admin, service, unique_number, wait_for  # noqa: F401
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN, ROOT, RunningService

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SELF_ID = "20000"

# Short timeouts: a console that answers 404 or lacks an element fails in seconds, not in 30.
ACTION_TIMEOUT_MS = 5_000
NAVIGATION_TIMEOUT_MS = 10_000
expect.set_options(timeout=ACTION_TIMEOUT_MS)

SUBMIT = "button[type=submit], button:not([type]), input[type=submit]"


# ---------------------------------------------------------------------------------------------- browser


MISSING = (f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
           "(`.ci/install-browser`, or `sudo apt-get install chromium fonts-noto-cjk`)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the browser, outside CI: skip here, before the service and NoneBot start for nothing."""
    if _have_chromium() or os.environ.get("CI"):
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=MISSING))


def _have_chromium() -> bool:
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


@pytest.fixture(scope="session", autouse=True)
def chromium() -> Path:
    """Debian's Chromium. In CI a missing browser is an error in every browser test, never a skip."""
    if not _have_chromium():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {MISSING}", pytrace=False)
        pytest.skip(MISSING)
    return CHROMIUM


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as running:
        yield running


@pytest.fixture(scope="session")
async def browser(playwright: Playwright, chromium: Path) -> AsyncIterator[Browser]:
    """One headless Chromium for the session; every test gets contexts (cookie jars) of its own."""
    launched = await playwright.chromium.launch(executable_path=str(chromium), headless=True)
    yield launched
    await launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
        if report.failed and item.stash.get(_PAGES, None):
            shots = ", ".join(str(_failure_shot(item, index)) for index in range(len(item.stash[_PAGES])))
            report.sections.append(("browser", f"the pages at the failure: {shots}"))
    return report


_CALL_FAILED = pytest.StashKey[bool]()
_PAGES = pytest.StashKey[list[Page]]()


def _failure_shot(item: pytest.Item, index: int) -> Path:
    assert isinstance(item, pytest.Function)
    return item.funcargs["tmp_path"] / f"page-{index}-at-failure.png"


class PageWatch:
    """What a page is doing besides the test's own steps: the requests still waiting for an answer (an
    event stream counts as answered once its headers arrive), and what went wrong: a JavaScript error, a
    server error, a missing static file (htmx not loading would otherwise show only as 'nothing happened')."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        self.waiting: set[Request] = set()
        page.on("pageerror", lambda error: self.problems.append(f"JavaScript error: {error}"))
        page.on("request", lambda request: self.waiting.add(request))  # Playwright takes no builtin method
        page.on("requestfailed", lambda request: self.waiting.discard(request))
        page.on("response", self._response)
        _watches[page] = self

    def _response(self, response: Response) -> None:
        self.waiting.discard(response.request)
        if response.status >= 500 or (response.status == 404 and "/console/static/" in response.url):
            self.problems.append(f"{response.request.method} {response.url} answered {response.status}")


_watches: weakref.WeakKeyDictionary[Page, PageWatch] = weakref.WeakKeyDictionary()


async def settled(page: Page, timeout: float = NAVIGATION_TIMEOUT_MS / 1000) -> None:
    """Wait until the page has loaded and every request it made has its answer (the inbox's first fetch,
    its event stream connected), so what the test does next happens after the page is ready for it."""
    await page.wait_for_load_state("load")
    watch = _watches[page]
    async with asyncio.timeout(timeout):
        while watch.waiting:
            await asyncio.sleep(0.02)


@pytest.fixture
async def new_page(browser: Browser, service: RunningService, request: pytest.FixtureRequest,  # noqa: F811
                   tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Page]]]:
    """`await new_page(**context_options)`: a page in a fresh browser context (its own cookies) whose
    relative URLs go to the service, in Chinese and Shanghai time. After the test: a failing test's pages
    are saved as PNGs; a page that raised a JavaScript error or got a 5xx fails the test."""
    contexts, watches = [], []
    pages: list[Page] = []
    request.node.stash[_PAGES] = pages

    async def make(**options: Any) -> Page:
        settings = {"viewport": DESKTOP, "locale": "zh-CN", "timezone_id": "Asia/Shanghai", **options}
        context = await browser.new_context(base_url=service.base_url, **settings)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        pages.append(page)
        watches.append(PageWatch(page))
        return page

    yield make
    try:
        if request.node.stash.get(_CALL_FAILED, False):
            for index, page in enumerate(pages):
                try:
                    await page.screenshot(path=_failure_shot(request.node, index), full_page=True)
                except Exception:  # a crashed page has no picture; the test's own failure says enough
                    pass
        found = [problem for watch in watches for problem in watch.problems]
        if found and not request.node.stash.get(_CALL_FAILED, False):
            pytest.fail("the console misbehaved in the browser:\n" + "\n".join(found), pytrace=False)
    finally:
        for context in contexts:
            await context.close()


@pytest.fixture
async def page(new_page: Callable[..., Awaitable[Page]]) -> Page:
    """A desktop-sized page (1280×800)."""
    return await new_page()


@pytest.fixture
async def phone_page(new_page: Callable[..., Awaitable[Page]]) -> Page:
    """A phone-sized page (390×844, touch, mobile: the page's <meta name=viewport> is honoured)."""
    return await new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=3)


@pytest.fixture
def screenshot() -> Callable[..., Awaitable[Path | None]]:
    """`await screenshot(page, "inbox")` writes docs/screenshots/inbox.png when SCREENSHOTS=1 is set (for
    the README), and does nothing otherwise, so a test run leaves the working tree alone."""

    async def take(page: Page, name: str, **options: Any) -> Path | None:
        if os.environ.get("SCREENSHOTS") != "1":
            return None
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await page.screenshot(path=path, **options)
        return path

    return take


# ---------------------------------------------------------------------------------------------- console


async def open_console_page(page: Page, path: str) -> None:
    """Go to a console page and insist it is there (a clear failure on 404, not a missing element later)."""
    response = await page.goto(path)
    assert response is not None, f"GET {path}: no response"
    assert response.ok, f"GET {path} answered {response.status}: {(await response.text())[:300]}"


async def submit_login(page: Page, token: str) -> None:
    """Fill the login form's `token` input and press its submit button."""
    await open_console_page(page, "/console/login")
    form = page.locator("form").filter(has=page.locator("input[name=token]"))
    await expect(form, "the login page has a form with an input named token").to_have_count(1)
    await form.locator("input[name=token]").fill(token)
    await form.locator(SUBMIT).first.click()


@pytest.fixture
def sign_in() -> Callable[[Page, str], Awaitable[None]]:
    """`await sign_in(page, token)`: sign in through /console/login, land on /console/tickets and wait
    until the inbox has loaded (see `settled`)."""

    async def run(page: Page, token: str) -> None:
        await submit_login(page, token)
        await expect(page).to_have_url(re.compile(r"/console/tickets/?(\?.*)?$"))
        await settled(page)

    return run


# ---------------------------------------------------------------------------------------------- service


@pytest.fixture
def new_staff(admin: httpx.Client) -> Callable[..., dict[str, Any]]:  # noqa: F811
    """`new_staff("agent", name="李客服")`: a staff member made through POST /api/v1/staff; the dict is the
    API's answer (id, name, roles, chat_user_id, token) and `user_id`, their QQ number as an int."""

    def make(*roles: str, name: str = "李客服") -> dict[str, Any]:
        user_id = unique_number(30_000)
        answer = admin.post("/api/v1/staff", json={"name": name, "roles": list(roles or ("agent",)),
                                                   "chat_user_id": str(user_id)})
        assert answer.status_code == 201, answer.text
        return {"user_id": user_id, **answer.json()}

    return make


@pytest.fixture
def agent(new_staff: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """An agent with an API token (`agent["token"]`), the credential the console's login takes."""
    return new_staff("agent", name="李客服")


@pytest.fixture
def group_id(admin: httpx.Client) -> int:  # noqa: F811
    """A newly registered retailer group's QQ number (only registered groups are served)."""
    number = unique_number(800_000)
    answer = admin.post("/api/v1/groups", json={"group_id": str(number), "name": "芙蓉区零售户服务群",
                                                "district": "芙蓉区"})
    assert answer.status_code == 201, answer.text
    return number


@pytest.fixture
async def napcat(service: RunningService, admin: httpx.Client) -> AsyncIterator[NapCat]:  # noqa: F811
    """The QQ side: a NapCat-like OneBot v11 client connected to the service's reverse WebSocket."""
    async with NapCat(service.ws_url, self_id=SELF_ID, token=ACCESS_TOKEN) as client:
        await wait_for(lambda: SELF_ID in admin.get("/healthz").json()["bots"])
        yield client
        # what this test queued goes out before the socket closes, so nothing waits for the next test
        await wait_for(lambda: not any(admin.get("/api/v1/outbox", params={"status": status}).json()
                                       for status in ("pending", "sending")), timeout=30)


def tickets_of(admin: httpx.Client, group_id: int) -> list[dict[str, Any]]:  # noqa: F811
    """The group's tickets as the admin API lists them, newest first."""
    record = next(g for g in admin.get("/api/v1/groups").json() if g["group_id"] == str(group_id))
    return admin.get("/api/v1/tickets", params={"group_id": record["id"]}).json()["items"]


@pytest.fixture
def group_tickets(admin: httpx.Client) -> Callable[[int], list[dict[str, Any]]]:  # noqa: F811
    """`group_tickets(group_id)`: that group's tickets through the admin API."""
    return lambda group: tickets_of(admin, group)
