"""The operator's dashboard and the responder's phone page in headless Chromium,
against a real `anxin serve`, database and broker: an SOS published over MQTT is worked
from the queue to resolution, every step in the timeline; a service point's user sees
only its own point's incidents, on the page and through the API behind it."""

import re
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
from playwright.sync_api import Browser, Locator, Page, expect

from alerts.lifecycle import Action
from dispatch.links import link_key
from simulators.publisher import Publisher
from tests.alerts.test_lifecycle import finding, open_one, run
from tests.alerts.test_suggestions import ready
from tests.api_world import World, admin_act
from tests.conftest import Mosquitto, ServeProcess, register, wait_until

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def log_in(browser: Browser, world: World, who: str) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page.goto(world.base + "/")
    page.fill("#login-token", world.tokens[who])
    page.click("#login button[type=submit]")
    expect(page.locator("#link-state")).to_have_class("link-state up")
    return page


def a_resident_with_a_button(db: psycopg.Connection) -> None:
    """赵淑芬 lives 0.5 km from sp1 and wears an SOS button."""
    db.execute(
        "INSERT INTO residents (id, name, district, address, phone, home_lat, home_lon,"
        " medical_notes, access_notes, birth_date)"
        " VALUES ('r4', '赵淑芬', '江岸区', '江岸区一元路12号3单元501', '13900004444',"
        " 30.6045, 114.3000, '高血压，房颤', '钥匙箱密码 4711', '1941-03-08')"
    )
    db.execute(
        "INSERT INTO resident_contacts (resident_id, position, name, relation, phone)"
        " VALUES ('r4', 1, '赵强', '儿子', '13800004444')"
    )
    register(db, "btn4", kind="sos_button")
    db.execute("UPDATE devices SET resident_id = 'r4' WHERE id = 'btn4'")


def acknowledge_and_assign(page: Page, resident: str) -> Locator:
    """Open the resident's incident, acknowledge it and press assign; the detail pane."""
    page.locator("#queue-rows tr", has_text=resident).click()
    detail = page.locator("#detail")
    detail.locator('[data-action="ack"]').click()
    expect(detail.locator(".status")).to_have_text("已受理")
    detail.locator('[data-action="assign"]').click()
    return detail


def responder_link(
    database_url: str, world: World, db: psycopg.Connection, resident: str = "r4"
) -> str:
    """The link the point's SMS carries for the offer waiting on the resident's incident."""
    (offer_id,) = db.execute(
        "SELECT o.id FROM dispatch_offers o JOIN incidents i ON i.id = o.incident_id"
        " WHERE i.resident_id = %s AND o.status = 'offered'",
        (resident,),
    ).fetchone() or (None,)
    assert offer_id is not None, f"no offer waiting for {resident}'s incident"
    key = run(database_url, lambda conn: link_key(conn=conn))
    return f"{world.base}/r/{key.token(offer_id)}"


