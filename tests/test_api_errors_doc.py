"""docs/api-errors.md lists every code the API can answer: a new error class, a new
`code=` at a raise, or a new refusal of the edge fails here until it is written down."""

import ast
import importlib
import pkgutil
import re
from pathlib import Path

from anxin import request_guard
from kernel.errors import AnxinError

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("anxin", "alerts", "devices", "dispatch", "kernel")
DOC = (ROOT / "docs" / "api-errors.md").read_text(encoding="utf-8")


def _error_classes() -> list[type[AnxinError]]:
    for package in PACKAGES:
        for module in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            importlib.import_module(module.name)
    found, todo = [], [AnxinError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _codes_at_raises(error_names: set[str]) -> set[str]:
    codes = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) in error_names:
                    codes |= {
                        k.value.value for k in node.keywords
                        if k.arg == "code" and isinstance(k.value, ast.Constant)
                    }  # fmt: skip
    return codes


def _codes_in_answers() -> set[str]:
    # the answers the HTTP layer writes itself: {"code": "..."} literals, and its table
    # of what routing refuses (status: (code, Chinese, English))
    codes = set()
    for name in ("http_errors.py", "request_guard.py"):
        text = (ROOT / "anxin" / name).read_text(encoding="utf-8")
        codes |= set(re.findall(r'"code": "([a-z_]+)"', text))
        codes |= set(re.findall(r'\d{3}: \("([a-z_]+)"', text))
        codes |= set(re.findall(r'\(\d{3}, "([a-z_]+)"\)', text))
    return codes


def test_every_code_the_api_answers_is_in_the_docs() -> None:
    classes = _error_classes()
    codes = {cls.code for cls in classes} - {"error"}  # the base's, never raised itself
    codes |= _codes_at_raises({cls.__name__ for cls in classes})
    codes |= set(request_guard.WORDS) | _codes_in_answers()
    missing = sorted(c for c in codes if f"`{c}`" not in DOC)
    assert not missing, f"not in docs/api-errors.md: {missing}"
