"""The "3G" watch protocol as watches in the field speak it, frame by frame: every
keyword and shape the widely used decoders and the vendors' protocol documents have
(positions under vendor keywords, four-digit status words, an empty or signed
hemisphere, cell and Wi-Fi lists, the makers 3G, SG, ZJ and CS, frames with an index),
what Anxin stores of each and the reply the watch waits for. The frames are written
here, in the shapes those sources show, with values of our own."""

from typing import Any

import pytest

from gateways.watch.protocol import FrameSplitter, Meaning, meaning, parse_frame
from gateways.watch.server import BAD_FIELDS, BAD_FRAME, UNKNOWN_KEYWORD
from ingest.adapters.gateway_reports import REASONS

NOW = 1_790_000_000.0
# a position's fields after its keyword, as the documents lay them out: date, time,
# fix, lat, N/S, lon, E/W, speed, course, altitude, satellites, signal, battery,
# steps, rolls, status word; then cells and Wi-Fi, which Anxin does not read
WUHAN = "050624,081530,A,30.593100,N,114.305400,E,0.00,0.0,21.0,9,100,{battery},{steps},0,{status}"
CELLS = ",1,1,460,00,28712,1234567,150"
WIFI = ",3,home,aa:bb:cc:dd:ee:01,-55,cafe,aa:bb:cc:dd:ee:02,-70,lift,aa:bb:cc:dd:ee:03,-81,12.5"


W = "[3G*1234567890*0079*"  # a 3G watch's frame head, up to its content


def position(keyword: str, status: str = "00000000", battery: int = 83, steps: int = 0) -> str:
    return f"{keyword}," + WUHAN.format(battery=battery, steps=steps, status=status)


def summary(said: Meaning) -> list[str]:
    """What a frame said, in short: `location lat lon`, `battery=83`, `event sos`..."""
    out: list[str] = []
    for channel, payload in said.messages:
        values: dict[str, Any] = {k: v for k, v in payload.items() if k not in ("ts", "id")}
        if channel == "location":
            out.append(f"location {values['lat']:.4f} {values['lon']:.4f}")
        elif channel == "event":
            out.append(f"event {values['type']}")
        else:
            out += [f"{k}={v:g}" if not isinstance(v, bool) else k for k, v in values.items()]
    return sorted(out)


def reply(said: Meaning) -> str | None:
    return None if said.reply is None else said.reply.decode().rsplit("*", 1)[1][:-1]


