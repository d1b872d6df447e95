"""Discord's official OpenAPI spec as a validator for the bodies we send and answer.

One Node process (`tests/contract/discord-validate.mjs`, schemas from the `discord-api-spec`
npm package, every object strict) is started on first use and shared by the whole session:

    from tests.support.discord_spec import DiscordSpec

    spec = DiscordSpec.get()
    spec.assert_valid_interaction_response({"type": 4, "data": {"content": "hi", "flags": 64}})
    spec.assert_valid_request("PATCH", "/webhooks/1/tok/messages/@original", {"content": "ok"})
    assert spec.validate_request("POST", "/channels/1/messages", {"content": 5})  # errors

`validate_*` return the list of errors (empty = valid); `assert_valid_*` raise AssertionError
naming the route, the schema and every error. A body of `None` means "no body".
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, ClassVar

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO_ROOT / "node_modules"
SCRIPT = REPO_ROOT / "tests" / "contract" / "discord-validate.mjs"
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 15.0


class DiscordSpecError(RuntimeError):
    """The validator process could not be started or stopped answering."""


def require_node_modules(*packages: str) -> Path:
    """`node_modules`, or a loud error saying how to get it (tests never skip for it)."""
    missing = [name for name in packages if not (NODE_MODULES / name / "package.json").is_file()]
    if missing:
        raise DiscordSpecError(
            f"missing {', '.join(missing)} under {NODE_MODULES}: "
            "run `npm ci` in the repository root (or `make test`)"
        )
    node = shutil.which("node")
    if node is None:
        raise DiscordSpecError("`node` is not on PATH; Node 20+ is needed for the contract tests")
    return NODE_MODULES


class DiscordSpec:
    """A client of the validator process. Use `DiscordSpec.get()`: one per session."""

    _instance: ClassVar[DiscordSpec | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        require_node_modules("discord-api-spec", "zod")
        node = shutil.which("node")
        assert node is not None
        self._lock = threading.Lock()
        self._next_id = 0
        self._lines: queue.Queue[str | None] = queue.Queue()
        handle, name = tempfile.mkstemp(prefix="discord-validate-", suffix=".log")
        os.close(handle)
        self._stderr_path = Path(name)
        with self._stderr_path.open("ab") as stderr:
            self._process = subprocess.Popen(
                [node, str(SCRIPT)],
                cwd=REPO_ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, "NODE_NO_WARNINGS": "1"},
            )
        self._reader = threading.Thread(target=self._read, name="discord-spec-reader", daemon=True)
        self._reader.start()
        ready = self._next_line(START_TIMEOUT, "start")
        if not ready.get("ready"):
            self.close()
            raise DiscordSpecError(f"unexpected first line from the validator: {ready}")
        self.routes: int = int(ready["routes"])
        self.quirks: list[str] = list(ready.get("quirks", []))

    @classmethod
    def get(cls) -> DiscordSpec:
        with cls._instance_lock:
            if cls._instance is None or not cls._instance.alive:
                cls._instance = cls()
                atexit.register(cls._instance.close)
            return cls._instance

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def validate_request(self, method: str, path: str, body: Any = None) -> list[str]:
        """Errors of `body` sent as `method path` (path concrete, `/api/v10` and query allowed)."""
        request: dict[str, Any] = {"method": method, "path": path}
        if body is not None:
            request["body"] = body
        return list(self.ask(request)["errors"])

    def validate_interaction_response(self, body: Any) -> list[str]:
        """Errors of `body` as the HTTP answer of our `/discord` interactions endpoint."""
        return list(self.ask({"kind": "interaction_response", "body": body})["errors"])

    def assert_valid_request(self, method: str, path: str, body: Any = None) -> None:
        request: dict[str, Any] = {"method": method, "path": path}
        if body is not None:
            request["body"] = body
        self._assert_ok(self.ask(request), body)

    def assert_valid_interaction_response(self, body: Any) -> None:
        self._assert_ok(self.ask({"kind": "interaction_response", "body": body}), body)

    def describe(self, method: str, path: str) -> dict[str, Any]:
        """The spec route and body type for `method path`, without validating anything."""
        return self.ask({"kind": "describe", "method": method, "path": path})

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """One raw round trip: the answer object (`ok`, `route`, `schema`, `errors`, ...)."""
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            line = json.dumps({**request, "id": request_id}, allow_nan=False)
            if not self.alive:
                raise DiscordSpecError(
                    f"validator exited with {self._process.returncode}: {self._stderr_tail()}"
                )
            assert self._process.stdin is not None
            try:
                self._process.stdin.write(line.encode() + b"\n")
                self._process.stdin.flush()
            except OSError as exc:
                raise DiscordSpecError(f"validator is gone ({exc}): {self._stderr_tail()}") from exc
            answer = self._next_line(REQUEST_TIMEOUT, line[:200])
        if answer.get("id") != request_id:
            raise DiscordSpecError(f"answer {answer} does not belong to request {request_id}")
        if not isinstance(answer.get("errors"), list) or not isinstance(answer.get("ok"), bool):
            raise DiscordSpecError(f"malformed answer: {answer}")
        if answer["ok"] == bool(answer["errors"]):
            raise DiscordSpecError(f"inconsistent answer (ok vs errors): {answer}")
        return answer

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                if self._process.stdin is not None:
                    self._process.stdin.close()
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(timeout=5)
        elif self._process.stdin is not None and not self._process.stdin.closed:
            self._process.stdin.close()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._reader.join(timeout=5)
        self._stderr_path.unlink(missing_ok=True)

    def _read(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        try:
            for raw in stdout:
                self._lines.put(raw.decode("utf-8", "replace"))
        except (OSError, ValueError):
            pass
        self._lines.put(None)

    def _next_line(self, timeout: float, what: str) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise DiscordSpecError(
                f"validator gave no answer within {timeout}s ({what}): {self._stderr_tail()}"
            ) from None
        if line is None:
            self._lines.put(None)  # stay closed for the next caller
            self._process.wait(timeout=5)
            raise DiscordSpecError(
                f"validator exited with {self._process.returncode} ({what}): {self._stderr_tail()}"
            )
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _stderr_tail(self) -> str:
        try:
            text = self._stderr_path.read_text(errors="replace")
        except OSError:
            return "(no stderr)"
        return text[-4000:].strip() or "(no stderr)"

    @staticmethod
    def _assert_ok(answer: dict[str, Any], body: Any) -> None:
        if answer["ok"]:
            return
        shown = json.dumps(body, indent=None)
        if len(shown) > 1500:
            shown = shown[:1500] + "..."
        lines = [
            f"not valid per Discord's OpenAPI spec: {answer.get('route', '(no route)')}",
            f"  schema: {answer.get('schema', '?')}",
            *(f"  - {error}" for error in answer["errors"]),
            f"  body: {shown}",
        ]
        raise AssertionError("\n".join(lines))
