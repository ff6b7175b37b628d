"""The ASGI application for servers started by name (`uvicorn homeward.main:app`), configured
from the environment like `homeward serve`."""

from homeward.app import create_app

app = create_app()
