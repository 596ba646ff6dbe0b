"""Security around every page: response headers (a strict CSP) and CSRF tokens for the forms.

CSRF uses a signed double-submit token: a random nonce and its HMAC (with the DIGEST_SECRET
signing key) in a SameSite=Strict cookie and in a hidden field; a POST must carry both, equal
and genuine. The RFC 8058 one-click unsubscribe POST is exempt by design: mail clients send
it without cookies, and the unsubscribe token in its URL is itself the proof.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..tokens import Keys

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:;"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# The archived issues are the email's web version: inline styles (css-inline) and remote
# images, but still no script, no frame, no form elsewhere.
ARCHIVE_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:;"
    " font-src 'self' data: https:; form-action 'self'; frame-ancestors 'none';"
    " base-uri 'none'"
)
# The staff console: the site's policy, and no frame of anything (its preview, later, will
# name itself in frame-src, sandboxed).
CONSOLE_CSP = CSP + "; frame-src 'none'"
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    # Confirm and unsubscribe URLs carry tokens: never send them on as a Referer.
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    # What sets no cache-control of its own (an error page, a 413) is kept by no cache:
    # pages may carry tokens, and an error must not outlive its cause in a shared cache.
    "cache-control": "no-store",
}


class SecurityHeaders:
    """ASGI middleware: adds HEADERS to every response that does not set its own.

    The app puts it outside everything else, Starlette's ServerErrorMiddleware included (see
    app.py), so that 500 pages get the headers too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


MAX_BODY = 16 * 1024  # the forms hold an address and two tokens


class BodyLimit:
    """ASGI middleware: a request body over MAX_BODY bytes gets 413 (announced or streamed)."""

    def __init__(
        self,
        app: ASGIApp,
        text: str,
        limit: int = MAX_BODY,
        wider: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.text = text  # what a body announced too large is answered, in the site's words
        self.limit = limit
        self.wider = dict(wider or {})  # paths that take more (the console's CSV import)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.wider.get(scope.get("path", ""), self.limit)
        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            await PlainTextResponse(self.text, 413)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:  # chunked bodies announce no length
                raise HTTPException(413)
            return message

        await self.app(scope, counting_receive, send)


class Csrf:
    """Makes and checks the signed double-submit tokens."""

    def __init__(self, keys: Keys, secure: bool) -> None:
        self.keys = keys
        self.secure = secure
        # The __Host- prefix pins the cookie to this host over https (no Domain, Path=/).
        self.cookie = "__Host-digest-csrf" if secure else "digest-csrf"

    def _sign(self, key: bytes, nonce: str) -> str:
        mac = hmac.new(key, b"digest-csrf|" + nonce.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def genuine(self, token: str) -> bool:
        nonce, _, mac = token.partition(".")
        if not nonce or not mac or len(token) > 100:
            return False
        return any(hmac.compare_digest(self._sign(k, nonce), mac) for k in self.keys.secrets)

    def token_for(self, request: Request) -> tuple[str, bool]:
        """The token to put in the form, and whether the cookie must be (re)set."""
        current = request.cookies.get(self.cookie, "")
        if current and self.genuine(current):
            return current, False
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{self._sign(self.keys.signing, nonce)}", True

    def set_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(
            self.cookie,
            token,
            max_age=86400,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def check(self, request: Request, submitted: str) -> bool:
        cookie = request.cookies.get(self.cookie, "")
        return bool(cookie) and hmac.compare_digest(cookie, submitted) and self.genuine(cookie)


def session_csrf(keys: Keys, session_id: str) -> str:
    """The console's CSRF token for one session: an HMAC of the session's id (the hash of
    its cookie) with the signing key. Tied to the session, so it dies with it, and needs no
    storage: no one without the key can make it, and it says nothing of the cookie."""
    return _session_mac(keys.signing, session_id)


def session_csrf_ok(keys: Keys, session_id: str, submitted: str) -> bool:
    """Whether `submitted` is the session's token under any current key (rotation)."""
    return any(
        hmac.compare_digest(_session_mac(key, session_id), submitted) for key in keys.secrets
    )


def _session_mac(key: bytes, session_id: str) -> str:
    mac = hmac.new(key, b"digest-console|" + session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def client_ip(request: Request) -> str:
    """The peer address (behind a proxy, uvicorn's --proxy-headers puts the real one here)."""
    return request.client.host if request.client else "unknown"


def limit_key(ip: str) -> str:
    """Who the per-IP limit counts: the address, or for IPv6 its /64. Why: one host is
    usually given a whole /64, so counting single IPv6 addresses would give it billions."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is an IPv4 client
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
