"""The ASGI entry point for uvicorn and other servers: `leadgate.asgi:app`."""

from leadgate.app import create_app
from leadgate.logging import configure_logging
from leadgate.settings import Settings

_settings = Settings()
configure_logging(_settings.log_level, json=_settings.log_format == "json")
app = create_app(_settings)
