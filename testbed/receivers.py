"""Stand-ins for the receivers Anxin sends to (for tests and benches): real local HTTP
servers that check each request the way the receiving side's documentation says it
must be checked, written from that documentation, not from Anxin's sender code: an
integrator's webhook endpoint, Alibaba Cloud and Tencent Cloud SMS, DingTalk's and
WeCom's group robots."""

import base64
import hashlib
import hmac
import json
import random
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, quote_plus, unquote, urlsplit

from testbed.services import free_port


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes
    verified: bool = False
    why: str = ""  # why it was refused
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    # the default backlog (5) resets connections under a burst of concurrent senders
    request_queue_size = 256


@dataclass
class StandIn:
    """A local server. `fail_next` requests get a 500 and `hang_next` an answer only
    after `hang_s` (a receiver too slow), plus up to `jitter_s` more at random (so
    answers come one by one, not in waves); others are checked by `check` and
    answered by `reply`. `most_at_once`: the most requests it was answering at once."""

    port: int = field(default_factory=free_port)
    fail_next: int = 0
    hang_next: int = 0
    hang_s: float = 3.0
    jitter_s: float = 0.0
    most_at_once: int = 0
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _answering: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def check(self, request: Request) -> str:
        """Why the request is refused, or "" if it is as documented."""
        raise NotImplementedError

    def reply(self, request: Request) -> tuple[int, Any]:
        raise NotImplementedError

    def answered(self, request: Request, answer: Any) -> None:
        """After a verified request was answered (an SMS provider reports delivery)."""

    def start(self) -> Self:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                request = Request(
                    path=parts.path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(int(self.headers.get("Content-Length", 0))),
                )
                request.why = stand_in.check(request)
                request.verified = not request.why
                with stand_in._lock:
                    stand_in.requests.append(request)
                    fail = stand_in.fail_next > 0
                    stand_in.fail_next -= fail
                    hang = not fail and stand_in.hang_next > 0
                    stand_in.hang_next -= hang
                    stand_in._answering += 1
                    stand_in.most_at_once = max(stand_in.most_at_once, stand_in._answering)
                try:
                    if hang:
                        time.sleep(stand_in.hang_s + random.uniform(0, stand_in.jitter_s))
                    code, answer = (500, {"error": "down"}) if fail else stand_in.reply(request)
                    data = json.dumps(answer, ensure_ascii=False).encode()
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    with stand_in._lock:
                        stand_in._answering -= 1
                if request.verified and not fail:
                    stand_in.answered(request, answer)

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

    def verified(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.verified]


# -- an integrator's webhook endpoint (Anxin's docs/notifications.md, "Webhooks") ------------


def webhook_signature_ok(secret: str, headers: Any, body: bytes, now: float) -> bool:
    """`Anxin-Signature` is `v1=` + hex HMAC-SHA256 (key: the secret) of
    `{Anxin-Timestamp}.{body}`; a timestamp more than 300 s off is refused."""
    stamp, given = headers.get("anxin-timestamp"), headers.get("anxin-signature")
    if not stamp or not given or not stamp.isdigit():
        return False
    if abs(now - int(stamp)) > 300:
        return False
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("v1=" + expected.hexdigest(), given)


@dataclass
class WebhookReceiver(StandIn):
    secret: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/anxin"

    def check(self, request: Request) -> str:
        ok = webhook_signature_ok(self.secret, request.headers, request.body, time.time())
        return "" if ok else "bad signature or timestamp"

    def reply(self, request: Request) -> tuple[int, Any]:
        return (200, {"ok": True}) if request.verified else (401, {"ok": False})

    def ids(self, *, verified: bool = True) -> list[str | None]:
        with self._lock:
            return [
                r.headers.get("anxin-message-id") for r in self.requests if r.verified == verified
            ]


# -- delivery reports, as the SMS providers push them -----------------------------------------


