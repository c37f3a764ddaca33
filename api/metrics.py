"""/metrics in Prometheus' text format (admins' API tokens or METRICS_TOKEN), and the HTTP latency it reports."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

from fastapi import FastAPI, Request, status
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import metrics
from bot.models import Role
from bot.runtime import get_runtime
from bot.services import staff as staff_service


class LatencyMiddleware:
    """Times every HTTP request until its answer's headers go out, labelled by the route's template (never the
    raw path, whose ids would make a series each). WebSockets (the bots' chat) pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observed = False

        def observe(code: int) -> None:
            nonlocal observed
            if observed:
                return
            observed = True
            metrics.HTTP_SECONDS.labels(metrics.worker(), scope["method"], route_template(scope),
                                        str(code)).observe(time.perf_counter() - started)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                observe(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except Exception:
            observe(500)
            raise


def route_template(scope: Scope) -> str:
    """The path with each path parameter's value put back as `{name}` (`/api/v1/tickets/{ticket_id}`,
    `/static/swagger-ui/{path}`); `unmatched` when no route took the request (a scanner's guesses would
    otherwise make a series each). Worked out from the path, not from the route object: with routers
    included in routers, FastAPI leaves only the innermost route's own part of the path there."""
    if "route" not in scope and "endpoint" not in scope:
        return "unmatched"
    if isinstance(scope.get("endpoint"), StaticFiles):  # static files: under the mount's prefix
        return f"{scope.get('root_path', '')}/{{path}}"
    template = scope["path"]
    for name, value in scope.get("path_params", {}).items():
        marker = "/" + str(value)
        at = template.rfind(marker)
        while at >= 0:
            end = at + len(marker)
            if end == len(template) or template[end] == "/":  # a whole segment (or the rest of the path)
                template = f"{template[:at]}/{{{name}}}{template[end:]}"
                break
            at = template.rfind(marker, 0, at)
    return template


def _allowed(request: Request) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return False
    runtime = get_runtime()
    expected = runtime.settings.metrics_token
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return True
    member = runtime.unit_of_work(staff_service.authenticate, token)
    return member is not None and member.has_role(Role.ADMIN)


def waiting_groups() -> list[tuple[str, str]]:
    """The groups /healthz lists as without a connected account (on this process)."""
    from api.main import account_health

    return [(group.platform, group.group_id) for group in account_health()[1]]


def install(app: FastAPI, connected_bots: Callable[[], list[str]]) -> None:
    runtime = get_runtime()
    metrics.set_worker(runtime.settings.worker)
    registry = metrics.registry(runtime.engine, runtime.clock.now, connected_bots, waiting_groups,
                                lambda: runtime.robots)
    app.add_middleware(LatencyMiddleware)

    @app.get("/metrics", include_in_schema=False)
    def scrape(request: Request) -> Response:
        """Prometheus' text format; `Authorization: Bearer <METRICS_TOKEN or an admin's API token>`."""
        if not _allowed(request):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "读取监控指标需要管理员令牌或 METRICS_TOKEN",
                                headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
