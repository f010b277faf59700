"""The architecture as the folders show it, checked: ingest reaches alerts through one
door, each domain writes only its own tables and reads only those and what another
publishes to it, no domain imports the composition root, the test machinery stays out
of the product, urgent events are defined once."""

import ast
import re
from pathlib import Path

from alerts.detect.events import IMMEDIATE
from devices.models import URGENT_EVENTS

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ("access", "ingest", "alerts", "devices", "dispatch")
# what anxin/ wires together: none of it may import anxin
WIRED = (*DOMAINS, "gateways", "kernel", "reports", "simulators")
# the one module of the product that may stand up testbed's services: `anxin demo`
DEMO = "anxin/demo.py"
# Which domain writes each table (schema.sql creates them all).
OWNER = {
    "residents": "devices",
    "devices": "devices",
    "mqtt_accounts": "devices",
    "device_commands": "devices",
    "vitals": "ingest",
    "events": "ingest",
    "locations": "ingest",
    "device_status": "ingest",
    "dead_letters": "ingest",
    "resident_contacts": "devices",
    "users": "access",
    "alerts": "alerts",
    "incidents": "alerts",
    "alert_findings": "alerts",
    "alert_audit": "alerts",
    "resident_overrides": "alerts",
    "detector_state": "alerts",
    "service_points": "dispatch",
    "service_point_staff": "dispatch",
    "dispatch_offers": "dispatch",
    "service_requests": "dispatch",
    "webhooks": "dispatch",
    "chat_bots": "dispatch",
    "app_secrets": "dispatch",
    "outbox": "dispatch",
    "outbox_attempts": "dispatch",
}
# What a domain publishes for the others to read: views over its tables, whose columns
# are the contract (schema.sql's last section). Its tables only it reads.
VIEWS = {
    "resident_directory": "devices",
    "contact_directory": "devices",
    "device_register": "devices",
    "stored_vitals": "ingest",
    "stored_events": "ingest",
    "stored_locations": "ingest",
    "stored_status": "ingest",
    "incident_history": "alerts",
    "help_request_history": "dispatch",
}
READS = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)")
WRITES = re.compile(r"\b(?:INSERT INTO|UPDATE|COPY|DELETE FROM|TRUNCATE)\s+(\w+)", re.I)


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_ingest_reaches_alerts_only_through_its_intake() -> None:
    reached = {
        (path.relative_to(ROOT).as_posix(), module)
        for path in sources("ingest")
        for module in imported_modules(path)
        if module.split(".")[0] == "alerts" and module != "alerts.intake"
    }
    assert reached == set()


def test_devices_and_dispatch_do_not_reach_into_ingest_or_alerts() -> None:
    for package in ("devices", "dispatch"):
        for path in sources(package):
            for module in imported_modules(path):
                assert module.split(".")[0] not in ("ingest", "alerts"), (path, module)


def test_a_gateway_reaches_ingest_only_as_a_device_does() -> None:
    """Through the broker: the topic contract and an MQTT client, nothing else of the
    product; and only the composition root starts a gateway."""
    allowed = {"ingest.topics", "ingest.consumer"}
    reached = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sources("gateways")
        for module in imported_modules(path)
        if module.split(".")[0] in (*DOMAINS, "anxin") and module not in allowed
    }
    assert reached == set()
    assert importers_of("gateways") == set()


def test_reports_read_every_domain_and_no_domain_reads_them() -> None:
    assert importers_of("reports") == set()


def importers_of(package: str) -> set[str]:
    """Which modules of what anxin/ wires import `package` (only anxin/ may)."""
    return {
        f"{path.relative_to(ROOT)} imports {module}"
        for wired in WIRED
        for path in sources(wired)
        for module in imported_modules(path)
        if (module == package or module.startswith(f"{package}."))
        and not path.relative_to(ROOT).as_posix().startswith(package.replace(".", "/"))
    }


def test_the_incident_core_never_imports_the_response_on_top_of_it() -> None:
    """alerts/response/ (sending help, answers from phones) builds on the core; the
    core is handed the dispatcher, it does not reach for it."""
    reached = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sources("alerts")
        if "response" not in path.relative_to(ROOT / "alerts").parts
        for module in imported_modules(path)
        if module.startswith("alerts.response")
    }
    assert reached == set()
    assert importers_of("alerts.response") == set()