@dataclass
class _Reporting(StandIn):
    """An SMS provider that pushes a delivery report for each text it accepted to
    `report_url` (when set), `report_after_s` later, as the provider's callback does:
    delivered, except to the phones in `undeliverable`."""

    report_url: str = ""
    undeliverable: set[str] = field(default_factory=set)
    report_after_s: float = 0.2
    reports: list[dict[str, Any]] = field(default_factory=list)

    def report(self, request: Request, answer: Any) -> dict[str, Any]:
        raise NotImplementedError

    def answered(self, request: Request, answer: Any) -> None:
        if not self.report_url:
            return
        item = self.report(request, answer)
        threading.Timer(self.report_after_s, self._push, (item,)).start()

    def _push(self, item: dict[str, Any]) -> None:
        data = json.dumps([item], ensure_ascii=False).encode()
        pushed = urllib.request.Request(
            self.report_url, data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(pushed, timeout=10) as response:
            item["answer"] = json.loads(response.read())
        with self._lock:
            self.reports.append(item)


def _report_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


# -- Alibaba Cloud SMS: SendSms, RPC signature v1 -------------------------------------------


def _aliyun_encode(text: str) -> str:
    """As the RPC signature document describes it: URL-encode in UTF-8, then '+' becomes
    %20, '*' %2A, and %7E goes back to '~'."""
    return quote_plus(text, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


@dataclass
class AliyunSmsStandIn(_Reporting):
    key_id: str = "LTAI-test"
    key_secret: str = "aliyun-secret"
    sign_name: str = "安心"
    # template code -> the parameter names it was approved with
    templates: dict[str, set[str]] = field(default_factory=dict)
    nonces: set[str] = field(default_factory=set)

    def sent(self) -> list[dict[str, str]]:
        return [dict(parse_qsl(r.body.decode())) for r in self.verified()]

    def check(self, request: Request) -> str:
        params = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        for name in ("AccessKeyId", "Action", "Format", "SignatureMethod", "SignatureNonce",
                     "SignatureVersion", "Timestamp", "Version", "Signature", "PhoneNumbers",
                     "SignName", "TemplateCode"):  # fmt: skip
            if not params.get(name):
                return f"MissingParameter: {name}"
        if params["AccessKeyId"] != self.key_id:
            return "InvalidAccessKeyId.NotFound"
        if (params["Action"], params["Version"]) != ("SendSms", "2017-05-25"):
            return "InvalidAction"
        if (params["SignatureMethod"], params["SignatureVersion"]) != ("HMAC-SHA1", "1.0"):
            return "InvalidSignatureMethod"
        stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs(time.time() - stamp.timestamp()) > 900:
            return "InvalidTimeStamp.Expired"
        if params["SignatureNonce"] in self.nonces:
            return "SignatureNonceUsed"
        given = params.pop("Signature")
        canonical = "&".join(
            f"{_aliyun_encode(k)}={_aliyun_encode(v)}" for k, v in sorted(params.items())
        )
        to_sign = "POST&%2F&" + _aliyun_encode(canonical)
        digest = hmac.new((self.key_secret + "&").encode(), to_sign.encode(), hashlib.sha1)
        if not hmac.compare_digest(base64.b64encode(digest.digest()).decode(), given):
            return "SignatureDoesNotMatch"
        self.nonces.add(params["SignatureNonce"])
        if params["SignName"] != self.sign_name:
            return "isv.SMS_SIGNATURE_ILLEGAL"
        wanted = self.templates.get(params["TemplateCode"])
        if wanted is None:
            return "isv.SMS_TEMPLATE_ILLEGAL"
        if set(json.loads(params.get("TemplateParam") or "{}")) != wanted:
            return "isv.TEMPLATE_PARAMS_ILLEGAL"
        return ""

    def reply(self, request: Request) -> tuple[int, Any]:
        if not request.verified:
            code = 400 if request.why.startswith(("Signature", "Missing", "Invalid")) else 200
            return code, {"Code": request.why, "Message": request.why, "RequestId": "r"}
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"biz{len(self.requests)}",
                     "RequestId": f"req{len(self.requests)}"}  # fmt: skip

    def report(self, request: Request, answer: Any) -> dict[str, Any]:
        """SmsReport's fields: OutId comes back as `out_id`."""
        params = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        ok = params["PhoneNumbers"] not in self.undeliverable
        return {
            "phone_number": params["PhoneNumbers"], "send_time": _report_time(),
            "report_time": _report_time(), "success": ok,
            "err_code": "DELIVERED" if ok else "UNDELIV", "err_msg": "用户接收成功" if ok
            else "用户接收失败", "sms_size": "1", "biz_id": answer["BizId"],
            "out_id": params.get("OutId", ""),
        }  # fmt: skip


# -- Tencent Cloud SMS: SendSms, TC3-HMAC-SHA256 ---------------------------------------------


@dataclass
class TencentSmsStandIn(_Reporting):
    key_id: str = "AKID-test"
    key_secret: str = "tencent-secret"
    app_id: str = "1400000001"
    sign_name: str = "安心"
    # template id -> how many parameters it was approved with
    templates: dict[str, int] = field(default_factory=dict)

    def check(self, request: Request) -> str:
        h = request.headers
        if h.get("x-tc-action") != "SendSms" or h.get("x-tc-version") != "2021-01-11":
            return "InvalidAction"
        stamp = h.get("x-tc-timestamp", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return "AuthFailure.SignatureExpire"
        auth = h.get("authorization", "")
        prefix = "TC3-HMAC-SHA256 Credential="
        if not auth.startswith(prefix):
            return "AuthFailure.InvalidAuthorization"
        rest = auth.removeprefix("TC3-HMAC-SHA256 ")
        fields = dict(part.strip().split("=", 1) for part in rest.split(","))
        key_id, date, service, tail = fields["Credential"].split("/")
        if key_id != self.key_id:
            return "AuthFailure.SecretIdNotFound"
        if date != datetime.fromtimestamp(int(stamp), UTC).strftime("%Y-%m-%d"):
            return "AuthFailure.SignatureFailure"
        signed = fields["SignedHeaders"].split(";")
        # names and values in lower case, trimmed, one per line
        headers = "".join(f"{name}:{h.get(name, '').strip().lower()}\n" for name in signed)
        canonical = "\n".join(
            ["POST", "/", "", headers, ";".join(signed), hashlib.sha256(request.body).hexdigest()]
        )
        scope = f"{date}/{service}/{tail}"
        to_sign = "\n".join(
            ["TC3-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        key = hmac.new(("TC3" + self.key_secret).encode(), date.encode(), hashlib.sha256).digest()
        key = hmac.new(key, service.encode(), hashlib.sha256).digest()
        key = hmac.new(key, b"tc3_request", hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields["Signature"]):
            return "AuthFailure.SignatureFailure"
        body = request.json()
        if body.get("SmsSdkAppId") != self.app_id:
            return "FailedOperation.SmsSdkAppIdVerifyFail"
        if body.get("SignName") != self.sign_name:
            return "FailedOperation.SignatureIncorrectOrUnapproved"
        wanted = self.templates.get(str(body.get("TemplateId")))
        if wanted is None:
            return "FailedOperation.TemplateIncorrectOrUnapproved"
        if len(body.get("TemplateParamSet", [])) != wanted:
            return "InvalidParameterValue.TemplateParameterFormatError"
        return ""

    def reply(self, request: Request) -> tuple[int, Any]:
        if not request.verified:
            error = {"Code": request.why, "Message": request.why}
            return 200, {"Response": {"Error": error, "RequestId": "r"}}
        body = request.json()
        status = {
            "SerialNo": f"serial{len(self.requests)}", "PhoneNumber": body["PhoneNumberSet"][0],
            "Fee": 1, "SessionContext": body.get("SessionContext", ""), "Code": "Ok",
            "Message": "send success", "IsoCode": "CN",
        }  # fmt: skip
        return 200, {"Response": {"SendStatusSet": [status], "RequestId": "r"}}

    def report(self, request: Request, answer: Any) -> dict[str, Any]:
        """The status callback's fields: the SerialNo comes back as `sid`."""
        (status,) = answer["Response"]["SendStatusSet"]
        mobile = status["PhoneNumber"].removeprefix("+86")
        ok = mobile not in self.undeliverable
        return {
            "user_receive_time": _report_time(), "nationcode": "86", "mobile": mobile,
            "report_status": "SUCCESS" if ok else "FAIL", "errmsg": "DELIVRD" if ok
            else "UNDELIV", "description": "用户短信送达成功" if ok else "用户短信接收失败",
            "sid": status["SerialNo"],
        }  # fmt: skip


# -- DingTalk custom robot and WeCom group robot ---------------------------------------------


@dataclass
class _RobotStandIn(StandIn):
    """Both robots take a text message and answer `errcode` 0, or the error's code."""

    def text_refused(self, request: Request) -> str:
        body = request.json()
        if body.get("msgtype") != "text" or not body.get("text", {}).get("content"):
            return "errcode 40035: invalid parameter"
        return ""

    def reply(self, request: Request) -> tuple[int, Any]:
        if request.verified:
            return 200, {"errcode": 0, "errmsg": "ok"}
        code, text = request.why.removeprefix("errcode ").split(": ", 1)
        return 200, {"errcode": int(code), "errmsg": text}


@dataclass
class DingTalkStandIn(_RobotStandIn):
    access_token: str = "ding-token"
    secret: str = "SEC-ding-secret"

    def check(self, request: Request) -> str:
        if request.query.get("access_token") != self.access_token:
            return "errcode 300001: token is not exist"
        stamp, sign = request.query.get("timestamp", ""), request.query.get("sign", "")
        # the signature is checked on the decoded value: Base64 of HMAC-SHA256 of
        # "timestamp\nsecret", keyed with the secret; the timestamp within an hour
        if not stamp.isdigit() or abs(time.time() * 1000 - int(stamp)) > 3600_000:
            return "errcode 310000: timestamp invalid"
        mac = hmac.new(self.secret.encode(), f"{stamp}\n{self.secret}".encode(), hashlib.sha256)
        if not hmac.compare_digest(base64.b64encode(mac.digest()).decode(), unquote(sign)):
            return "errcode 310000: sign not match"
        return self.text_refused(request)


@dataclass
class WeComStandIn(_RobotStandIn):
    key: str = "wecom-key"

    def check(self, request: Request) -> str:
        if request.path != "/cgi-bin/webhook/send" or request.query.get("key") != self.key:
            return "errcode 93000: invalid webhook url"
        return self.text_refused(request)
