"""No library's sentence reaches a reader: an exception caught from a library (or from
Python) is never turned into text, whether for a dead letter, an API answer, a message
sent out, a CLI line or a log line. What the code may read from it is structure (its
class's name, SQLSTATE, a byte offset); a sentence is the project's own.

A release of msgspec reworded its UTF-8 error and broke a fresh clone's suite, because
the dead letter's reason was msgspec's sentence; this walks the source for that shape."""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parents[1]
# every package of the project (a new room is read without being listed here)
PACKAGES = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")


def sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from (ROOT / package).rglob("*.py")


def project_classes() -> set[str]:
    names = set()
    for path in sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    return names


def caught(handler: ast.ExceptHandler) -> list[str]:
    kinds = handler.type
    nodes = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds] if kinds else []
    return [n.attr if isinstance(n, ast.Attribute) else getattr(n, "id", "?") for n in nodes]


LOG_CALLS = {"debug", "info", "warning", "error", "critical", "exception", "log"}
TEXT_CALLS = {"str", "repr", "format", "print"}


def texts_made_of(name: str, body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Places in `body` where the exception bound to `name` itself becomes text:
    str(exc), repr(exc), f"{exc}", "%s" % exc, print(exc), a log line's argument.
    Its attributes (exc.sqlstate, exc.start) and its class's name are structure."""
    for stmt in body:
        for parent in ast.walk(stmt):
            if isinstance(parent, ast.FormattedValue):
                children = [parent.value]
            elif isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Mod):
                children = [parent.right, *getattr(parent.right, "elts", [])]
            elif isinstance(parent, ast.Call):
                func = parent.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called not in TEXT_CALLS | LOG_CALLS:
                    continue
                children = [
                    *parent.args,
                    *(k.value for k in parent.keywords if k.arg != "exc_info"),
                ]
            else:
                continue
            for child in children:
                if isinstance(child, ast.Name) and child.id == name:
                    yield child


def test_no_caught_librarys_exception_is_turned_into_text() -> None:
    ours = project_classes()
    found = []
    for path in sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for handler in ast.walk(tree):
            if not isinstance(handler, ast.ExceptHandler) or handler.name is None:
                continue
            if all(kind in ours for kind in caught(handler)):
                continue  # our own errors carry our own words
            for node in texts_made_of(handler.name, handler.body):
                found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}")
    assert found == []
