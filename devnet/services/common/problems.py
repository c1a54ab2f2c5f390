"""Errors as RFC 9457 problem documents (`application/problem+json`) naming the field at fault,
and how the OpenAPI schema documents them: `problem_responses(404, 409)` in a route's
`responses=`, and `document_problems(app)` for the validation errors FastAPI adds itself."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException

from devnet.core.wire import FieldError, ProblemDocument

__all__ = ["PROBLEM_JSON", "FieldError", "Problem", "ProblemDocument", "invalid_request", "problem_responses"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("devnet.services")


#: Where the schema keeps the problem document.
PROBLEM_SCHEMA = "Problem"
_PROBLEM_REF = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}

#: What each status means on these services (the `description` of its response in the schema).
_MEANINGS = {
    400: "Malformed request",
    401: "Missing or wrong credentials (admin bearer token, webhook signature)",
    403: "Refused by policy (KYC tier, sanctions list, account type)",
    404: "No such resource; `field` names the path parameter",
    409: "Conflicts with the current state of the resource",
    422: "Invalid input; `field` names it (`errors` lists every invalid input)",
    502: "An upstream service refused or failed",
    503: "Unavailable for now (injected fault, or a dependency is down): try again later",
}


class Problem(Exception):
    """Raise to answer with a problem document; `field` names the offending input."""

    def __init__(self, status: int, title: str, detail: str = "", field: str | None = None, **extra: Any):
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail or title
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(problem.body(), status_code=problem.status, media_type=PROBLEM_JSON)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries: each status answered with a problem document."""
    return {
        status: {
            "description": _MEANINGS.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_JSON: {"schema": dict(_PROBLEM_REF)}},
        }
        for status in statuses
    }


def document_problems(app: FastAPI) -> None:
    """Make `app`'s OpenAPI schema say what the handlers below answer: the problem document in
    the components, and every validation error FastAPI documents itself (its 422 with
    `HTTPValidationError` as `application/json`) as the problem document it really is."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = TypeAdapter(ProblemDocument).json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem.pop("$defs", {}))
        components[PROBLEM_SCHEMA] = problem
        fastapi_default = "#/components/schemas/HTTPValidationError"
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                invalid = operation.get("responses", {}).get("422", {})
                refs = [c.get("schema", {}).get("$ref") for c in invalid.get("content", {}).values()]
                if fastapi_default in refs:
                    operation["responses"]["422"] = problem_responses(422)[422]
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def invalid_request(errors: Sequence[Any], prefix: tuple[str, ...] = ()) -> Problem:
    """The 422 for pydantic's validation errors: `field` names the first, `errors` lists all.
    `prefix` is where the validated data sat (e.g. `("body",)` for a body parsed by hand)."""
    fields = [{"field": _field((*prefix, *e["loc"])), "message": e["msg"]} for e in errors]
    first = fields[0] if fields else {"field": "", "message": "invalid request"}
    return Problem(
        422, "Invalid request", f"{first['field']}: {first['message']}", field=first["field"], errors=fields
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(invalid_request(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI's 400 is a body it could not parse (e.g. not UTF-8)
        return problem_response(
            Problem(exc.status_code, str(exc.detail), field="body" if exc.status_code == 400 else None)
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(Problem(500, "Internal error", type(exc).__name__))
