"""`digest serve`: the subscription and archive site, thin click wiring over digest.web."""

from __future__ import annotations

import click

from .state import State, pass_state


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--proxy-headers",
    is_flag=True,
    help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips (behind a proxy).",
)
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    help="Proxies whose X-Forwarded-* headers are trusted.",
)
@pass_state
def serve_command(
    state: State, host: str, port: int, proxy_headers: bool, forwarded_allow_ips: str
) -> None:
    """Run the subscription and archive site (needs DIGEST_SECRET and DIGEST_SMTP_URL)."""
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
