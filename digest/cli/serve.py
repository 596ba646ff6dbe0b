"""`digest serve`: the subscription and archive site, thin click wiring over digest.web."""

from __future__ import annotations

import click

from ..i18n import N_
from .state import State, pass_state


@click.command("serve", help=N_("help.serve"))
@click.option("--host", default="127.0.0.1", show_default=True, help=N_("help.serve.host"))
@click.option("--port", default=8000, show_default=True, type=int, help=N_("help.serve.port"))
@click.option("--proxy-headers", is_flag=True, help=N_("help.serve.proxy-headers"))
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    help=N_("help.serve.forwarded-allow-ips"),
)
@pass_state
def serve_command(
    state: State, host: str, port: int, proxy_headers: bool, forwarded_allow_ips: str
) -> None:
    import uvicorn

    from ..delivery.smtp import settings_from_env
    from ..tokens import load_keys
    from ..web import create_app
    from ..web.logs import log_config

    app = create_app(state.config, keys=load_keys(), smtp=settings_from_env())
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        log_config=log_config(),  # one timestamped format, the site's lines included
        log_level="info",
    )
