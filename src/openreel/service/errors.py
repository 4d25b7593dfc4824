"""The service's one error type: an HTTP status plus the fields of OpenAI's error envelope."""

from __future__ import annotations


class ServiceError(Exception):
    """An error for the client: HTTP status plus OpenAI's envelope fields."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 type: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type

    def envelope(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad(param: str, message: str, code: str = "invalid_value") -> ServiceError:
    return ServiceError(400, message, param=param, code=code)
