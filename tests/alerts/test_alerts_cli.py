"""`anxin alerts`: from the queue to resolution in a terminal, audited by name."""

import json

import psycopg

from tests.alerts.test_lifecycle import finding, open_one
from tests.anxin.test_cli import anxin
from tests.conftest import register


def test_an_sos_worked_from_the_terminal_from_queue_to_resolution(
    anxin_env: dict[str, str], db: psycopg.Connection, database_url: str
) -> None:
    db.execute("INSERT INTO residents (id, name, district) VALUES ('r1', '王秀英', '江岸区')")
    register(db, "w1")
    db.execute("UPDATE devices SET resident_id = 'r1'")
    alert = open_one(database_url, finding("w1"))

    queue = anxin("alerts", "list", env=anxin_env)
    assert queue.returncode == 0, queue.stderr
    (line,) = queue.stdout.strip().splitlines()
    assert line.startswith(f"P1  incident {alert.incident_id} ")
    assert " 待受理 " in line  # the status in words
    assert f"王秀英  江岸区  [#{alert.id} 一键呼救按钮被按下]" in line

    ack = anxin("alerts", "ack", str(alert.id), "--by", "张三", env=anxin_env)
    assert ack.stdout.strip().startswith(f"incident {alert.incident_id}: open -> acknowledged")
    early = anxin("alerts", "resolve", str(alert.id), "--note", "ok", env=anxin_env)
    assert early.returncode == 2
    assert "--outcome" in early.stderr
    done = anxin(
        "alerts", "resolve", str(alert.id), "--outcome", "false_alarm",
        "--note", "老人误按，电话确认无事", "--by", "张三", env=anxin_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    again = anxin("alerts", "ack", str(alert.id), env=anxin_env)
    assert (again.returncode, again.stderr.strip()) == (
        1,
        "anxin: cannot ack an incident that is resolved; legal from resolved: note",
    )
    assert anxin("alerts", "list", env=anxin_env).stdout.strip() == "no incidents"
    closed = anxin("alerts", "list", "--status", "resolved", "--json", env=anxin_env)
    assert json.loads(closed.stdout)["outcome"] == "false_alarm"

    shown = json.loads(anxin("alerts", "show", str(alert.id), env=anxin_env).stdout)
    steps = [(e["actor"], e["action"]) for e in shown["timeline"]]
    assert steps == [
        ("system", "opened"),
        ("system", "alert_opened"),
        ("张三", "ack"),
        ("张三", "resolve"),
    ]
    assert shown["resident"]["name"] == "王秀英"
    missing = anxin("alerts", "show", "424242", env=anxin_env)
    assert (missing.returncode, missing.stderr.strip()) == (1, "anxin: no alert 424242")
