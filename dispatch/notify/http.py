"""One POST to a receiver, timed, with the failures every channel treats alike: the
receiver unreachable or too slow, or answering that it is busy or broken (408, 425,
429, 5xx) are worth another try later."""

import time
from dataclasses import dataclass
from typing import Any

import httpx

from dispatch.notify.outbox import Result

RETRYABLE = (408, 425, 429)


@dataclass(frozen=True)
class Answer:
    response: httpx.Response
    took_ms: float

    def failed(self, error: str, *, retry: bool = False, receipt: Any = None) -> Result:
        return Result(
            ok=False, status_code=self.response.status_code, error=error, retry=retry,
            receipt=receipt, took_ms=self.took_ms,
        )  # fmt: skip

    def json(self) -> dict[str, Any] | Result:
        """The answer's JSON object, or a Result to try again: a provider's gateway
        answering a page instead of JSON is its trouble, not a refusal."""
        try:
            body = self.response.json()
        except ValueError:
            return self.failed(f"HTTP {self.response.status_code}: not JSON", retry=True)
        if not isinstance(body, dict):
            return self.failed(f"HTTP {self.response.status_code}: not a JSON object", retry=True)
        return body

    def sent(self, receipt: dict[str, Any] | None) -> Result:
        return Result(
            ok=True, status_code=self.response.status_code, receipt=receipt, took_ms=self.took_ms
        )


async def post(client: httpx.AsyncClient, url: str, **kw: Any) -> Answer | Result:
    """The receiver's answer, or the Result of a failure to try again."""
    started = time.perf_counter()
    try:
        response = await client.post(url, **kw)
    except httpx.TimeoutException as exc:  # our words and the kind, not httpx's sentence
        error = f"timeout: no answer in time ({type(exc).__name__})"
        return Result(ok=False, error=error, retry=True, took_ms=_ms(started))
    except httpx.HTTPError as exc:
        error = f"unreachable: the receiver could not be reached ({type(exc).__name__})"
        return Result(ok=False, error=error, retry=True, took_ms=_ms(started))
    answer = Answer(response, _ms(started))
    code = response.status_code
    if code in RETRYABLE or code >= 500:
        return answer.failed(f"HTTP {code}: {response.text[:200]}", retry=True)
    return answer


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
