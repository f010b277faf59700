"""The words of each message, per language: the SMS templates as submitted for the
providers' approval (the provider adds the signature, 【安心】), and the same words for
the chat bots. Parameters are those of `sms.TEMPLATES`."""

from collections.abc import Mapping

from dispatch.notify.sms import TEMPLATES, fit

WORDS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "dispatch": "派单：{who}，{what}。地址：{address}。进门：{access}。"
        "回复{code}1接单，{code}0拒单，或打开 {link}",
        "escalated": "升级（第{level}级）：{who}，{what}，已{minutes}分钟无人受理，请立即处理。",
        "no_point": "15分钟服务圈内无可派服务点：{who}，{what}。{advice}",
        "family_opened": "您的家人{who}{what}，值班人员正在处理，请保持电话畅通。",
        "family_resolved": "您的家人{who}的求助已处理完毕：{outcome}。",
        "reply_unmatched": "抱歉，没有找到与您的回复相符的派单。请回复短信中的编号加1（接单）"
        "或0（拒单），或致电值班中心。",
        "help_request": "求助：{who}需要{service}服务。地址：{address}，电话：{phone}。"
        "请在服务系统中接单。",
    },
    "en": {
        "dispatch": "Dispatch: {who}, {what}. Address: {address}. Access: {access}. "
        "Reply {code}1 to accept, {code}0 to decline, or open {link}",
        "escalated": "Escalated (level {level}): {who}, {what}, unacknowledged for"
        " {minutes} min. Act now.",
        "no_point": "No service point inside the 15-minute circle: {who}, {what}. {advice}",
        "family_opened": "Your relative {who}: {what}. The duty team is on it; keep your"
        " phone at hand.",
        "family_resolved": "Your relative {who}: it is over: {outcome}.",
        "reply_unmatched": "Sorry, your reply matches no dispatch. Reply with the code in"
        " the text and 1 (accept) or 0 (decline), or call the duty centre.",
        "help_request": "Help asked: {who} needs {service}. Address: {address}, phone:"
        " {phone}. Take it in the service system.",
    },
}


def render(template: str, params: Mapping[str, object], lang: str = "zh-CN") -> str:
    words = WORDS.get(lang, WORDS["zh-CN"])[template]
    return words.format(**{k: fit(params.get(k, ""), k) for k in TEMPLATES[template]})
