from kernel.errors import Conflict, Invalid, NotFound


class UnknownAlert(NotFound):
    pass


class UnknownIncident(NotFound):
    pass


class IllegalTransition(Conflict):
    """The action is not allowed from the incident's status; says which ones are."""

    def __init__(self, message: str, *, status: str, legal: list[str]) -> None:
        super().__init__(message)
        self.status = status
        self.legal = legal

    def details(self) -> dict[str, object]:
        return {"status": self.status, "legal_actions": self.legal}


class BadAction(Invalid):
    pass
