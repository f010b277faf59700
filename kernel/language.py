"""The two languages people read Anxin in: Simplified Chinese (the default) and English."""

from enum import StrEnum


class Lang(StrEnum):
    ZH = "zh-CN"
    EN = "en"


def pick_language(accept_language: str | None, preferred: str) -> Lang:
    """`Accept-Language` when it names Chinese or English first, else the user's own."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return Lang.ZH
        if tag.startswith("en"):
            return Lang.EN
    return Lang(preferred) if preferred in Lang._value2member_map_ else Lang.ZH
