"""What every console page shares: the templates, the render helper and its common context, and
how a refused form or a failed request becomes a page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from leadgate.console.auth import ConsolePageError, Visitor
from leadgate.console.security import ANON_COOKIE, CSRF_FIELD, set_cookie
from leadgate.errors import ApiError, InvalidRequest, validation_details
from leadgate.web import get_settings

templates = Jinja2Templates(directory=str(files("leadgate") / "templates"))


class FormInvalid(Exception):
    """A form the service refused: the page is shown again and the transaction rolled back."""

    def __init__(self, response: Response) -> None:
        super().__init__("form invalid")
        self.response = response


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    settings = get_settings(request)
    visitor: Visitor | None = getattr(request.state, "visitor", None)
    values = {
        "visitor": visitor,
        "csrf_field": CSRF_FIELD,
        "csrf": visitor.csrf if visitor else "",
        "path": request.url.path,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, values, status_code=status)
    if visitor is not None and visitor.new_anon_token is not None:
        set_cookie(response, request, settings, ANON_COOKIE, visitor.new_anon_token, 86400)
    return response


def refuse(
    request: Request, error: ApiError, template: str, context: dict[str, Any]
) -> FormInvalid:
    fields = {d.get("field") for d in error.details if d.get("field")}
    return FormInvalid(
        render(
            request,
            template,
            {**context, "error": error.message, "error_fields": fields},
            status=error.status_code,
        )
    )


def page_error(error: ApiError) -> ConsolePageError:
    titles = {403: "Not allowed", 404: "Not found", 409: "Conflict"}
    title = titles.get(error.status_code, "Error")
    return ConsolePageError(error.status_code, title, error.message)


@contextmanager
def page_errors() -> Iterator[None]:
    """Around a service call whose refusal is the whole page's answer (not a form to show again)."""
    try:
        yield
    except ApiError as error:
        raise page_error(error) from None


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def invalid_body(error: ValidationError) -> InvalidRequest:
    """A form turned into an API body that the API's schema refused, as the API would say it."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ()))
    message = f"{field}: {first.get('msg', 'invalid')}" if field else str(first.get("msg"))
    return InvalidRequest(message, details=[{"field": field, "message": message}])


def invalid_fields(error: ValidationError) -> InvalidRequest:
    """Like `invalid_body`, but naming every field the schema refused, each with its reason."""
    details = validation_details(error.errors())
    first = details[0]
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return InvalidRequest(message, details=details)
