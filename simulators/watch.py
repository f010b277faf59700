"""What a "3G" watch sends its gateway: frames as real watches write them (a two-letter
maker code, the watch's id, an optional index, a four-hex-digit length, the content),
for the gateway's tests and bench."""

# 22 Nov 2026 08:30:15 UTC, a valid fix in Wuhan, 7.5 km/h, 90 degrees, 20 m, 9
# satellites, signal 80 %, battery 62 %, 1234 steps, 0 rolls, the status word, then
# four cells (MCC 460, MNC 0, LAC, cell id, signal)
POSITION = (
    "221126,083015,A,30.5928,N,114.3055,E,7.5,90,20,9,80,62,1234,0,{status},"
    "4,1,460,0,9360,4082,131,9360,4092,148,9360,4091,143,9360,4153,141"
)
WATCH_ID = "8800000015"


def frame(
    content: str | bytes,
    *,
    device: str = WATCH_ID,
    index: str | None = None,
    length: str | None = None,
    maker: str = "3G",
) -> bytes:
    """`[MF*ID*LEN*CONTENT]`, or with `index` `[MF*ID*INDEX*LEN*CONTENT]`; `length`
    overrides LEN (watches often get it wrong)."""
    body = content.encode() if isinstance(content, str) else content
    head = f"{maker}*{device}*{index + '*' if index else ''}{length or f'{len(body):04X}'}*"
    return b"[" + head.encode() + body + b"]"


def position(kind: str = "UD", status: str = "0") -> str:
    """A position frame's content: UD, UD2, UD_LTE... or an alarm (AL, AL_LTE)."""
    return f"{kind}," + POSITION.format(status=status)