# (what, the frame as it comes over TCP, what Anxin stores, the reply's content)
CORPUS: list[tuple[str, str, list[str], str | None]] = [
    # positions: UD and its vendors' variants, a fix or none
    ("UD, a GPS fix", f"{W}{position('UD', steps=2310)}{CELLS}]",
     ["battery=83", "location 30.5931 114.3054", "steps=2310"], None),
    ("UD2, blind-spot data sent later", f"{W}{position('UD2')}{CELLS}{WIFI}]",
     ["battery=83", "location 30.5931 114.3054"], None),
    ("UD3", f"{W}{position('UD3')}{CELLS}]",
     ["battery=83", "location 30.5931 114.3054"], None),
    ("UD_LTE with Wi-Fi and accuracy", f"[3G*1234567890*00E9*{position('UD_LTE')}{CELLS}{WIFI}]",
     ["battery=83", "location 30.5931 114.3054"], None),
    ("UD_WCDMA without a fix, at 0,0",
     "[3G*1234567890*0100*UD_WCDMA,050624,081530,V,0.0,N,0.0,E,22.0,0,-1,21,75,92,0,0,"
     f"00000000{CELLS}]", ["battery=92"], None),
    ("WT, a position while walking", f"[3G*1234567890*011F*{position('WT', steps=88)}{CELLS}]",
     ["battery=83", "location 30.5931 114.3054", "steps=88"], None),
    ("an older SG watch: a four-digit status word and an empty hemisphere",
     "[SG*9051000884*009B*UD,050624,081530,A,30.593100,N,114.305400,,0.1481,000,99,00,70,5,"
     f"0,50,0000{CELLS},,00]", ["battery=5", "location 30.5931 114.3054"], None),
    ("signed degrees whatever the hemisphere says",
     "[3G*6105117105*008D*UD2,050624,081530,A,-33.480366,N,-70.7630692,E,0.00,0.0,0.0,0,100,"
     f"34,0,0,00000000{CELLS}]", ["battery=34", "location -33.4804 -70.7631"], None),
    ("a blank before a longitude", "[3G*4700222306*0077*UD,050624,081530,A,48.779045,N, "
     f"9.1574736,E,0.00,0.0,0.0,0,25,83,0,0,00000000{CELLS}]",
     ["battery=83", "location 48.7790 9.1575"], None),
    ("a status bit no alarm is made of (bit 3)", f"{W}{position('UD2', '00000008')}]",
     ["battery=83", "location 30.5931 114.3054"], None),
    # alarms: answered AL, every bit an event, an AL naming nothing an alarm
    ("AL with the SOS bit", f"[3G*1234567890*00C0*{position('AL', '00010000')}{CELLS}]",
     ["battery=83", "event sos", "location 30.5931 114.3054"], "AL"),
    ("AL naming nothing", f"[3G*1234567890*00C0*{position('AL', '00000000')}]",
     ["battery=83", "event alarm", "location 30.5931 114.3054"], "AL"),
    ("a vendor's AL keyword, taken off",
     f"[3G*358839237678820*0122*{position('ALCUSTOMER1', '00100008')}{WIFI}]",
     ["battery=83", "event removed", "location 30.5931 114.3054"], "AL"),
    ("AL_LTE, a fall", f"[3G*1234567890*0080*{position('AL_LTE', '00200010')}]",
     ["battery=83", "event fall", "location 30.5931 114.3054"], "AL"),
    ("AL of a ZJ watch, with an index and a lower-case length",
     f"[ZJ*014111001332708*0075*00a4*{position('AL', '00100000')}{CELLS}]",
     ["battery=83", "event removed", "location 30.5931 114.3054"], "AL"),
    ("AL of an SG watch, low battery in a four-digit word",
     f"[SG*8800000015*0087*{position('AL', '0001', battery=4)}{CELLS}]",
     ["battery=4", "event battery_low", "location 30.5931 114.3054"], "AL"),
    ("low battery in bit 17, a power cut in bit 14", f"{W}{position('UD', '00024000')}]",
     ["battery=83", "event battery_low", "event power_cut", "location 30.5931 114.3054"], None),
    ("leaving and entering the watch's own fence", f"{W}{position('UD', '00000006')}]",
     ["battery=83", "event geofence_enter", "event geofence_exit",
      "location 30.5931 114.3054"], None),
    ("SOS and a fall at once", f"{W}{position('AL', '00410000')}]",
     ["battery=83", "event fall", "event sos", "location 30.5931 114.3054"], "AL"),
    # the keepalive
    ("LK alone", "[SG*8800000015*0002*LK]", ["online"], "LK"),
    ("LK with two values: no battery to read", "[SG*9081000548*0009*LK,0,100]", ["online"], "LK"),
    ("LK with steps, rolls and battery", "[3G*4700186508*000B*LK,1200,10,95]",
     ["battery=95", "online", "steps=1200"], "LK"),
    ("LK of a CS watch with an index", "[CS*8800000015*00A1*0002*LK]", ["online"], "LK"),
    # measurements
    ("bphrt with its trailing empty fields", "[3G*4700609403*0013*bphrt,120,79,73,,,,]",
     ["dbp=79", "hr=73", "sbp=120"], None),
    ("BLOOD in capitals", "[ZJ*357653059860416*0007*000c*BLOOD,109,68]",
     ["dbp=68", "sbp=109"], None),
    ("PULSE", "[CS*8800000015*0008*PULSE,72]", ["hr=72"], None),
    ("heart, not measured", "[3G*6005412902*0007*heart,0]", [], None),
    ("heart", "[3G*6005412902*0008*heart,71]", ["hr=71"], None),
    ("btemp2, measured", "[3G*2104326058*000E*btemp2,1,35.29]", ["temp=35.29"], None),
    ("oxygen, with its flag", "[3G*2104326058*000A*oxygen,1,96]", ["spo2=96"], None),
    ("TEMP", "[3G*2104326058*0009*TEMP,36.4]", ["temp=36.4"], None),
    # answered, nothing stored
    ("a voice-message query", "[3G*8800000015*0003*TKQ]", [], "TKQ"),
    ("the second voice-message query", "[3G*8800000015*0004*TKQ2]", [], "TKQ2"),
    ("a first connection", "[3G*8800000015*0004*INIT]", [], "INIT,1"),
    ("a part of a long voice message",
     "[ZJ*789468050042692*0034*0439*JXTK,0,watch_7_20240605,1,6,#!AMR]",
     [], "JXTKR,1"),
    # on purpose nothing: voice, pictures, echoes of settings, the firmware's reports
    ("a voice message", "[CS*1234567890*000e*TK,#!AMR\x7d\x01\x7d\x02]", [], None),
    ("a picture", "[3G*1234567890*0010*img,050624081530,\xff\xd8]", [], None),
    ("the echo of an upload interval", "[3G*1234567890*0006*UPLOAD]", [], None),
    ("the echo of a locate", "[3G*1234567890*0002*CR]", [], None),
    ("the echo of an SOS number", "[3G*1234567890*0004*SOS1]", [], None),
    ("a firmware version", "[3G*1234567890*0020*VERNO,G36_V1.00_2024.05.06]", [], None),
    ("an address request", "[3G*1234567890*0080*WAD,CH," + position("WAD")[4:] + "]", [], None),
]  # fmt: skip


@pytest.mark.parametrize(("what", "raw", "stored", "answer"), CORPUS, ids=[c[0] for c in CORPUS])
def test_each_frame_a_watch_sends_is_read_as_its_protocol_has_it(
    what: str, raw: str, stored: list[str], answer: str | None
) -> None:
    (body,) = FrameSplitter().feed(raw.encode("latin-1"))
    said = meaning(parse_frame(body), NOW)
    assert (summary(said), reply(said), said.unknown) == (stored, answer, False)


def test_a_keyword_in_no_watch_protocol_is_unknown_and_unanswered() -> None:
    (body,) = FrameSplitter().feed(b"[3G*1234567890*000D*HEALTHX,72,98]")
    said = meaning(parse_frame(body), NOW)
    assert (said.messages, said.reply, said.unknown) == ([], None, True)


def test_every_reason_the_gateway_gives_is_one_ingest_keeps() -> None:
    assert {BAD_FRAME, BAD_FIELDS, UNKNOWN_KEYWORD} <= {str(r) for r in REASONS}
