"""ASGI factory: what uvicorn imports in every API process."""

from litestar import Litestar

from api.app import create_app
from keyledger.settings import Settings
from keyledger.wiring import build_runtime


def create() -> Litestar:
    return create_app(build_runtime(Settings.from_env()))
