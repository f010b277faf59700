"""SMS through the providers Chinese services use, each request signed as its provider
documents it. Chinese providers send only pre-approved templates filled with
parameters: a message names one of Anxin's templates (`TEMPLATES`) and its values; the
provider's template id for it comes from the settings.

Why not the providers' SDKs: Tencent's is synchronous (one blocked thread per send),
and Alibaba's pulls in the Tea runtime (about ten packages) for one signed POST; the
signing itself is a dozen lines each, checked in the tests by stand-in servers that
verify it from the providers' documentation.
"""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from dispatch.notify.http import post
from dispatch.notify.outbox import Message, Result

# Anxin's SMS templates: the parameters each takes, in order (Tencent fills {1}, {2}...
# by position, Alibaba ${name} by name). The wording to submit for approval is in
# docs/notifications.md; `dispatch.notify.texts` renders the same words for the chat bots.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "dispatch": ("who", "what", "address", "access", "code", "link"),
    "escalated": ("who", "what", "level", "minutes"),
    "no_point": ("who", "what", "advice"),
    "family_opened": ("who", "what"),
    "family_resolved": ("who", "outcome"),
    "reply_unmatched": (),
    "help_request": ("who", "service", "address", "phone"),
}
# a provider refuses a parameter longer than this (Alibaba: 35 characters for most
# variable types); longer words are cut, with an ellipsis. A code or a link is never
# cut (it would not work): those are approved as their own variable types.
PARAM_MAX = 35
WHOLE = frozenset({"code", "link"})


def fit(value: object, name: str = "") -> str:
    text = " ".join(str(value).split())
    if name in WHOLE or len(text) <= PARAM_MAX:
        return text
    return text[: PARAM_MAX - 1] + "…"


@dataclass(frozen=True)
class SmsAccount:
    provider: str  # "aliyun" or "tencent"
    key_id: str
    key_secret: str
    sign_name: str
    # Anxin's template name -> the provider's approved template id
    templates: Mapping[str, str]
    endpoint: str
    app_id: str = ""  # Tencent's SmsSdkAppId
    region: str = ""


# -- Alibaba Cloud: SendSms, RPC signature v1 (HMAC-SHA1) ------------------------------


def rpc_percent(text: str) -> str:
    """Alibaba's RPC encoding: RFC 3986, so space is %20, '*' %2A, '~' kept."""
    return quote(text, safe="~")


def rpc_signature(method: str, params: Mapping[str, str], secret: str) -> str:
    canonical = "&".join(f"{rpc_percent(k)}={rpc_percent(params[k])}" for k in sorted(params))
    to_sign = f"{method}&{rpc_percent('/')}&{rpc_percent(canonical)}"
    mac = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


class _Provider:
    name = "sms"

    def __init__(self, client: httpx.AsyncClient, account: SmsAccount) -> None:
        self._client = client
        self._account = account

    @staticmethod
    def values(message: Message) -> tuple[str, list[str]]:
        """The provider's template id's key (Anxin's name) and the parameters in order,
        each cut to what the provider takes."""
        template, given = message.body["template"], message.body.get("params", {})
        return template, [fit(given.get(k, ""), k) for k in TEMPLATES[template]]


class AliyunSms(_Provider):
    async def send(self, message: Message) -> Result:
        a = self._account
        template, values = self.values(message)
        params = {
            "AccessKeyId": a.key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": a.region or "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
            "PhoneNumbers": message.recipient,
            "SignName": a.sign_name,
            "TemplateCode": a.templates[template],
            "TemplateParam": json.dumps(
                dict(zip(TEMPLATES[template], values, strict=True)),
                ensure_ascii=False,
                separators=(",", ":"),
            ),
            # our id, for the provider's receipts and for dropping a repeat
            "OutId": str(message.id),
        }
        params["Signature"] = rpc_signature("POST", params, a.key_secret)
        answer = await post(self._client, a.endpoint, data=params)
        if isinstance(answer, Result):
            return answer
        body = answer.json()
        if isinstance(body, Result):
            return body
        code = str(body.get("Code"))
        if code == "OK":
            return answer.sent({"BizId": body.get("BizId"), "RequestId": body.get("RequestId")})
        # throttled or the provider's own trouble: later; anything else will not change
        retry = code in ("isv.BUSINESS_LIMIT_CONTROL", "Throttling.User", "ServiceUnavailable")
        return answer.failed(f"{code}: {body.get('Message')}", retry=retry, receipt=body)


# -- Tencent Cloud: SendSms, TC3-HMAC-SHA256 ----------------------------------------------


def tc3_authorization(
    *, key_id: str, key_secret: str, host: str, body: bytes, timestamp: int, service: str = "sms"
) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST", "/", "",
            f"content-type:application/json; charset=utf-8\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )  # fmt: skip
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing = mac(mac(mac(f"TC3{key_secret}".encode(), date), service), "tc3_request")
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders=content-type;host,"
        f" Signature={signature}"
    )


class TencentSms(_Provider):
    async def send(self, message: Message) -> Result:
        a = self._account
        template, values = self.values(message)
        phone = (
            message.recipient if message.recipient.startswith("+") else f"+86{message.recipient}"
        )
        body = json.dumps(
            {
                "PhoneNumberSet": [phone],
                "SmsSdkAppId": a.app_id,
                "SignName": a.sign_name,
                "TemplateId": a.templates[template],
                "TemplateParamSet": values,
                # handed back in receipts: our id, to drop a repeat by
                "SessionContext": str(message.id),
            },
            ensure_ascii=False,
        ).encode()
        host = urlsplit(a.endpoint).netloc
        now = int(time.time())
        headers = {
            "Authorization": tc3_authorization(
                key_id=a.key_id, key_secret=a.key_secret, host=host, body=body, timestamp=now
            ),
            "Content-Type": "application/json; charset=utf-8",
            "Host": host,
            "X-TC-Action": "SendSms",
            "X-TC-Timestamp": str(now),
            "X-TC-Version": "2021-01-11",
            "X-TC-Region": a.region or "ap-guangzhou",
        }
        answer = await post(self._client, a.endpoint, content=body, headers=headers)
        if isinstance(answer, Result):
            return answer
        answered = answer.json()
        if isinstance(answered, Result):
            return answered
        response: dict[str, Any] = answered.get("Response", {})
        error = response.get("Error")
        if error:
            code = str(error.get("Code"))
            retry = code.startswith(("InternalError", "LimitExceeded", "RequestLimitExceeded"))
            return answer.failed(f"{code}: {error.get('Message')}", retry=retry, receipt=response)
        (status,) = response.get("SendStatusSet", [{}])
        code = str(status.get("Code"))
        if code == "Ok":
            return answer.sent(
                {"SerialNo": status.get("SerialNo"), "RequestId": response.get("RequestId")}
            )
        return answer.failed(
            f"{code}: {status.get('Message')}", retry=code.startswith("LimitExceeded"),
            receipt=response,
        )  # fmt: skip
