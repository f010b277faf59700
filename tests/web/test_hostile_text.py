"""Text people typed is shown as text, never run as markup: a resident's name, address
and notes, a contact, a point's and its staff's names, a device's name and an incident
note carrying `<img onerror>` and `<script>` run nothing on the queue, the detail, the
map, the shift view or the responder's page, and each page forbids inline script by its
Content-Security-Policy all the same."""

import httpx
import psycopg
from playwright.sync_api import Browser, Page, expect

from alerts.lifecycle import Action
from tests.alerts.test_suggestions import ready
from tests.api_world import World, admin_act, call
from tests.web.test_dashboard import PHONE, log_in, responder_link

HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def hostile_everywhere(db: psycopg.Connection) -> None:
    ready(db)
    for column in ("name", "address", "medical_notes", "allergies", "access_notes"):
        db.execute(f"UPDATE residents SET {column} = %s WHERE id = 'r1'", (f"{column}{HOSTILE}",))
    db.execute("UPDATE resident_contacts SET name = %s, relation = %s", (HOSTILE, HOSTILE))
    db.execute("UPDATE service_points SET name = %s WHERE id = 'sp1'", (f"点{HOSTILE}",))
    db.execute("UPDATE service_point_staff SET name = %s", (f"员{HOSTILE}",))
    db.execute("UPDATE devices SET name = %s WHERE id = 'w1'", (f"表{HOSTILE}",))


def nothing_ran(page: Page, where: str) -> None:
    assert page.evaluate("window.__xss") is None, where
    assert page.locator("img[src='x']").count() == 0, where  # not even inserted
    assert page.locator("script", has_text="__xss").count() == 0, where


def test_markup_typed_into_any_field_is_shown_as_text_and_runs_nowhere(
    browser: Browser, world: World, db: psycopg.Connection, database_url: str
) -> None:
    hostile_everywhere(db)
    violations: list[str] = []
    page = log_in(browser, world, "op")
    page.on("console", lambda m: violations.append(m.text) if "Security Policy" in m.text else None)
    queue = page.locator("#queue-rows")
    expect(queue).to_contain_text(f"name{HOSTILE}")
    nothing_ran(page, "queue")

    page.locator("#queue-rows tr", has_text="name<img").click()
    detail = page.locator("#detail")
    expect(detail).to_contain_text(f"address{HOSTILE}")
    for shown in (f"medical_notes{HOSTILE}", f"access_notes{HOSTILE}", f"allergies{HOSTILE}"):
        expect(detail).to_contain_text(shown)
    expect(detail.locator(".contacts")).to_contain_text(HOSTILE)
    page.fill("#note", f"记录{HOSTILE}")
    detail.locator('[data-action="note"]').click()
    expect(detail.locator(".timeline")).to_contain_text(f"记录{HOSTILE}")
    detail.locator('[data-action="ack"]').click()
    detail.locator('[data-action="assign"]').click()
    expect(detail.locator(".suggestions")).to_contain_text(f"点{HOSTILE}")
    nothing_ran(page, "detail")

    page.keyboard.press("Escape")
    page.keyboard.press("m")  # the map: incidents' and points' labels
    expect(page.locator("#map .leaflet-tooltip").first).to_be_visible()
    expect(page.locator("#map")).to_contain_text(f"name{HOSTILE}")
    page.locator("#map .leaflet-interactive").first.hover()  # a point's tooltip too
    nothing_ran(page, "map")
    page.keyboard.press("s")
    expect(page.locator("#shift")).to_be_visible()
    nothing_ran(page, "shift")
    assert violations == []  # the pages' own scripts and styles all pass the policy

    admin_act(database_url, world.alerts["r1"], Action.ASSIGN, service_point_id="sp1")
    phone = browser.new_page(**PHONE)
    phone.goto(responder_link(database_url, world, db, "r1"))
    expect(phone.locator("body")).to_contain_text(f"name{HOSTILE}")
    expect(phone.locator("body")).to_contain_text(f"address{HOSTILE}")
    nothing_ran(phone, "responder page")


def test_every_answer_forbids_framing_sniffing_and_inline_script(world: World) -> None:
    for path in ("/", "/r/whatever", "/static/app.css", "/vendor/leaflet/leaflet.js",
                 "/api/v1/incidents", "/healthz", "/docs"):  # fmt: skip
        answer = httpx.get(world.base + path, timeout=10)
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp, path
        if path != "/docs":  # Swagger UI starts itself with an inline script
            assert "script-src 'self';" in csp, path
            assert "unsafe" not in csp, path
    ours = call(world, "op", "GET", "/api/v1/incidents")
    assert ours.headers["x-frame-options"] == "DENY"
