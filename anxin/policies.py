"""The settings turned into the policies the domains take: escalation deadlines and
chain, how dispatch measures travel, the channels notifications go out on. One place,
for the service and the CLI."""

import httpx

from alerts.models import Severity
from alerts.policy import EscalationPolicy
from alerts.response.dispatching import Dispatcher
from anxin.settings import Settings
from dispatch.choosing import DispatchPolicy
from dispatch.notify.bots import ChatBots
from dispatch.notify.sms import AliyunSms, SmsAccount, TencentSms
from dispatch.notify.webhook import WebhookChannel
from dispatch.notify.worker import Channel
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
        public_url=settings.public_url,
        sms_delivery_wait_s=settings.sms_delivery_wait_s,
    )


SMS_ENDPOINTS = {
    "aliyun": "https://dysmsapi.aliyuncs.com/",
    "tencent": "https://sms.tencentcloudapi.com",
}


def channels(settings: Settings, client: httpx.AsyncClient) -> dict[str, Channel]:
    """The outbox's channels: webhooks and chat robots always (their endpoints are in
    the database), SMS when a provider is configured."""
    found: dict[str, Channel] = {
        "webhook": WebhookChannel(client),
        "dingtalk": ChatBots(client, "dingtalk"),
        "wecom": ChatBots(client, "wecom"),
    }
    if settings.sms_provider != "none":
        account = SmsAccount(
            provider=settings.sms_provider,
            key_id=settings.sms_key_id,
            key_secret=settings.sms_key_secret.get_secret_value(),
            sign_name=settings.sms_sign_name,
            templates=settings.sms_templates,
            endpoint=settings.sms_endpoint or SMS_ENDPOINTS[settings.sms_provider],
            app_id=settings.sms_app_id,
            region=settings.sms_region,
        )
        sms = AliyunSms if settings.sms_provider == "aliyun" else TencentSms
        found["sms"] = sms(client, account)
    return found
