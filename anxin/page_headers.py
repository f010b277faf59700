"""Headers every answer carries, so a page cannot be framed, sniffed into a script, or
made to run script that is not one of its own files.

The pages load only their own scripts, styles and images (plus the city's map tiles,
when `ANXIN_MAP_TILE_URL` names a tile server): no inline script, no `eval`, no other
origin. `/docs` is Swagger UI (fastapi-offline), whose page starts itself with an inline
script and whose styles are partly inline: there both are allowed, still from this
origin only; it shows the API's description, and answers only as text.
"""

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FIXED = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


def policy(tile_url: str | None, *, inline: bool = False) -> str:
    """The Content-Security-Policy; `inline` for Swagger UI's page only."""
    script = "'self' 'unsafe-inline'" if inline else "'self'"
    tiles = ""
    if tile_url:
        parts = urlsplit(tile_url.replace("{s}", "a"))
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in tile_url else parts.netloc
        tiles = f" {parts.scheme}://{host}"
    return (
        "default-src 'none'; "
        f"script-src {script}; style-src {script}; img-src 'self' data:{tiles}; "
        "font-src 'self'; connect-src 'self'; manifest-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class PageHeaders:
    """ASGI middleware: the headers above on every HTTP answer, the page's own
    Content-Security-Policy unless a route set one."""

    def __init__(self, app: ASGIApp, *, csp: str, docs_csp: str) -> None:
        self.app = app
        self.csp = csp.encode()
        self.docs_csp = docs_csp.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = self.docs_csp if scope["path"].startswith("/docs") else self.csp

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in FIXED if k not in names]
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", csp))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
