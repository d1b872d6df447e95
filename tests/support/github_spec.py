"""GitHub's official OpenAPI description as a validator for every exchange with GitHub.

The description is `@octokit/openapi` (api.github.com, OpenAPI 3.0), installed by `npm ci`
from package-lock.json. It is parsed once per session (13 MB, ~0.2 s); an operation's
schemas are converted to JSON Schema and compiled the first time an exchange needs them.

    from tests.support.github_spec import assert_valid_exchange, validate_exchange

    assert_valid_exchange(
        "GET", "/repos/acme/web/actions/runs/5", "", None,
        200, {"content-type": "application/json"}, run,
    )
    errors = validate_exchange("POST", "/repos/acme/web/actions/runs/5/cancel", "", {}, 202, {}, {})

What is checked, and why each rule is as strict as it is:

* the route: `method path` must be an operation of the description (most specific template
  wins: `/app/hook/deliveries` over `/app/{anything}`); its path parameters must fit their
  schemas (`run_id` a number, ...);
* the query: every name is a parameter of the operation, each value fits its schema, required
  ones are there and none is repeated;
* the request body: present exactly when the operation takes one, valid against its schema;
* the answer: a status the operation documents, else one any endpoint may give (below); a
  body of the documented media type (`content-type`, or the one the request's `Accept`
  asked for, `application/vnd.github.sha` for a bare SHA), valid against that status's
  schema; no body when none is documented; documented headers valid, and a redirect with a
  `Location`.

Objects are closed: a property the description does not name is an error unless the schema
documents `additionalProperties`. A fake that invents a field, or leaves out one GitHub
marks required, fails, the way a client relying on it would fail against GitHub.

OpenAPI 3.0 is not quite JSON Schema: `nullable: true` becomes `null` among the types (and
the `enum`, as GitHub's own generated types read it), `allOf` branches are merged before the
object is closed, and `date-time`, `date`, `uri` and `email` formats are checked by this
module (deterministically, whatever optional packages are installed).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO_ROOT / "node_modules"
PACKAGE = NODE_MODULES / "@octokit" / "openapi"
DESCRIPTION = PACKAGE / "generated" / "api.github.com.json"

# Statuses GitHub may give on any endpoint, whether or not the operation lists them, with
# GitHub's documentation saying so. Their body is GitHub's error object (`basic-error`) or
# nothing.
ANY_ENDPOINT_STATUSES: Mapping[int, str] = {
    401: "bad or expired credentials (REST docs: authenticating to the REST API)",
    403: "primary or secondary rate limit, or no permission (REST docs: rate limits)",
    404: "a resource that does not exist or that the credential may not see",
    429: "secondary rate limit (REST docs: rate limits)",
    500: "server error",
    502: "server error",
    503: "server error",
    504: "server error",
}
REDIRECTS = frozenset({301, 302, 303, 307, 308})
JSON_MEDIA = "application/json"
GENERIC_ACCEPTS = frozenset({"", "*/*", JSON_MEDIA, "application/vnd.github+json"})
_MESSAGE_LIMIT = 400


class SpecMissing(RuntimeError):
    """node_modules holds no @octokit/openapi: the message says how to get it."""


# --- OpenAPI 3.0 -> JSON Schema -------------------------------------------------------------


_FORMATS = FormatChecker(formats=())
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


@_FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return len(value) == 10 and bool(date.fromisoformat(value))


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(_URI.match(value))


@_FORMATS.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or bool(_EMAIL.match(value))


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are expected in the description: {ref}")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


class SchemaConverter:
    """OpenAPI 3.0 schemas (with `$ref`s into the document) as closed, inlined JSON Schema.

    The description has no reference cycles (octokit also ships it fully dereferenced), so
    each referenced component is converted once and shared by every schema that uses it.
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document
        self._refs: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()

    def resolve(self, node: Any) -> Any:
        """A `$ref` followed to what it names (parameters, responses, request bodies)."""
        while isinstance(node, Mapping) and "$ref" in node:
            node = _pointer(self._document, node["$ref"])
        return node

    def convert(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._convert(schema, closed=True)

    def _convert(self, schema: Mapping[str, Any], *, closed: bool) -> dict[str, Any]:
        if "$ref" in schema:
            ref = schema["$ref"]
            if not closed:
                return self._convert(_pointer(self._document, ref), closed=False)
            if ref not in self._refs:
                self._refs[ref] = self._convert(_pointer(self._document, ref), closed=True)
            return self._refs[ref]
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in ("nullable", "example", "examples", "discriminator", "xml", "externalDocs"):
                continue
            if key.startswith("x-") or key in ("readOnly", "writeOnly", "deprecated"):
                continue
            if key == "properties":
                out[key] = {name: self._convert(sub, closed=True) for name, sub in value.items()}
            elif key in ("items", "not") or (
                key == "additionalProperties" and isinstance(value, Mapping)
            ):
                out[key] = self._convert(value, closed=True)
            elif key in ("oneOf", "anyOf"):
                out[key] = [self._convert(sub, closed=True) for sub in value]
            elif key == "allOf":
                # Branches are converted open, then the merged object is closed below.
                out[key] = [self._convert(sub, closed=False) for sub in value]
            else:
                out[key] = value
        if closed:
            self._close(schema, out)
        if schema.get("nullable") is True:
            out = self._nullable(out)
        return out

    def _close(self, original: Mapping[str, Any], out: dict[str, Any]) -> None:
        """`additionalProperties: false` unless the description says otherwise."""
        if "additionalProperties" in original:
            return
        if "allOf" in out:
            names: set[str] = set(out.get("properties", {}))
            for branch in original["allOf"]:
                branch = self.resolve(branch)
                if "additionalProperties" in branch or "properties" not in branch:
                    return  # a free-form branch: the merged object stays open
                if branch.get("nullable"):
                    return
                names.update(branch["properties"])
            if names:
                out.setdefault("properties", {})
                for name in names:
                    out["properties"].setdefault(name, {})
                out["additionalProperties"] = False
            return
        if "properties" in original and out.get("type", "object") == "object":
            out["additionalProperties"] = False

    @staticmethod
    def _nullable(out: dict[str, Any]) -> dict[str, Any]:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
            return out
        return {"anyOf": [{"type": "null"}, out]}


# --- the description ------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One operation of the description: `GET /repos/{owner}/{repo}/actions/runs/{run_id}`."""

    method: str
    template: str
    operation_id: str
    raw: Mapping[str, Any]

    def __str__(self) -> str:
        return f"{self.method} {self.template} ({self.operation_id})"


@dataclass(frozen=True)
class _Route:
    operation: Operation
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    rank: tuple[bool, ...]  # literal segments first: the most specific template wins


def _route(operation: Operation) -> _Route:
    parts: list[str] = []
    names: list[str] = []
    rank: list[bool] = []
    for segment in operation.template.strip("/").split("/"):
        pieces = re.split(r"\{([^}]+)\}", segment)
        regex = ""
        for index, piece in enumerate(pieces):
            if index % 2:
                names.append(piece)
                regex += "([^/]+)"
            else:
                regex += re.escape(piece)
        parts.append(regex)
        rank.append(len(pieces) == 1)
    pattern = re.compile("^/" + "/".join(parts) + "$") if parts != [""] else re.compile("^/$")
    return _Route(operation, pattern, tuple(names), tuple(rank))


class GitHubSpec:
    """The parsed description, its routes, and compiled validators (built on first use)."""

    def __init__(self, path: Path = DESCRIPTION) -> None:
        if not path.is_file():
            raise SpecMissing(
                f"missing {path}: run `npm ci` in the repository root (or `make test`) "
                "to install @octokit/openapi from package-lock.json"
            )
        self.path = path
        self.document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self.version: str = str(self.document["info"]["version"])
        self.schemas = SchemaConverter(self.document)
        self._routes: dict[str, list[_Route]] = {}
        for template, item in self.document["paths"].items():
            for method, raw in item.items():
                if method in ("parameters", "summary", "description", "servers"):
                    continue
                operation = Operation(method.upper(), template, raw["operationId"], raw)
                self._routes.setdefault(method.upper(), []).append(_route(operation))
        for routes in self._routes.values():
            routes.sort(key=lambda route: route.rank, reverse=True)
        self._validators: dict[tuple[str, ...], Draft4Validator] = {}
        self._lock = threading.Lock()

    def operations(self) -> Iterable[Operation]:
        for routes in self._routes.values():
            for route in routes:
                yield route.operation

    def operation(self, operation_id: str) -> Operation:
        for operation in self.operations():
            if operation.operation_id == operation_id:
                return operation
        raise KeyError(operation_id)

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation serving `method path` (path concrete, percent-encoded), and its
        path parameters decoded; None when the description has no such route."""
        path = "/" + path.strip("/") if path.strip("/") else "/"
        for route in self._routes.get(method.upper(), ()):
            found = route.pattern.match(path)
            if found:
                values = {
                    name: unquote(value)
                    for name, value in zip(route.names, found.groups(), strict=True)
                }
                return route.operation, values
        return None

    def parameters(self, operation: Operation) -> list[dict[str, Any]]:
        item = self.document["paths"][operation.template]
        shared = [self.schemas.resolve(p) for p in item.get("parameters", [])]
        own = [self.schemas.resolve(p) for p in operation.raw.get("parameters", [])]
        names = {(p["name"], p["in"]) for p in own}
        return own + [p for p in shared if (p["name"], p["in"]) not in names]

    def validator(self, key: tuple[str, ...], schema: Mapping[str, Any]) -> Draft4Validator:
        """The compiled validator for `schema`, cached under `key` (operation, part, ...)."""
        with self._lock:
            found = self._validators.get(key)
            if found is None:
                found = Draft4Validator(self.schemas.convert(schema), format_checker=_FORMATS)
                self._validators[key] = found
            return found

    def component(self, name: str) -> Draft4Validator:
        """A validator for `#/components/schemas/<name>`."""
        ref = {"$ref": f"#/components/schemas/{name}"}
        return self.validator(("component", name), ref)


@cache
def spec() -> GitHubSpec:
    """The session's one parsed description."""
    return GitHubSpec()


# --- exchanges ------------------------------------------------------------------------------


def _errors(validator: Draft4Validator, instance: Any, where: str) -> list[str]:
    """One line per error; the required properties an object lacks share one line."""
    found: list[str] = []
    missing: dict[str, list[str]] = {}
    for error in sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path]):
        if error.validator == "required" and not error.context:
            name = error.message.split(" is a required property", 1)[0]
            missing.setdefault(error.json_path, []).append(name)
            continue
        found.append(f"{where}: {_describe(error)}")
    for path, names in missing.items():
        found.append(f"{where}: {path}: required but missing: {', '.join(names)}")
    return found


