"""The API's interactive documentation at /docs, with Swagger UI served from the package: FastAPI's
own page loads it from a CDN, which a district intranet may block."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "static" / "swagger-ui"


def install(app: FastAPI) -> None:
    app.mount("/static/swagger-ui", StaticFiles(directory=ASSETS), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="零售客户服务 API",
                                   swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
                                   # Swagger UI's default shows a badge loaded from validator.swagger.io
                                   swagger_ui_parameters={"validatorUrl": None})