def test_access_stands_beneath_every_domain() -> None:
    """Users, roles and tokens are asked of by every router, and ask nothing of them."""
    reached = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sources("access")
        for module in imported_modules(path)
        if module.split(".")[0] in (*DOMAINS, "anxin", "simulators")
        and module.split(".")[0] != "access"
    }
    assert reached == set()


def test_no_domain_imports_the_composition_root() -> None:
    strays = [
        f"{path.relative_to(ROOT)} imports {module}"
        for package in WIRED
        for path in sources(package)
        for module in imported_modules(path)
        if module.split(".")[0] == "anxin"
    ]
    assert strays == []


def test_only_tests_benches_and_the_demo_import_the_testbed() -> None:
    strays = [
        f"{path.relative_to(ROOT)} imports {module}"
        for package in (*WIRED, "anxin")
        for path in sources(package)
        for module in imported_modules(path)
        if module.split(".")[0] == "testbed" and path.relative_to(ROOT).as_posix() != DEMO
    ]
    assert strays == []


def test_the_product_holds_no_stand_in_or_local_service() -> None:
    """Stand-in receivers (HTTP servers of the standard library) and the starting of a
    throw-away PostgreSQL or broker live in testbed/, not among what is deployed."""
    machinery = re.compile(r"\bhttp\.server\b|\binitdb\b|\bpg_ctl\b")
    strays = [
        path.relative_to(ROOT).as_posix()
        for package in (*WIRED, "anxin")
        for path in sources(package)
        if machinery.search(path.read_text())
    ]
    assert strays == []


def test_the_testbed_stands_apart_from_the_product() -> None:
    """It starts the product's services and checks what the product sends as the
    receivers' own documentation says; it is written from that, not from our code."""
    reached = {
        module
        for path in sources("testbed")
        for module in imported_modules(path)
        if module.split(".")[0] in (*WIRED, "anxin")
    }
    assert reached == set()


def test_each_domain_writes_only_its_own_tables() -> None:
    strays = []
    for package in (*DOMAINS, "anxin"):
        for path in sources(package):
            for table in WRITES.findall(path.read_text()):
                table = table.lower()
                if table.startswith("stage_") or table not in OWNER:
                    continue  # a session's staging table; a word in a comment
                if OWNER[table] != package:
                    strays.append(f"{path.relative_to(ROOT)} writes {table}")
    assert strays == []


def test_a_domain_reads_only_its_own_tables_and_the_views_others_publish() -> None:
    strays = []
    for package in (*DOMAINS, "reports"):
        for path in sources(package):
            for table in READS.findall(sql_of(path)):
                owner = OWNER.get(table.lower())
                if owner is None or owner == package:
                    continue  # its own, a view, a CTE or a word in a comment
                strays.append(f"{path.relative_to(ROOT)} reads {table} ({owner}'s)")
    assert strays == []


def test_each_published_view_is_in_the_schema_and_reads_only_its_owners_tables() -> None:
    schema = (ROOT / "schema.sql").read_text()
    for view, owner in VIEWS.items():
        pattern = rf"CREATE OR REPLACE VIEW {view} AS\s+SELECT .+? FROM (\w+);"
        found = re.search(pattern, schema, re.S)
        assert found, view
        assert OWNER[found[1]] == owner, view


def sql_of(path: Path) -> str:
    """The module without its import lines (`from alerts import ...` is no SQL)."""
    lines = path.read_text().splitlines()
    return "\n".join(line for line in lines if not re.match(r"\s*(from|import)\s", line))


def test_urgent_events_are_defined_once_and_each_has_its_alert() -> None:
    definitions = [
        path.relative_to(ROOT).as_posix()
        for package in (*DOMAINS, "anxin", "kernel")
        for path in sources(package)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "URGENT_EVENTS" for t in node.targets)
    ]
    assert definitions == ["devices/models.py"]
    assert set(IMMEDIATE) == URGENT_EVENTS
