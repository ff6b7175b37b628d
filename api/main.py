"""The ASGI application for servers started by name (`uvicorn api.main:app`), configured
from the environment like `homeward serve`."""

from api.app import create_app

app = create_app()
