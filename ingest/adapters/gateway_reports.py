"""What a gateway could not read of what its devices said, as dead letters.

The "3G" watches speak to Anxin's TCP gateway, not to the broker: a frame the gateway
cannot read, or whose keyword is not in the protocol as Anxin knows it, would leave
nothing but a line in the gateway's log. The gateway reports each one on
`anxin/gateways/<gateway>/unread/<device>` (ingest.topics.unread_topic), and this
adapter stores it as a dead letter with the gateway's reason: the frame itself is in
the report, so nothing a watch says is dropped without a trace.
"""

from typing import Any

from ingest.adapters.translated import Translated
from ingest.diagnosis import Unreadable, parse
from ingest.records import Rejected
from ingest.refusals import Refusal, lacking
from ingest.topics import GATEWAYS
from kernel.types import is_device_id

# the reasons a gateway may give; anything else is a report not as gateways send them
REASONS = frozenset({
    Refusal.WATCH_BAD_FRAME, Refusal.WATCH_BAD_FIELDS, Refusal.WATCH_UNKNOWN_KEYWORD,
})  # fmt: skip
VALUE_MAX = 40  # characters of each of a reason's values (a part's name, a keyword)


class GatewayReports:
    subscriptions = (f"{GATEWAYS}/+/unread/+",)

    def owns(self, topic: str) -> bool:
        return topic.startswith(GATEWAYS + "/")

    def translate(self, topic: str, payload: bytes, now: float) -> Translated:
        report = parse(payload)
        if isinstance(report, Unreadable) or not isinstance(report, dict):
            return Rejected(Refusal.GATEWAY_REPORT, None)
        device = report.get("device_id")
        device_id = device if isinstance(device, str) and is_device_id(device) else None
        reason = _reason(report.get("code"), report.get("values"))
        if reason is None:
            return Rejected(Refusal.GATEWAY_REPORT, device_id)
        return Rejected(reason[0], device_id, reason[1])


def _reason(code: object, values: object) -> tuple[Refusal, dict[str, Any]] | None:
    if code not in REASONS or not isinstance(values, dict):
        return None
    refusal = Refusal(str(code))
    kept = {
        k: v[:VALUE_MAX] for k, v in values.items() if isinstance(k, str) and isinstance(v, str)
    }
    if lacking(refusal, kept):
        return None
    return refusal, kept