def _describe(error: ValidationError) -> str:
    """The error, and for `anyOf`/`oneOf` the branch that came closest, kept short."""
    deepest = error
    while deepest.context:
        best = best_match(deepest.context)
        if best is None:
            break
        deepest = best
    message = deepest.message
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT] + "..."
    return f"{deepest.json_path}: {message}"


def _media(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def _coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    """A path or query value (always text on the wire) as the type its schema declares."""
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            return raw
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


def _query_pairs(
    query: str | Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
) -> list[tuple[str, str]]:
    if query is None:
        return []
    if isinstance(query, str):
        return parse_qsl(query.lstrip("?"), keep_blank_values=True)
    items = query.items() if isinstance(query, Mapping) else query
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        for one in values:
            if isinstance(one, bool):
                one = "true" if one else "false"
            pairs.append((str(name), str(one)))
    return pairs


def _decode_body(body: Any) -> tuple[bool, Any]:
    """(present, value): bytes and text stay text, `None`/empty means no body."""
    if body is None or body in (b"", ""):
        return False, None
    if isinstance(body, bytes | bytearray):
        return True, bytes(body).decode("utf-8", errors="replace")
    return True, body


def _as_json(value: Any, where: str) -> tuple[Any, list[str]]:
    if isinstance(value, str):
        try:
            return json.loads(value), []
        except ValueError:
            return None, [f"{where}: not JSON: {value[:80]!r}"]
    return value, []


def validate_exchange(
    method: str,
    path: str,
    query: str | Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
    request_body: Any,
    status: int,
    response_headers: Mapping[str, str] | None,
    response_body: Any,
    *,
    request_headers: Mapping[str, str] | None = None,
) -> list[str]:
    """Every way one request and its answer differ from GitHub's description (empty: valid).

    `path` is the concrete, percent-encoded path (no host; a query after `?` is allowed
    when `query` is None); `query` the raw query string, a mapping or pairs; bodies are
    decoded JSON, text or bytes (`None` or empty: no body). `request_headers`, when given,
    lets the check see `Accept` and conditional requests (a 304 needs `If-None-Match`).
    """
    the_spec = spec()
    if query is None and "?" in path:
        path, _, query = path.partition("?")
    path = urlsplit(path).path if "://" in path else path
    matched = the_spec.match(method, path)
    if matched is None:
        return [f"{method.upper()} {path}: no such operation in GitHub's description"]
    operation, path_values = matched
    errors: list[str] = []
    errors += _check_parameters(the_spec, operation, path_values, _query_pairs(query))
    errors += _check_request_body(the_spec, operation, request_body)
    errors += _check_response(
        the_spec, operation, status, response_headers or {}, response_body, request_headers
    )
    return [f"{operation}: {error}" for error in errors]


def request_errors(method: str, path: str, query: str, request_body: Any) -> list[str]:
    """How one request (its route, query and body, not its answer) differs from GitHub's
    description: for requests seen only from the other side, as a stand-in records them."""
    the_spec = spec()
    matched = the_spec.match(method, path)
    if matched is None:
        return [f"{method.upper()} {path}: no such operation in GitHub's description"]
    operation, path_values = matched
    errors = _check_parameters(the_spec, operation, path_values, _query_pairs(query))
    errors += _check_request_body(the_spec, operation, request_body)
    return [f"{operation}: {error}" for error in errors]


def assert_valid_exchange(
    method: str,
    path: str,
    query: str | Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
    request_body: Any,
    status: int,
    response_headers: Mapping[str, str] | None,
    response_body: Any,
    *,
    request_headers: Mapping[str, str] | None = None,
) -> None:
    """`validate_exchange`, raising AssertionError that lists every error and the bodies."""
    errors = validate_exchange(
        method,
        path,
        query,
        request_body,
        status,
        response_headers,
        response_body,
        request_headers=request_headers,
    )
    if errors:
        raise AssertionError(
            describe_failure(method, path, query, request_body, status, response_body, errors)
        )


def describe_failure(
    method: str,
    path: str,
    query: Any,
    request_body: Any,
    status: int,
    response_body: Any,
    errors: Sequence[str],
) -> str:
    def shown(value: Any) -> str:
        if isinstance(value, bytes | bytearray):
            value = bytes(value).decode("utf-8", errors="replace")
        text = value if isinstance(value, str) else json.dumps(value, default=repr)
        return text if len(text) <= 600 else text[:600] + "..."

    target = f"{method.upper()} {path}" + (f"?{query}" if isinstance(query, str) and query else "")
    lines = [f"not valid per GitHub's OpenAPI description ({spec().version}): {target} -> {status}"]
    operation = errors[0].split(": ", 1)[0] if errors else ""
    if operation and all(error.startswith(operation + ": ") for error in errors):
        lines.append(f"  operation {operation}")
        errors = [error[len(operation) + 2 :] for error in errors]
    lines += [f"  - {error}" for error in errors]
    if request_body not in (None, b"", ""):
        lines.append(f"  request body: {shown(request_body)}")
    if response_body not in (None, b"", ""):
        lines.append(f"  response body: {shown(response_body)}")
    return "\n".join(lines)


def _check_parameters(
    the_spec: GitHubSpec,
    operation: Operation,
    path_values: Mapping[str, str],
    pairs: Sequence[tuple[str, str]],
) -> list[str]:
    errors: list[str] = []
    declared = the_spec.parameters(operation)
    by_place: dict[str, dict[str, dict[str, Any]]] = {}
    for parameter in declared:
        by_place.setdefault(parameter["in"], {})[parameter["name"]] = parameter
    in_path = by_place.get("path", {})
    for name, value in path_values.items():
        in_template = in_path.get(name)
        if in_template is None:
            errors.append(f"path parameter {name} is not declared")
            continue
        schema = the_spec.schemas.resolve(in_template.get("schema", {}))
        validator = the_spec.validator((operation.operation_id, "path", name), schema)
        errors += _errors(validator, _coerce(value, schema), f"path parameter {name}={value!r}")
    in_query = by_place.get("query", {})
    seen: dict[str, int] = {}
    for name, value in pairs:
        seen[name] = seen.get(name, 0) + 1
        in_operation = in_query.get(name)
        if in_operation is None:
            known = ", ".join(sorted(in_query)) or "none"
            errors.append(f"query parameter {name!r} is not one the operation takes ({known})")
            continue
        schema = the_spec.schemas.resolve(in_operation.get("schema", {}))
        if schema.get("type") == "array":
            continue  # GitHub's array queries (`name[]=`) are never sent by the product
        validator = the_spec.validator((operation.operation_id, "query", name), schema)
        errors += _errors(validator, _coerce(value, schema), f"query parameter {name}={value!r}")
    errors += [f"query parameter {name!r} given {n} times" for name, n in seen.items() if n > 1]
    errors += [
        f"required query parameter {name!r} is missing"
        for name, parameter in in_query.items()
        if parameter.get("required") and name not in seen
    ]
    return errors


def _check_request_body(the_spec: GitHubSpec, operation: Operation, body: Any) -> list[str]:
    present, value = _decode_body(body)
    declared = the_spec.schemas.resolve(operation.raw.get("requestBody"))
    if declared is None:
        return ["the operation takes no request body, one was sent"] if present else []
    if not present:
        return ["the operation requires a request body"] if declared.get("required") else []
    content = declared.get("content", {})
    if JSON_MEDIA not in content:
        return [f"request body media types are {sorted(content)}; the check knows JSON only"]
    value, errors = _as_json(value, "request body")
    if errors:
        return errors
    schema = content[JSON_MEDIA].get("schema", {})
    validator = the_spec.validator((operation.operation_id, "request"), schema)
    return _errors(validator, value, "request body")


def _check_response(
    the_spec: GitHubSpec,
    operation: Operation,
    status: int,
    headers: Mapping[str, str],
    body: Any,
    request_headers: Mapping[str, str] | None,
) -> list[str]:
    responses = operation.raw.get("responses", {})
    declared = the_spec.schemas.resolve(responses.get(str(status)))
    present, value = _decode_body(body)
    errors: list[str] = []
    if status in REDIRECTS:
        location = _header(headers, "location")
        if not location or not _URI.match(location):
            errors.append(f"a {status} redirect without an absolute Location header")
    if declared is None:
        conditional = _header(request_headers, "if-none-match") or _header(
            request_headers, "if-modified-since"
        )
        if status == 304 and operation.method == "GET" and conditional:
            return errors + (["a 304 carries no body"] if present else [])
        if status not in ANY_ENDPOINT_STATUSES:
            documented = ", ".join(sorted(responses)) or "none"
            return [*errors, f"status {status} is not documented (documented: {documented})"]
        if not present:
            return errors
        value, json_errors = _as_json(value, f"response {status} body")
        if json_errors:
            return errors + json_errors
        validator = the_spec.component("basic-error")
        return errors + _errors(validator, value, f"response {status} body (basic-error)")
    for name, header in (declared.get("headers") or {}).items():
        header = the_spec.schemas.resolve(header)
        given = _header(headers, name)
        if given is None or "schema" not in header:
            continue
        schema = the_spec.schemas.resolve(header["schema"])
        validator = the_spec.validator(
            (operation.operation_id, str(status), "header", name), schema
        )
        errors += _errors(validator, _coerce(given, schema), f"response header {name}")
    content: Mapping[str, Any] = declared.get("content") or {}
    if not content:
        return errors + (
            [f"status {status} is documented without a body; one came"] if present else []
        )
    if not present:
        return [
            *errors,
            f"status {status} is documented with a body ({', '.join(content)}); none came",
        ]
    media = _media(_header(headers, "content-type"))
    accept = _media(_header(request_headers, "accept"))
    if request_headers is not None and accept not in GENERIC_ACCEPTS and 200 <= status < 300:
        if accept not in content:
            errors.append(f"the request asked for {accept}, which status {status} does not offer")
        elif media != accept:
            errors.append(f"the request asked for {accept}; the answer is {media or 'unlabelled'}")
    if media not in content:
        return [
            *errors,
            f"response content-type {media or '(none)'} is not documented for {status} "
            f"({', '.join(content)})",
        ]
    schema = content[media].get("schema", {})
    if media == JSON_MEDIA or media.endswith("+json"):
        value, json_errors = _as_json(value, f"response {status} body")
        if json_errors:
            return errors + json_errors
    validator = the_spec.validator((operation.operation_id, str(status), media), schema)
    return errors + _errors(validator, value, f"response {status} body ({media})")


# --- recording a client's exchanges ---------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One exchange as the client saw it: what it sent and what came back (body decoded)."""

    method: str
    url: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: Any
    status: int
    response_headers: dict[str, str]
    response_body: bytes


class RecordingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that records every exchange of the client it is given to.

    Give one to `GitHubClient(transport=...)` and one sharing its `seen` list to
    `AppAuth(transport=...)` (each client closes its transport): whatever server answers
    (FakeGitHub, the stand-in, anything on 127.0.0.1), `validate_seen` then judges what
    went over the wire, from the client's side.
    """

    def __init__(self, seen: list[Seen] | None = None) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.seen: list[Seen] = [] if seen is None else seen

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        try:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        decoded = httpx.Response(response.status_code, headers=response.headers, content=raw)
        content = bytes(request.content)
        try:
            body: Any = json.loads(content) if content else None
        except ValueError:
            body = content.decode("utf-8", errors="replace")
        self.seen.append(
            Seen(
                method=request.method,
                url=str(request.url),
                path=request.url.raw_path.decode("ascii").split("?", 1)[0],
                query=request.url.query.decode("ascii"),
                request_headers={k.lower(): v for k, v in request.headers.items()},
                request_body=body,
                status=response.status_code,
                response_headers={k.lower(): v for k, v in response.headers.items()},
                response_body=decoded.read() if raw else b"",
            )
        )
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(raw),
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def api_exchanges(seen: Iterable[Seen]) -> list[Seen]:
    """The exchanges with the REST API: a documented redirect's target (the signed URL a
    log download leads to) is storage the description does not cover."""
    targets: set[str] = set()
    kept: list[Seen] = []
    for one in seen:
        if one.url in targets:
            continue
        kept.append(one)
        location = one.response_headers.get("location")
        if one.status in REDIRECTS and location:
            targets.add(location)
    return kept


def validate_seen(one: Seen) -> list[str]:
    """`validate_exchange` for one recorded exchange."""
    return validate_exchange(
        one.method,
        one.path,
        one.query,
        one.request_body,
        one.status,
        one.response_headers,
        one.response_body,
        request_headers=one.request_headers,
    )


def assert_valid_seen(one: Seen) -> None:
    errors = validate_seen(one)
    if errors:
        raise AssertionError(
            describe_failure(
                one.method,
                one.path,
                one.query,
                one.request_body,
                one.status,
                one.response_body,
                errors,
            )
        )
