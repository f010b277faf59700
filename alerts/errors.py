from kernel.errors import Conflict, Invalid, NotFound


class UnknownAlert(NotFound):
    code = "unknown_alert"


class UnknownIncident(NotFound):
    code = "unknown_incident"


class IllegalTransition(Conflict):
    """The action is not allowed from the incident's status; says which ones are."""

    code = "illegal_transition"

    def __init__(self, message: str, *, status: str, legal: list[str]) -> None:
        super().__init__(message)
        self.status = status
        self.legal = legal

    def details(self) -> dict[str, object]:
        return {"status": self.status, "legal_actions": self.legal}


class BadAction(Invalid):
    code = "bad_action"
