"""The settings turned into the policies the domains take: escalation deadlines and
chain, and how dispatch measures travel. One place, for the service and the CLI."""

from alerts.dispatching import Dispatcher
from alerts.models import Severity
from alerts.policy import EscalationPolicy
from anxin.settings import Settings
from dispatch.suggest import DispatchPolicy
from dispatch.travel import GreatCircle, Matrix, Mode


def escalation_policy(settings: Settings) -> EscalationPolicy:
    return EscalationPolicy(
        deadlines={
            Severity.P1: settings.ack_deadline_p1_s,
            Severity.P2: settings.ack_deadline_p2_s,
            Severity.P3: settings.ack_deadline_p3_s,
        },
        chain=tuple(settings.escalation_chain),
    )


def dispatch_policy(settings: Settings) -> DispatchPolicy:
    travel = GreatCircle(detour=settings.travel_detour, mode=Mode(settings.travel_mode))
    matrix = (
        Matrix.load(settings.travel_matrix_file, travel) if settings.travel_matrix_file else None
    )
    return DispatchPolicy(circle_min=settings.service_circle_min, travel=travel, matrix=matrix)


def dispatcher(settings: Settings) -> Dispatcher:
    return Dispatcher(
        dispatch_policy(settings),
        time_zone=settings.time_zone,
        escalation=escalation_policy(settings),
    )
