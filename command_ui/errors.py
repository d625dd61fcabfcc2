"""The API's one error body, the statuses every operation documents, and refusing text no database can store.

Every answer that is not 2xx carries ``{"detail": "<a reason a person can read>"}``, whoever raised it (a
router's ``HTTPException``, Starlette's 404 for an unknown path, the body limit's 413); a request that
validation refuses (422) also lists each refused field in ``errors``. The schema says so for every operation
(:data:`ERROR_RESPONSES`, given to the app), so a client, and the schemathesis sweep in the tests, can hold
every answer to it.

PostgreSQL text cannot hold a NUL character: psycopg refuses it with a ``DataError`` deep in a query, a 500
to the caller. :func:`refuse_nul` refuses it at the door instead, in every query, path and JSON body string,
as a 422 naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection


class Problem(BaseModel):
    """Why the request was refused or failed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detail: str = Field(description="The reason, for a person to read.")


class FieldProblem(BaseModel):
    """One refused part of a request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    loc: list[str | int] = Field(description="Where: body, query, path, header or cookie, then the field path.")
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="A machine-readable kind of error (pydantic's).")


class ValidationProblem(Problem):
    """A request that did not validate: the reasons in one line, and each refused field."""

    errors: list[FieldProblem] = Field(default_factory=list, description="Each refused field; may be empty.")


def _documented(description: str, model: type[Problem] = Problem) -> dict[str, Any]:
    return {"model": model, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("The request body could not be read (not UTF-8, say)."),
    401: _documented("Not signed in, or the session has ended (or, for the login, a wrong name or password)."),
    403: _documented("The caller's role may not do this, or the school is outside their part of the organisation."),
    404: _documented("No such resource in the caller's part of the organisation."),
    409: _documented("The request conflicts with the resource's state (a refused lifecycle move, say)."),
    413: _documented("The request body is over the server's limit."),
    422: _documented("The request did not validate.", ValidationProblem),
    429: _documented("Too many failed logins; wait before trying again."),
}
"""Statuses any operation may answer with besides its own, all with a :class:`Problem` body."""


def _text(detail: Any) -> str:
    return detail if isinstance(detail, str) else json.dumps(detail, default=str)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    body: dict[str, Any] = {"detail": _text(exc.detail)}
    if exc.status_code == 422:
        body["errors"] = []
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def _location(loc: Any) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldProblem(loc=_location(e.get("loc", ())), msg=str(e.get("msg", "")), type=str(e.get("type", "")))
              for e in exc.errors()]
    detail = "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors) or "the request did not validate"
    return JSONResponse(ValidationProblem(detail=detail, errors=errors).model_dump(mode="json"), status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Make every HTTP error and validation failure answer with the documented body."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)


def _strings(value: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key, (*loc, key))
            yield from _strings(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*loc, index))


async def refuse_nul(connection: HTTPConnection) -> None:
    """Refuse a NUL character in any path, query or JSON body string: PostgreSQL text cannot store one."""
    if not isinstance(connection, Request):
        return  # a websocket's handshake carries no text we store; its messages are read by their own parser
    found: list[tuple[str | int, ...]] = []
    found += [("path", name) for name, value in connection.path_params.items()
              if isinstance(value, str) and "\x00" in value]
    found += [("query", name) for name, value in connection.query_params.multi_items()
              if "\x00" in name or "\x00" in value]
    raw = await connection.body()  # kept by the request: the route reads the same bytes again
    if b"\\u0000" in raw:  # JSON writes NUL escaped; only then is the body worth walking
        try:
            document = json.loads(raw)
        except ValueError:
            document = None  # not JSON: the route's own parsing refuses it
        found += [("body", *loc) for loc, text in _strings(document, ()) if "\x00" in text]
    if found:
        raise RequestValidationError([{"type": "string_nul", "loc": loc, "msg": "text may not contain NUL (\\u0000)"}
                                      for loc in found])
