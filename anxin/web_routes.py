"""The pages people open: the operators' dashboard at `/` and the responder's page at
`/r/<token>` (the link in a dispatch SMS), with their scripts and the browser
libraries installed beside them by `scripts/install-web`. Nothing is fetched from
elsewhere at run time: a city's call centre may have no internet."""

import json
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from alerts.models import Resolution
from alerts.reasons import LABELS
from anxin.page_headers import PageHeaders, policy
from anxin.settings import Settings

log = logging.getLogger("anxin.web")

WEB = Path(__file__).parent / "web"
VENDOR = {"leaflet": WEB / "node_modules/leaflet/dist", "uplot": WEB / "node_modules/uplot/dist"}
_CONFIG_SLOT = "<!--anxin-config-->"


def page_config(settings: Settings) -> dict[str, Any]:
    """What the pages need to know before their first request: the operators' time
    zone, the map's tiles (if any), and the words for every code in both languages."""
    return {
        "time_zone": settings.time_zone,
        "tile_url": settings.map_tile_url,
        "tile_attribution": settings.map_tile_attribution,
        "labels": {kind: {code: list(words) for code, words in codes.items()}
                   for kind, codes in LABELS.items()},
        "outcomes": [str(r) for r in Resolution],
        # seconds to acknowledge, per priority: an escalated incident's timer counts
        # how long it is overdue from its first deadline, not down to the next step
        "ack_deadlines_s": {"P1": settings.ack_deadline_p1_s, "P2": settings.ack_deadline_p2_s,
                            "P3": settings.ack_deadline_p3_s},
    }  # fmt: skip


def _page(name: str, config: dict[str, Any]) -> str:
    # `</` cannot end the script element the JSON sits in
    data = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    slot = f'<script id="anxin-config" type="application/json">{data}</script>'
    return (WEB / name).read_text(encoding="utf-8").replace(_CONFIG_SLOT, slot)


# the files index.html loads from each library
VENDOR_FILES = {"leaflet": ("leaflet.js", "leaflet.css"), "uplot": ("uPlot.iife.min.js",)}


def missing_libraries(vendor: dict[str, Path] = VENDOR) -> str | None:
    """One line on what the dashboard lacks and how to install it, or None."""
    missing = [
        name
        for name, folder in vendor.items()
        if not all((folder / file).is_file() for file in VENDOR_FILES[name])
    ]
    if not missing:
        return None
    return (
        f"the dashboard's {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not"
        " installed: run scripts/install-web (the map and the vitals chart stay blank until then)"
    )


def mount(app: FastAPI, settings: Settings) -> None:
    """The dashboard, the responder's page and their files."""
    missing = missing_libraries()
    if missing:
        log.warning("%s", missing)
    config = page_config(settings)
    dashboard, responder = _page("index.html", config), _page("responder.html", config)
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def operators() -> HTMLResponse:
        return HTMLResponse(dashboard, headers=_NO_STORE)

    @router.get("/r/{token}")
    async def responders(token: str) -> HTMLResponse:
        # the page reads the token from its own address and asks /api/v1/links/<token>
        return HTMLResponse(responder, headers={**_NO_STORE, "Referrer-Policy": "no-referrer"})

    app.include_router(router)
    app.add_middleware(
        PageHeaders,
        csp=policy(settings.map_tile_url),
        docs_csp=policy(settings.map_tile_url, inline=True),
    )
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    for name, folder in VENDOR.items():
        if folder.is_dir():  # missing, its files are a plain 404 (and one line at start)
            app.mount(f"/vendor/{name}", StaticFiles(directory=folder), name=name)


# a page is rebuilt per release; its scripts change with it
_NO_STORE = {"Cache-Control": "no-store"}
