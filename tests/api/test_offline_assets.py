"""A district intranet may reach nothing beyond this service: /docs and the console's login page, and every
asset they name (and every asset those stylesheets name), come from the service itself, and none of them
points the browser at another host."""

import re
from html.parser import HTMLParser
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

PAGES = {"/docs": ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"),
         "/console/login": ("console.css", "htmx.min.js", "sse.js")}
ABSOLUTE = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s"'<>)\\]*""")
# What names a URL the browser would load, in a script: calls that fetch, and src/href assignments.
JS_LOADS = re.compile(r"""(?:\b(?:fetch|importScripts|import|Worker|EventSource|WebSocket)\(\s*|\.(?:src|href)\s*=\s*"""
                      r"""|\b(?:src|href)=\\?)["'`](?:https?:)?//""")
CSS_URLS = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)|@import\s+["']([^"']+)["']""")
# In a data: URL an SVG's xmlns names its namespace; no browser loads it.
XML_NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/1999/xhtml"}


class Loads(HTMLParser):
    """The URLs an HTML page makes the browser load (not the links a person may follow)."""

    ATTRIBUTES: ClassVar[dict[str, str]] = {
        "script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src", "audio": "src",
        "video": "src", "embed": "src", "object": "data", "input": "src"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        wanted = self.ATTRIBUTES.get(tag)
        if wanted and found.get(wanted):
            self.urls.append(found[wanted] or "")
        if found.get("style"):
            self.inline_css.append(found["style"] or "")
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.inline_css.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False


def foreign(urls: list[str], own_host: str) -> list[str]:
    return [url for url in urls if url not in XML_NAMESPACES and urlsplit(url).hostname != own_host]


def css_urls(css: str) -> list[str]:
    return [found for match in CSS_URLS.finditer(css) for found in match.groups() if found]


def crawl(client: httpx.Client, page: str) -> dict[str, httpx.Response]:
    """The page and everything it loads, fetched from the service, by URL."""
    fetched: dict[str, httpx.Response] = {}
    waiting = [urljoin(str(client.base_url), page)]
    while waiting:
        url = waiting.pop()
        if url in fetched or url.startswith("data:"):
            continue
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.status_code)
        fetched[url] = answer
        kind = answer.headers.get("content-type", "")
        if "text/html" in kind:
            loads = Loads()
            loads.feed(answer.text)
            names = loads.urls + [found for css in loads.inline_css for found in css_urls(css)]
        elif "text/css" in kind:
            names = css_urls(answer.text)
        else:
            continue
        waiting += [urljoin(url, name) for name in names if not name.startswith("data:")]
    return fetched


@pytest.mark.parametrize(("page", "assets"), PAGES.items())
def test_a_page_and_everything_it_loads_come_from_the_service(service, page, assets):
    own_host = urlsplit(service.base_url).hostname
    with httpx.Client(base_url=service.base_url, timeout=10) as client:
        fetched = crawl(client, page)
    names = {urlsplit(url).path.rsplit("/", 1)[-1] for url in fetched}
    assert set(assets) <= names, names
    assert all(urlsplit(url).hostname == own_host for url in fetched)
    kinds = {answer.headers["content-type"].split(";")[0] for answer in fetched.values()}
    assert {"text/html", "text/css"} <= kinds and any("javascript" in kind for kind in kinds), kinds
    for url, answer in fetched.items():
        kind = answer.headers["content-type"]
        if "text/html" in kind or "text/css" in kind:  # every absolute URL in them, loaded or not
            assert not foreign(ABSOLUTE.findall(answer.text), own_host), url
        elif "javascript" in kind:  # a script names many URLs it never loads (licences, specs): only its loads
            assert not JS_LOADS.findall(answer.text), url


def test_swagger_ui_does_not_ask_the_public_validator(service):
    """Swagger UI's default shows a badge image from validator.swagger.io under the API's title."""
    page = httpx.get(f"{service.base_url}/docs", timeout=10).text
    assert re.search(r'"validatorUrl":\s*null', page)


def test_the_checks_catch_a_page_that_loads_from_elsewhere():
    loads = Loads()
    loads.feed('<link rel="stylesheet" href="https://cdn.example.net/ui.css"><a href="https://example.org">x</a>'
               '<script src="/static/app.js"></script><div style="background: url(//img.example.net/a.png)">')
    found = loads.urls + [url for css in loads.inline_css for url in css_urls(css)]
    assert found == ["https://cdn.example.net/ui.css", "/static/app.js", "//img.example.net/a.png"]
    assert foreign(["https://cdn.example.net/ui.css", "http://127.0.0.1:8080/x", "//img.example.net/a.png",
                    "http://www.w3.org/2000/svg"], "127.0.0.1") == ["https://cdn.example.net/ui.css",
                                                                     "//img.example.net/a.png"]
    assert JS_LOADS.findall('s.src="https://cdn.example.net/x.js";fetch("//api.example.net/q")')
    assert not JS_LOADS.findall('const LICENSE = "https://github.com/swagger-api/swagger-ui";')
