"""Stand-ins for the receivers Anxin sends to (for tests and benches): real local HTTP
servers that check each request the way the receiving side's documentation says it
must be checked, written from that documentation, not from Anxin's sender code."""

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from anxin.localstack import free_port


@dataclass
class Delivery:
    message_id: str | None
    body: dict[str, Any]
    verified: bool
    at: float


def webhook_signature_ok(secret: str, headers: Any, body: bytes, now: float) -> bool:
    """README, "Webhooks": `Anxin-Signature` is `v1=` + hex HMAC-SHA256 (key: the
    secret) of `{Anxin-Timestamp}.{body}`; a timestamp more than 300 s off is refused."""
    stamp, given = headers.get("Anxin-Timestamp"), headers.get("Anxin-Signature")
    if not stamp or not given or not stamp.isdigit():
        return False
    if abs(now - int(stamp)) > 300:
        return False
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("v1=" + expected.hexdigest(), given)


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    # the default backlog (5) resets connections under a burst of concurrent senders
    request_queue_size = 256


@dataclass
class WebhookReceiver:
    """Answers 200 to a verified request, 401 to any other; `fail_next` requests get
    a 500 and `hang_next` an answer only after `hang_s` (a receiver too slow)."""

    secret: str
    port: int = field(default_factory=free_port)
    fail_next: int = 0
    hang_next: int = 0
    hang_s: float = 3.0
    deliveries: list[Delivery] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/anxin"

    def start(self) -> "WebhookReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ok = webhook_signature_ok(receiver.secret, self.headers, body, time.time())
                with receiver._lock:
                    receiver.deliveries.append(
                        Delivery(self.headers.get("Anxin-Message-Id"), json.loads(body or b"{}"),
                                 ok, time.time())
                    )  # fmt: skip
                    fail = receiver.fail_next > 0
                    receiver.fail_next -= fail
                    hang = not fail and receiver.hang_next > 0
                    receiver.hang_next -= hang
                if hang:
                    time.sleep(receiver.hang_s)
                code = 401 if not ok else (500 if fail else 200)
                answer = json.dumps({"ok": code == 200}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self, *, verified: bool = True) -> list[str | None]:
        with self._lock:
            return [d.message_id for d in self.deliveries if d.verified == verified]
