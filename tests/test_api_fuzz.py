"""The whole API under schemathesis, as every kind of caller, against a real `anxin
serve` (PostgreSQL + Mosquitto): every check, positive and negative data, the
examples, coverage, fuzzing and stateful phases, the same cases on every run
(schemathesis's deterministic generation). Zero failures: a 5xx, an
undocumented status, a valid request refused, an invalid one taken, a response unlike
its schema all fail the suite. `python -m bench.fuzz` is the longer run."""

import httpx
import pytest

from bench.fuzz import fuzz
from tests.api_world import World
from tests.conftest import ServeProcess

# the suite's share of the fuzzing: about 15 s a caller on these machines
EXAMPLES = 15
CALLERS = {
    "admin": "admin",
    "district operator": "op_jiangan",
    "service point": "sp1",
    "nobody": None,
}


@pytest.mark.parametrize("caller", list(CALLERS))
def test_schemathesis_finds_nothing_wrong_with_the_api_as(
    world: World, serve: ServeProcess, caller: str
) -> None:
    user = CALLERS[caller]
    token = world.tokens[user] if user else None
    outcome = fuzz(world.base, token, role=caller, seed=None, max_examples=EXAMPLES)
    assert outcome.ok, outcome.output
    assert httpx.get(f"{world.base}/readyz", timeout=5).status_code == 200
    assert "Traceback" not in serve.log()