def test_an_sos_is_worked_from_the_queue_to_resolved_by_the_responders_phone(
    browser: Browser,
    world: World,
    db: psycopg.Connection,
    database_url: str,
    broker: Mosquitto,
    screenshots: Path,
) -> None:
    ready(db)
    a_resident_with_a_button(db)
    operator = log_in(browser, world, "op")
    expect(operator.locator("#queue-rows tr")).to_have_count(3)  # the world's incidents

    with Publisher("127.0.0.1", broker.port, client_id="btn4") as button:
        button.publish("anxin/v1/btn4/event", {"ts": time.time(), "type": "sos"}, "sos")
    row = operator.locator("#queue-rows tr", has_text="赵淑芬")
    expect(row).to_be_visible(timeout=2000)  # the promise: in the queue within 2 s
    expect(row.locator("td").first).to_have_text("P1")
    expect(row.locator("td.timer")).to_have_class("num timer ok")  # 60 s to acknowledge
    expect(operator).to_have_title(re.compile("P1 新事件"))  # a new P1 flashes the tab
    operator.screenshot(path=screenshots / "queue.png")

    row.click()
    detail = operator.locator("#detail")
    expect(detail.locator("h2")).to_have_text("赵淑芬")
    expect(detail).to_contain_text("钥匙箱密码 4711")
    expect(detail).to_contain_text("13800004444")
    expect(detail).not_to_contain_text("null")
    detail.locator('[data-action="ack"]').click()
    expect(detail.locator(".status")).to_have_text("已受理")
    expect(row.locator("td").nth(1)).to_have_text("已受理")

    detail.locator('[data-action="assign"]').click()
    best = detail.locator(".suggestions li.eligible").first
    expect(best).to_contain_text("一元路站")
    best.locator("button").click()
    expect(detail.locator('.timeline li[data-action="offered"]')).to_contain_text("一元路站")
    operator.screenshot(path=screenshots / "detail.png")

    phone = browser.new_context(**PHONE, locale="zh-CN").new_page()
    phone.goto(responder_link(database_url, world, db))
    expect(phone.locator("h1")).to_contain_text("赵淑芬")
    expect(phone.locator("#what")).not_to_be_empty()
    expect(phone.locator("a[href^='geo:30.6045,114.3']")).to_be_visible()
    expect(phone.locator("body")).not_to_contain_text("null")  # nothing left unfilled
    phone.screenshot(path=screenshots / "responder.png", full_page=True)

    phone.click('[data-action="accept"]')
    expect(phone.locator("#state")).to_contain_text("已派单")
    expect(detail.locator(".status")).to_have_text("已派单")  # the operator sees it, no reload
    phone.click('[data-action="arrive"]')
    expect(phone.locator("#state")).to_contain_text("已到场")
    expect(row.locator("td").nth(1)).to_have_text("已到场")
    phone.select_option("#outcome", "assisted")
    phone.fill("#note", "老人跌倒后按键，已扶起，无外伤")
    phone.click('[data-action="resolve"]')
    expect(phone.locator(".done")).to_be_visible()
    expect(row).to_have_count(0)  # resolved: off the queue

    steps = detail.locator(".timeline li")
    expect(steps.last).to_contain_text("结案")
    actions = [s.get_attribute("data-action") for s in steps.all()]
    for step in ("opened", "ack", "assign", "offered", "accept", "arrive", "resolve"):
        assert step in actions, f"{step} missing from the timeline: {actions}"
    expect(detail.locator('.timeline li[data-action="resolve"]')).to_contain_text("已协助")


