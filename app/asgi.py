"""ASGI entry point for uvicorn: `uvicorn app.asgi:app` (what `dockyard serve` runs, in each worker).
The log is configured here, not in `create_app`: tests build apps too, and keep their own log capture."""

from app.main import create_app
from app.observability import configure_logging
from app.settings import get_settings

_settings = get_settings()
configure_logging(level=_settings.log_level, as_json=_settings.log_json)
app = create_app(_settings)
