"""``mailbot web``: uvicorn serving the staff interface (loopback; TLS at the reverse proxy)."""

from __future__ import annotations

import uvicorn

from mailbot.bootstrap import App
from mailbot.web.app import create_app


def server_of(app: App, host: str | None = None, port: int | None = None) -> uvicorn.Server:
    """A uvicorn server over ``app``; ``run()`` blocks, ``should_exit = True`` stops it."""
    web = app.settings.web
    config = uvicorn.Config(
        create_app(app),
        host=host or web.host,
        port=port or web.port,
        log_level="warning",
        access_log=False,  # paths carry ticket references and enrolment tokens
        lifespan="off",
        ws="none",
        proxy_headers=True,
        server_header=False,
    )
    return uvicorn.Server(config)
