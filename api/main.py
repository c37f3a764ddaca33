"""Mount the admin API on NoneBot's FastAPI app, with JSON errors everywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.dependencies.utils import get_flat_params
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from api.deps import current_staff
from api.routes import groups, knowledge, launches, outbox, pledges, reports, retailers, staff, supply, tickets
from api.schemas import AccountHealthOut, ErrorOut, HealthOut, RobotHealthOut, WaitingGroupOut
from bot import webhooks
from bot.runtime import get_runtime, is_transient
from bot.services import accounts
from bot.services import outbox as outbox_service
from bot.services.errors import Conflict, Forbidden, NotFound, ServiceError, TooLarge

log = logging.getLogger(__name__)

api_router = APIRouter()  # under /api/v1: the prefix is given where it is included (see `install`)
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _declare_errors(route: APIRoute) -> None:
    """Declare the error answers an operation can give, all in the one `ErrorOut` body: 400 for a body
    that cannot be parsed, 401 without a valid token, 403 for a missing role, 404 for an id in the path,
    409 for a write that meets the current state, 422 for a bad request (replacing FastAPI's own schema),
    503 while the database is away."""
    has_path_id = bool(route.param_convertors)
    calls = {dependency.call for dependency in _all_dependencies(route.dependant)}
    codes = {status.HTTP_503_SERVICE_UNAVAILABLE}
    if route.body_field:
        codes.add(status.HTTP_400_BAD_REQUEST)
    if current_staff in calls:
        codes.add(status.HTTP_401_UNAUTHORIZED)
    if any(getattr(call, "roles", None) for call in calls):
        codes.add(status.HTTP_403_FORBIDDEN)
    if has_path_id:
        codes.add(status.HTTP_404_NOT_FOUND)
    if (route.methods or set()) & _WRITES:
        codes |= {status.HTTP_409_CONFLICT, status.HTTP_422_UNPROCESSABLE_CONTENT}
    if get_flat_params(route.dependant) or route.body_field:
        codes.add(status.HTTP_422_UNPROCESSABLE_CONTENT)
    for code in codes:
        route.responses.setdefault(code, {}).setdefault("model", ErrorOut)


def _all_dependencies(dependant):
    for dependency in dependant.dependencies:
        yield dependency
        yield from _all_dependencies(dependency)


for module in (tickets, pledges, staff, groups, retailers, knowledge, outbox, supply, launches, reports):
    for route in module.router.routes:
        _declare_errors(route)
    api_router.include_router(module.router)


def _error(status_code: int, detail: str, **extra) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"detail": detail, **extra})


_IN_CHINESE = {  # FastAPI's and Starlette's own refusals
    "There was an error parsing the body": "请求体无法解析：须是 UTF-8 编码的 JSON（上传文件用 multipart/form-data）",
    "Not Found": "接口不存在",
    "Method Not Allowed": "接口不支持此请求方法",
}


async def _http_error(_: Request, error: HTTPException) -> JSONResponse:
    response = _error(error.status_code, _IN_CHINESE.get(error.detail, error.detail))
    response.headers.update(error.headers or {})
    return response


async def _service_error(_: Request, error: ServiceError) -> JSONResponse:
    codes = ((NotFound, status.HTTP_404_NOT_FOUND), (Conflict, status.HTTP_409_CONFLICT),
             (Forbidden, status.HTTP_403_FORBIDDEN),
             (TooLarge, status.HTTP_413_CONTENT_TOO_LARGE))
    code = next((code for kind, code in codes if isinstance(error, kind)), status.HTTP_422_UNPROCESSABLE_CONTENT)
    return _error(code, str(error))


async def _validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
    problems = [
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
    ]
    return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, "请求内容有误：" + "；".join(problems),
                  errors=jsonable_encoder(error.errors(), exclude={"input", "ctx"}))


async def _database_error(request: Request, error: DBAPIError) -> JSONResponse:
    """Only a lost connection or a locked file is an outage; a statement the database refuses is a bug."""
    if not is_transient(error):
        return await _unexpected(request, error)
    log.warning("database unavailable: %s", error)
    return _error(status.HTTP_503_SERVICE_UNAVAILABLE, "数据库暂时不可用，请稍后重试")


async def _unexpected(_: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected API error", exc_info=error)
    return _error(status.HTTP_500_INTERNAL_SERVER_ERROR, "服务内部错误，已记录，请联系管理员")


def _connected_accounts() -> dict[str, str]:
    from plugins.chat import connected_accounts  # NoneBot's bots, loaded with the plugins

    return connected_accounts()


def account_health() -> tuple[list[AccountHealthOut], list[WaitingGroupOut]]:
    """Each bot account's health, and the groups in service none of whose accounts is connected."""
    runtime = get_runtime()
    seen = runtime.unit_of_work(accounts.overview, connected=_connected_accounts(),
                                last_sends=dict(runtime.last_sends))
    return ([AccountHealthOut(**vars(account)) for account in seen.accounts],
            [WaitingGroupOut(id=group.id, platform=group.platform, group_id=group.group_id, name=group.name)
             for group in seen.waiting_groups if group.id is not None])


def robot_health() -> list[RobotHealthOut]:
    """The staff alert robots (none configured: empty)."""
    runtime = get_runtime()
    if runtime.robots is None:
        return []
    queues = runtime.unit_of_work(outbox_service.queues)
    return [RobotHealthOut(**vars(robot)) for robot in webhooks.health(runtime.robots, queues)]


def install(app: FastAPI, connected_bots: Callable[[], list[str]]) -> None:
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(ServiceError, _service_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _database_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)

    @app.get("/healthz", response_model=HealthOut, tags=["health"],
             responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": HealthOut, "description": "数据库不可用"}})
    def healthz() -> JSONResponse:
        """Database reachable, which bot accounts are connected, each account's groups and last send, and
        the groups whose messages wait because none of their accounts is connected (no token needed)."""
        try:
            with get_runtime().engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            database = True
        except Exception:
            database = False
        health: tuple[list[AccountHealthOut], list[WaitingGroupOut]] = ([], [])
        robots: list[RobotHealthOut] = []
        if database:
            try:
                health, robots = account_health(), robot_health()
            except Exception:  # the health page answers whatever else fails
                log.exception("could not read the bot accounts' health")
        body = HealthOut(status="ok" if database else "degraded", database=database,
                         bots=connected_bots(), accounts=health[0], groups_without_account=health[1],
                         robots=robots)
        return JSONResponse(body.model_dump(mode="json"),
                            status_code=200 if database else status.HTTP_503_SERVICE_UNAVAILABLE)

    # After /healthz, so that matching it does not wait for the API routes' state, which FastAPI builds
    # on the first request that reaches them. With a prefix given here, FastAPI does not build that
    # state once more at inclusion only to check for empty paths.
    app.include_router(api_router, prefix="/api/v1")
