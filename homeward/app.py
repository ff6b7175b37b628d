"""The application as served: the API with the web pages on top of it."""

from __future__ import annotations

from fastapi import FastAPI

import web
from api.app import create_api
from core import i18n
from core.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    i18n.load_all()
    app = create_api(settings)
    web.install(app)
    return app
