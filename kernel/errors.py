"""One base error for the project; each domain subclasses it.

The HTTP layer maps `status_code` to the response and answers with the error's `code`
beside its words, so a client acts on a code of the project's, never on a sentence (and
never on a library's); a domain error never needs to know about FastAPI.
"""


class AnxinError(Exception):
    """Base of every error Anxin raises on purpose. `code` is the class's, unless a
    raise names a more specific one (`Invalid(msg, code="bad_cursor")`). The message is
    English (logs, API clients that ask for it); `zh` is what a Chinese reader gets:
    the raise's own words where it gives them, else its kind's."""

    status_code = 500
    code = "error"
    zh_default = "操作失败"

    def __init__(self, message: str, *, code: str | None = None, zh: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.zh = zh or self.zh_default

    def details(self) -> dict[str, object]:
        """What the HTTP answer carries beside the message (e.g. the legal actions)."""
        return {}


class NotFound(AnxinError):
    status_code = 404
    code = "not_found"
    zh_default = "未找到，或不在您的权限范围内"


class Conflict(AnxinError):
    status_code = 409
    code = "conflict"
    zh_default = "当前状态下不能这样操作"


class Invalid(AnxinError):
    status_code = 422
    code = "invalid"
    zh_default = "请求的内容有误"


class Unauthorized(AnxinError):
    status_code = 401
    code = "unauthorized"
    zh_default = "未登录，或令牌无效"


class Forbidden(AnxinError):
    status_code = 403
    code = "forbidden"
    zh_default = "您的角色不能执行此操作"


class Unavailable(AnxinError):
    """Something the request needs (the broker) cannot be reached now."""

    status_code = 503
    code = "unavailable"
    zh_default = "所需的服务暂时不可用，请稍后再试"