def test_a_service_point_user_sees_only_its_own_points_incidents_on_the_page_and_the_api(
    browser: Browser, world: World, database_url: str
) -> None:
    # r1's incident is asked of sp1; r3's went to sp2 (the world); r2's to nobody yet
    for action in (Action.ACK, Action.ASSIGN):
        admin_act(database_url, world.alerts["r1"], action)
    page = log_in(browser, world, "sp1")
    rows = page.locator("#queue-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("王秀英")
    rows.first.click()
    expect(page.locator("#detail h2")).to_have_text("王秀英")
    expect(page.locator('#detail .actions [data-action="accept"]')).to_be_visible()
    for call_centre_only in ("ack", "assign", "cancel"):
        button = page.locator(f'#detail .actions [data-action="{call_centre_only}"]')
        expect(button).to_have_count(0)
    theirs = world.alerts["r3"]
    # with the page's own session cookie
    assert page.request.get(f"{world.base}/api/v1/alerts/{theirs}").status == 404
    assert page.request.get(f"{world.base}/api/v1/alerts/{theirs}/suggestions").status == 403
    incident = page.request.get(
        f"{world.base}/api/v1/alerts/{theirs}",
        headers={"Authorization": f"Bearer {world.tokens['admin']}"},
    ).json()["incident"]["id"]
    assert page.request.get(f"{world.base}/api/v1/incidents/{incident}").status == 404
    points = page.request.get(f"{world.base}/api/v1/map").json()["points"]
    assert [p["id"] for p in points] == ["sp1"]
    # nor by changing the page's own requests: acting on it is refused as unknown
    acked = page.request.post(
        f"{world.base}/api/v1/alerts/{theirs}/note",
        data={"note": "x"},
        headers={"X-Anxin-Request": "1"},
    )
    assert acked.status == 404


def test_the_timer_turns_amber_as_the_deadline_nears_and_red_once_escalated(
    browser: Browser, world: World, db: psycopg.Connection
) -> None:
    def incident_of(resident: str) -> str:
        return f"(SELECT incident_id FROM alerts WHERE id = {world.alerts[resident]:d})"

    db.execute(
        "UPDATE incidents SET opened_at = now() - interval '50 seconds',"
        f" escalate_at = now() + interval '20 seconds' WHERE id = {incident_of('r2')}"
    )
    db.execute(f"UPDATE incidents SET escalation_level = 1 WHERE id = {incident_of('r1')}")
    page = log_in(browser, world, "op")
    timer = {
        r: page.locator("#queue-rows tr", has_text=name).locator("td:nth-child(7)")
        for r, name in (("r1", "王秀英"), ("r2", "李建国"), ("r3", "张桂兰"))
    }
    expect(timer["r2"]).to_have_class("num timer amber")
    expect(timer["r1"]).to_have_class("num timer red")
    expect(timer["r3"]).to_have_text("✓")  # dispatched: nothing left to acknowledge


def test_the_map_shows_incidents_and_points_with_no_tile_server(
    browser: Browser, world: World, db: psycopg.Connection, screenshots: Path
) -> None:
    db.execute(
        "UPDATE residents SET home_lat = 30.59 + 0.01 * substr(id, 2)::int,"
        " home_lon = 114.29 + 0.01 * substr(id, 2)::int"
    )
    page = log_in(browser, world, "op")
    page.keyboard.press("m")
    markers = page.locator("#map path.leaflet-interactive")
    # three incidents, two points and r3's line to sp2, drawn on a plain background
    expect(markers).to_have_count(6)
    assert page.locator("#map img.leaflet-tile").count() == 0
    page.screenshot(path=screenshots / "map.png")


def test_the_shift_view_and_english_on_request(browser: Browser, world: World) -> None:
    page = log_in(browser, world, "op")
    page.keyboard.press("s")
    expect(page.locator("#shift-open")).to_contain_text("P1 3")
    expect(page.locator("#shift-acked")).to_contain_text("33% (1/3)")  # r3 was, at once
    expect(page.locator("#shift-oldest")).to_contain_text("P1")
    page.keyboard.press("l")
    expect(page.locator("[data-view=shift]")).to_have_text("This shift")
    page.keyboard.press("q")
    expect(page.locator("#queue-rows tr").first.locator("td").nth(1)).to_have_text("open")
    expect(page.locator("#queue-rows tr").first.locator("td").nth(3)).to_have_text(
        "SOS button pressed"
    )


def test_a_lost_connection_shows_itself_and_what_happened_meanwhile_arrives(
    browser: Browser, world: World, serve: ServeProcess, database_url: str
) -> None:
    page = log_in(browser, world, "op")
    serve.stop()
    expect(page.locator("#link-state")).to_have_class("link-state down")
    expect(page.locator("#link-state")).to_have_text("连接中断，正在重连…")
    admin_act(database_url, world.alerts["r2"], Action.ACK)  # while nobody was listening
    serve.start()
    expect(page.locator("#link-state")).to_have_class("link-state up", timeout=15_000)
    row = page.locator("#queue-rows tr", has_text="李建国")
    expect(row.locator("td").nth(1)).to_have_text("已受理")


def test_a_wrong_token_is_refused_in_chinese(browser: Browser, world: World) -> None:
    page = browser.new_page(locale="zh-CN")
    page.goto(world.base + "/")
    page.fill("#login-token", "anx_000000000000_wrong")
    page.keyboard.press("Enter")
    expect(page.locator("#login-error")).to_contain_text("令牌无效")
    expect(page.locator("#app")).to_be_hidden()


def test_a_district_operator_sees_only_their_district(browser: Browser, world: World) -> None:
    page = log_in(browser, world, "op_jiangan")
    expect(page.locator("#who")).to_contain_text("接警员")
    expect(page.locator("#queue-rows tr")).to_have_count(1)
    expect(page.locator("#queue-rows tr").first).to_contain_text("江岸区")


def test_keys_open_and_acknowledge_and_times_are_the_operators_zone_not_the_browsers(
    browser: Browser, world: World, db: psycopg.Connection, database_url: str
) -> None:
    db.execute(
        "INSERT INTO vitals (ts, device_id, hr, spo2)"
        " SELECT now() - g * interval '10 minutes', 'w1', 70 + g % 7, 96"
        " FROM generate_series(1, 100) g"
    )
    page = browser.new_page(timezone_id="America/New_York", locale="zh-CN")
    page.goto(world.base + "/")
    page.fill("#login-token", world.tokens["op"])
    page.keyboard.press("Enter")
    expect(page.locator("#queue-rows tr")).to_have_count(3)
    page.keyboard.press("j")  # the first row: r1's, the oldest P1
    page.keyboard.press("Enter")
    detail = page.locator("#detail")
    expect(detail.locator("h2")).to_have_text("王秀英")
    expect(detail.locator(".chart canvas").first).to_be_visible()  # 24 h of vitals
    page.keyboard.press("a")
    expect(detail.locator(".status")).to_have_text("已受理")
    page.keyboard.press("n")
    page.keyboard.type("正在联系家属")
    admin_act(database_url, world.alerts["r1"], Action.NOTE, note="主管：已知悉")
    expect(detail.locator(".timeline")).to_contain_text("主管：已知悉")  # re-rendered live
    expect(detail.locator("#note")).to_have_value("正在联系家属")  # and the typing survived
    expect(detail.locator("#note")).to_be_focused()
    (opened,) = db.execute(
        "SELECT at FROM alert_audit WHERE alert_id = %s ORDER BY id LIMIT 1",
        (world.alerts["r1"],),
    ).fetchone() or (None,)
    shanghai = opened.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%m/%d %H:%M:%S")
    expect(detail.locator(".timeline li time").first).to_have_text(shanghai)
    page.keyboard.press("Escape")  # out of the note first, keeping what was typed
    expect(detail.locator("#note")).not_to_be_focused()
    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()


def test_suggestions_the_operator_opened_stay_open_when_the_incident_changes(
    browser: Browser, world: World, db: psycopg.Connection, database_url: str
) -> None:
    ready(db)
    page = log_in(browser, world, "op")
    detail = acknowledge_and_assign(page, "王秀英")
    suggestions = detail.locator(".suggestions li")
    expect(suggestions.first).to_be_visible()
    shown = suggestions.count()
    # a change made elsewhere (or the acknowledgement's own, arriving late) re-renders
    admin_act(database_url, world.alerts["r1"], Action.NOTE, note="主管：已知悉")
    expect(detail.locator(".timeline")).to_contain_text("主管：已知悉")
    expect(suggestions).to_have_count(shown)  # still there, under the operator's cursor
    expect(detail.locator(".suggestions button.primary")).to_be_focused()


def test_d_then_enter_assigns_the_suggested_point_from_the_keyboard(
    browser: Browser, world: World, db: psycopg.Connection
) -> None:
    ready(db)
    page = log_in(browser, world, "op")
    expect(page.locator("#queue-rows tr")).to_have_count(3)
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    detail = page.locator("#detail")
    expect(detail.locator("h2")).to_have_text("王秀英")
    page.keyboard.press("a")
    expect(detail.locator(".status")).to_have_text("已受理")
    page.keyboard.press("d")
    expect(detail.locator(".suggestions button.primary")).to_be_focused()
    page.keyboard.press("Enter")  # the focused suggestion's own button: assign
    expect(detail.locator("header")).to_contain_text("→ 一元路站")
    expect(detail.locator("h2")).to_have_text("王秀英")  # not re-opened, not another


def test_the_responders_page_follows_a_cancellation_and_says_why_in_chinese(
    browser: Browser, world: World, db: psycopg.Connection, database_url: str
) -> None:
    ready(db)
    alert_id = world.alerts["r1"]
    admin_act(database_url, alert_id, Action.ACK)
    admin_act(database_url, alert_id, Action.ASSIGN, service_point_id="sp1")
    page_url = responder_link(database_url, world, db, "r1")
    link = page_url.rsplit("/", 1)[1]
    phone = browser.new_page(**PHONE)
    phone.goto(page_url)
    expect(phone.locator('[data-action="accept"]')).to_be_visible()
    admin_act(database_url, alert_id, Action.CANCEL, note="家属已到")
    # the page follows the call centre's change by itself: nothing left to accept
    expect(phone.locator('[data-action="accept"]')).to_have_count(0, timeout=8000)
    expect(phone.locator("#state")).to_contain_text("已撤回")
    refused = httpx.post(f"{world.base}/api/v1/links/{link}/accept", timeout=5)
    assert refused.status_code == 409
    assert refused.json()["code"] == "offer_answered"
    assert refused.json()["message"] == "此派单已撤回，无需再操作"


def test_the_detail_speaks_chinese_words_names_and_24_hour_times_not_codes(
    browser: Browser, world: World, db: psycopg.Connection, database_url: str
) -> None:
    db.execute(
        "INSERT INTO vitals (ts, device_id, hr, spo2)"
        " SELECT now() - g * interval '10 minutes', 'w1', 70 + g % 7, 96"
        " FROM generate_series(1, 100) g"
    )
    ready(db)
    alert_id = world.alerts["r1"]
    for action in (Action.ACK, Action.ASSIGN):
        admin_act(database_url, alert_id, action, service_point_id="sp1")
    link = responder_link(database_url, world, db, "r1").rsplit("/", 1)[1]
    assert httpx.post(f"{world.base}/api/v1/links/{link}/accept", timeout=5).status_code == 200
    page = log_in(browser, world, "op")
    page.locator("#queue-rows tr", has_text="王秀英").click()
    detail = page.locator("#detail")
    expect(detail).to_contain_text("智能手表 · w1")  # the kind in words, not "watch"
    timeline = detail.locator(".timeline")
    expect(timeline).to_contain_text("系统")  # who opened it
    expect(timeline).to_contain_text("一元路站（短信链接）")  # a point by its name
    expect(timeline).not_to_contain_text("system")
    expect(timeline).not_to_contain_text("sp1（")
    legend = detail.locator(".chart .u-legend")
    expect(legend).to_contain_text("心率")
    expect(legend).to_contain_text("血氧")
    expect(legend).not_to_contain_text("HR")
    box = detail.locator(".chart .u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(legend.locator("tr").first).to_contain_text(re.compile(r"\d\d/\d\d \d\d:\d\d:\d\d"))
    expect(legend).not_to_contain_text(re.compile("[AP]M|上午|下午"))


def test_an_escalated_incident_shows_how_overdue_and_repeated_steps_are_one_row(
    browser: Browser, world: World, db: psycopg.Connection
) -> None:
    incident = "(SELECT incident_id FROM alerts WHERE id = %s)"
    ten_minutes_ago = "opened_at = now() - interval '10 minutes'"
    db.execute(f"UPDATE incidents SET {ten_minutes_ago} WHERE id = {incident}",
               (world.alerts["r1"],))  # fmt: skip
    page = log_in(browser, world, "op")
    for level in range(1, 5):  # the real escalation worker, four steps, no waiting
        db.execute(f"UPDATE incidents SET escalate_at = now() WHERE id = {incident}",
                   (world.alerts["r1"],))  # fmt: skip
        wait_until(
            lambda level=level: (
                db.execute(
                    f"SELECT escalation_level FROM incidents WHERE id = {incident}",
                    (world.alerts["r1"],),
                ).fetchone()
                == (level,)
            ),
            timeout=10,
            what=f"escalation step {level}",
        )
    row = page.locator("#queue-rows tr", has_text="王秀英")
    # the next step is seconds away, but the first deadline passed minutes ago
    expect(row.locator("td.timer")).to_contain_text("超时")
    expect(row.locator("td.timer")).to_have_class("num timer red")
    row.click()
    steps = page.locator("#detail .timeline li[data-action='escalated']")
    expect(steps).to_have_count(2)  # to the supervisor; then to the duty manager ×3
    expect(steps.nth(1)).to_contain_text("×3")


def test_a_new_p1_below_the_fold_is_announced_where_the_operator_looks(
    browser: Browser, world: World, db: psycopg.Connection, database_url: str, broker: Mosquitto
) -> None:
    many = [f"x{k}" for k in range(40)]
    register(db, *many)
    for device in many:
        open_one(database_url, finding(device))
    a_resident_with_a_button(db)
    page = browser.new_page(viewport={"width": 1400, "height": 600}, locale="zh-CN")
    page.goto(world.base + "/")
    page.fill("#login-token", world.tokens["op"])
    page.click("#login button[type=submit]")
    expect(page.locator("#queue-rows tr")).to_have_count(43)
    with Publisher("127.0.0.1", broker.port, client_id="btn4") as button:
        button.publish("anxin/v1/btn4/event", {"ts": time.time(), "type": "sos"}, "sos")
    row = page.locator("#queue-rows tr", has_text="赵淑芬")
    expect(row).to_have_count(1)
    expect(row).not_to_be_in_viewport()  # the newest P1 sorts after the older ones
    bar = page.locator("#new-p1")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("赵淑芬")
    bar.click()
    expect(row).to_be_in_viewport()
    expect(row).to_have_class(re.compile("selected"))


def test_a_refused_action_is_explained_to_the_operator_in_chinese(
    browser: Browser, world: World
) -> None:
    page = log_in(browser, world, "op")  # 王秀英 has no home on record, her watch no fix
    acknowledge_and_assign(page, "王秀英")
    toast = page.locator(".toast")
    expect(toast).to_contain_text("没有登记住址，设备也未报告位置，无法推荐服务点")
    expect(toast).not_to_contain_text(re.compile("[a-z]{4,}"))  # no English, no codes
