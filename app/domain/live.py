"""Live updates pushed to pages (server-sent events fed by Kubernetes watches)."""

from __future__ import annotations

from typing import Any


async def shutdown(app: Any) -> None:
    hub = getattr(app.state, "live_hub", None)
    if hub is not None:
        await hub.close()
