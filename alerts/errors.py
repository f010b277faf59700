from alerts.reasons import Lang, label
from kernel.errors import Conflict, Invalid, NotFound


class UnknownAlert(NotFound):
    code = "unknown_alert"
    zh_default = "没有这个事件，或不在您的权限范围内"


class UnknownIncident(NotFound):
    code = "unknown_incident"
    zh_default = "没有这个事件，或不在您的权限范围内"


class IllegalTransition(Conflict):
    """The action is not allowed from the incident's status; says which ones are."""

    code = "illegal_transition"

    def __init__(self, message: str, *, status: str, legal: list[str], action: str) -> None:
        legal_words = "、".join(label("action", a, Lang.ZH) for a in legal) or "无"
        zh = (
            f"事件当前{label('status', status, Lang.ZH)}，不能{label('action', action, Lang.ZH)}；"
            f"现在可以：{legal_words}"
        )
        super().__init__(message, zh=zh)
        self.status = status
        self.legal = legal

    def details(self) -> dict[str, object]:
        return {"status": self.status, "legal_actions": self.legal}


class BadAction(Invalid):
    code = "bad_action"
    zh_default = "操作缺少必填内容或内容有误"
