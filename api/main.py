"""Mount the admin API on NoneBot's FastAPI app, with JSON errors everywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from api.routes import groups, knowledge, launches, outbox, pledges, retailers, staff, supply, tickets
from api.schemas import HealthOut
from bot.runtime import get_runtime
from bot.services.errors import Conflict, NotFound, ServiceError, TooLarge

log = logging.getLogger(__name__)

api_router = APIRouter(prefix="/api/v1")
for module in (tickets, pledges, staff, groups, retailers, knowledge, outbox, supply, launches):
    api_router.include_router(module.router)


def _error(status_code: int, detail: str, **extra) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"detail": detail, **extra})


async def _service_error(_: Request, error: ServiceError) -> JSONResponse:
    codes = ((NotFound, status.HTTP_404_NOT_FOUND), (Conflict, status.HTTP_409_CONFLICT),
             (TooLarge, status.HTTP_413_CONTENT_TOO_LARGE))
    code = next((code for kind, code in codes if isinstance(error, kind)), status.HTTP_422_UNPROCESSABLE_CONTENT)
    return _error(code, str(error))


async def _validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
    problems = [
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
    ]
    return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, "请求内容有误：" + "；".join(problems),
                  errors=jsonable_encoder(error.errors(), exclude={"input", "ctx"}))


async def _database_error(_: Request, error: DBAPIError) -> JSONResponse:
    log.warning("database unavailable: %s", error)
    return _error(status.HTTP_503_SERVICE_UNAVAILABLE, "数据库暂时不可用，请稍后重试")


async def _unexpected(_: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected API error", exc_info=error)
    return _error(status.HTTP_500_INTERNAL_SERVER_ERROR, "服务内部错误，已记录，请联系管理员")


def install(app: FastAPI, connected_bots: Callable[[], list[str]]) -> None:
    app.include_router(api_router)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)

    @app.get("/healthz", response_model=HealthOut, tags=["health"])
    def healthz() -> JSONResponse:
        """Database reachable and which bot accounts are connected (no token needed)."""
        try:
            with get_runtime().engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            database = True
        except Exception:
            database = False
        body = HealthOut(status="ok" if database else "degraded", database=database,
                         bots=connected_bots())
        return JSONResponse(body.model_dump(),
                            status_code=200 if database else status.HTTP_503_SERVICE_UNAVAILABLE)
