"""One message in, what ingest stores out: canonical topics go to the codec; a foreign
protocol's topic goes to its adapter first, whose canonical messages the codec then
checks like any device's (ranges, times, emergencies), so there is one set of rules.

One foreign message may say several things (a door sensor's state: the door, the
battery), so the result may be a tuple of outcomes, stored together.

`decode` runs on the MQTT thread and only says a message is foreign (`FOREIGN`);
`translate` runs on the lane's writer, once per message in arrival order, as the
adapters keep each device's last state.
"""

from typing import Protocol as Interface

import msgspec

from ingest.adapters.translated import Translated
from ingest.canonical import Codec
from ingest.records import FOREIGN, Foreign, Ignored, Reading, Rejected, Unresolved
from ingest.refusals import Refusal
from ingest.topics import PREFIX

Translation = Reading | Rejected | Ignored | Unresolved | tuple[Reading | Rejected, ...]
Decoded = Translation | Foreign
_encode = msgspec.json.encode
COMMAND_SUFFIX = "/cmd"  # anxin/v1/<id>/cmd: what Anxin asks a device to do


class Adapter(Interface):
    def owns(self, topic: str) -> bool: ...

    def translate(self, topic: str, payload: bytes, now: float) -> Translated: ...


class Decoder:
    def __init__(self, codec: Codec, adapters: tuple[Adapter, ...] = ()) -> None:
        self.codec = codec
        self.adapters = adapters
        self._canonical = PREFIX + "/"

    def decode(self, topic: str, payload: bytes, now: float) -> Decoded:
        if topic.startswith(self._canonical) or not self.adapters:
            if topic.endswith(COMMAND_SUFFIX):  # ingest's subscription sees its own commands
                return Ignored("a command on its way to a device")
            return self.codec.decode(topic, payload, now)
        if not any(adapter.owns(topic) for adapter in self.adapters):
            return Rejected(Refusal.UNKNOWN_PROTOCOL, None, {"topic": topic[:120]})
        too_large = self.codec.oversize(payload)
        if too_large:
            return Rejected(Refusal.TOO_LARGE, None, too_large)
        return FOREIGN

    def translate(self, topic: str, payload: bytes, now: float) -> Translation:
        """A foreign message (one `decode` called `FOREIGN`) in canonical terms: call it
        once per message, in the order they arrived, from one thread."""
        adapter = next(a for a in self.adapters if a.owns(topic))
        translated = adapter.translate(topic, payload, now)
        if not isinstance(translated, list):
            return translated
        return tuple(
            self.codec.decode(f"{PREFIX}/{device}/{channel}", _encode(body), now)
            for device, channel, body in translated
        )
