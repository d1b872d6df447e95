"""Settings: every knob comes from the environment or `.env`, in one place.

Why one class: the README's configuration table is generated from it (see
`settings_table()`), so the code and the docs cannot disagree. Secrets are
`Secret` so they never show up in a `repr`, a traceback or a log line.

Two modes matter:

* **dev** (the default on a laptop): anything missing is filled in by a dev
  identity generated under the data dir (an Ed25519 keypair standing in for
  Discord, a webhook secret standing in for GitHub), so `orchestrator serve`
  works with zero configuration.
* **prod** (`ORCHESTRATOR_ENV=prod`, implied on AWS Lambda): a missing secret
  is a startup error naming every missing variable. A dev key is never used
  silently in production.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

LAMBDA_MARKER = "AWS_LAMBDA_FUNCTION_NAME"
# DISCORD_GUILD_IDS=* : any guild (production must say so explicitly).
ANY_GUILD = "*"
# Stand-ins for a real application and user locally; snowflakes Discord will never issue.
DEV_APPLICATION_ID = "100000000000000001"
DEV_USER_ID = "100000000000000002"
# A second simulator user who may deploy (not an admin): someone else to approve a deploy.
DEV_TEAMMATE_ID = "100000000000000042"
# Outside production, Discord calls go to a local stand-in here (the dev server's, or one
# `orchestrator simulate` runs), and GitHub calls in tests to a closed port, unless configured
# explicitly: a local run or a test can never reach the real services by accident. The dev
# server (`orchestrator serve`) also runs a GitHub stand-in and points the app at it.
DEV_DISCORD_CAPTURE_PORT = 8765
DEV_DISCORD_API_BASE = f"http://127.0.0.1:{DEV_DISCORD_CAPTURE_PORT}/api/v10"
TEST_GITHUB_API_BASE = "http://127.0.0.1:9"
DATA_DIR_NAME = ".orchestrator"


class Env(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class StoreBackend(StrEnum):
    SQLITE = "sqlite"
    DYNAMODB = "dynamodb"


class JobsBackend(StrEnum):
    INPROCESS = "inprocess"
    LAMBDA = "lambda"


class Tone(StrEnum):
    PLAYFUL = "playful"
    PLAIN = "plain"


class ConfigError(RuntimeError):
    """Raised at startup when the configuration cannot work; the message names each variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def _on_lambda() -> bool:
    return bool(os.environ.get(LAMBDA_MARKER))


def _is_our_pyproject(path: Path) -> bool:
    import tomllib  # only where a checkout is looked for: never on Lambda

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    project = data.get("project")
    return isinstance(project, dict) and project.get("name") == "orchestrator"


@functools.cache
def _checkout_from(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if _is_our_pyproject(candidate / "pyproject.toml"):
            return candidate
    return None


def checkout_root() -> Path | None:
    """The checkout of this project we run in: the folder holding its `pyproject.toml`, found
    walking up from the current folder, else from where the package lives (an editable
    install run from elsewhere). None when neither is a checkout (an installed wheel).

    Why: the dev identity and the store must not depend on the folder a command is typed in,
    or the CLI run from `docs/` signs with a second identity the server never heard of."""
    found = _checkout_from(Path.cwd().resolve())
    if found is None:
        found = _checkout_from(Path(__file__).resolve().parent.parent)
    return found


def _default_data_dir() -> Path:
    if _on_lambda():  # no checkout there; nothing local is read from it either
        return Path(DATA_DIR_NAME)
    root = checkout_root()
    return root / DATA_DIR_NAME if root is not None else Path(DATA_DIR_NAME)


def _default_env_file() -> Path | None:
    """`.env` of the checkout (see `checkout_root`), else of the current folder."""
    chosen = os.environ.get("ORCHESTRATOR_ENV_FILE")
    if chosen is not None:
        return Path(chosen) if chosen else None
    root = None if _on_lambda() else checkout_root()
    return root / ".env" if root is not None else Path(".env")


def _default_env() -> Env:
    return Env.PROD if _on_lambda() else Env.DEV


def _default_store() -> StoreBackend:
    return StoreBackend.DYNAMODB if _on_lambda() else StoreBackend.SQLITE


def _default_jobs() -> JobsBackend:
    return JobsBackend.LAMBDA if _on_lambda() else JobsBackend.INPROCESS


class Secret:
    """A configured secret: its value only through `get_secret_value()`, never in a `repr`,
    a `str`, a traceback or a log line (`secret_values()` feeds the log scrubber too)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __len__(self) -> int:
        """As pydantic's `SecretStr`: an empty secret is falsy (not configured)."""
        return len(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# How a setting's value is read: from the text of a variable, or from a value given in code
# (`load_settings(ORCHESTRATOR_DIGEST_HOUR=3)`). A parser raises ValueError with what the
# value must be; the message never repeats the value (it may be a secret).
Parse = Callable[[object], Any]


class Field:
    """One setting: the variable it is read from, how, its default, and the README's words.
    (A plain class: `@dataclass` would cost the cold start a millisecond to write it.)"""

    __slots__ = ("default", "default_factory", "doc", "parse", "variable")

    def __init__(
        self,
        variable: str,
        parse: Parse,
        doc: str,
        default: Any = None,
        default_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.variable = variable
        self.parse = parse
        self.doc = doc
        self.default = default
        self.default_factory = default_factory

    def default_value(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default

    @property
    def optional(self) -> bool:
        """Unset is a value of its own (None): a blank value means unset, as in the
        environment, where a template's empty parameter means "not configured"."""
        return self.default is None and self.default_factory is None


def setting(
    variable: str,
    parse: Parse,
    *,
    doc: str,
    default: Any = None,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """Declare a setting in `Settings`' body. Typed `Any` so the declaration can carry the
    attribute's real type (`digest_hour: int = setting(...)`); `FIELDS` collects them."""
    return Field(variable, parse, doc, default, default_factory)


def _param_field(variable: str) -> Any:
    """`<VARIABLE>_PARAM`: read by `orchestrator.aws.secrets` before settings load; declared
    here so it is documented and shown by `orchestrator config`."""
    return setting(
        f"{variable}_PARAM",
        _text,
        doc=f"On Lambda: name of the SSM SecureString holding `{variable}` (read once "
        f"per container at cold start; wins over `{variable}`).",
    )


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value


def _path(value: object) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise ValueError("must be a path")
    return Path(value)


def _secret(value: object) -> Secret:
    return value if isinstance(value, Secret) else Secret(_text(value))


def _one_of(*options: str) -> Parse:
    def parse(value: object) -> str:
        if not isinstance(value, str) or value.strip().lower() not in options:
            raise ValueError("must be one of " + ", ".join(f"`{o}`" for o in options))
        return value.strip().lower()

    return parse


def _choice(options: type[StrEnum]) -> Parse:
    """`_one_of` the enum's values, as its member (a StrEnum member is its value)."""
    pick = _one_of(*options)
    return lambda value: options(pick(value))


def _bounds(minimum: float | None, maximum: float | None, above: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" of at least {minimum}"
    return f" above {above}" if above is not None else ""


def _finite(value: object) -> float | None:
    """`value` as a finite number, from a number or its text (`" 600.0 "`, `"64_000_000"`, as
    Python reads them); None for anything else (a flag, `nan`, `inf`: no setting means
    "never", and a timeout of infinity would let a connection hold its claim forever)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _whole(minimum: int | None = None, maximum: int | None = None) -> Parse:
    def parse(value: object) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            whole: int | None = value  # exact, however large (a float would round it)
        else:
            number = _finite(value)
            whole = int(number) if number is not None and number.is_integer() else None
        if (
            whole is None
            or (minimum is not None and whole < minimum)
            or (maximum is not None and whole > maximum)
        ):
            raise ValueError("must be a whole number" + _bounds(minimum, maximum, None))
        return whole

    return parse


def _number(minimum: float | None = None, above: float | None = None) -> Parse:
    def parse(value: object) -> float:
        number = _finite(value)
        if (
            number is None
            or (minimum is not None and number < minimum)
            or (above is not None and number <= above)
        ):
            raise ValueError("must be a number" + _bounds(minimum, None, above))
        return number

    return parse


def _matching(pattern: str, shape: str) -> Parse:
    def parse(value: object) -> str:
        text = _text(value).strip()
        if not re.fullmatch(pattern, text):
            raise ValueError(f"must be {shape}")
        return text

    return parse


def _base_path(value: object) -> str:
    return "/" + _text(value).strip().strip("/")


def _items(value: object) -> list[object]:
    """A comma-separated list (blank items dropped), or a list given in code."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return list(value)
    raise ValueError("must be a comma-separated list")


def _csv(value: object) -> list[str]:
    items = _items(value)
    if not all(isinstance(item, str) for item in items):
        raise ValueError("must be a comma-separated list")
    return [str(item) for item in items]


def _secrets(value: object) -> list[Secret]:
    try:
        return [_secret(item) for item in _items(value)]
    except ValueError:
        raise ValueError("must be a comma-separated list") from None


def _access_json(value: object) -> dict[str, dict[str, list[str]]]:
    """`{"command": {"guilds" | "roles" | "users": ["id", ...]}}`, as JSON or as a dict."""
    shape = ValueError('must be JSON like {"status": {"roles": ["123"]}}')
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value) if value.strip() else {}
        except (ValueError, RecursionError):  # RecursionError: [[[[...]]]]
            raise shape from None
    if not isinstance(value, Mapping):
        raise shape
    access: dict[str, dict[str, list[str]]] = {}
    for command, lists in value.items():
        if not isinstance(command, str) or not isinstance(lists, Mapping):
            raise shape
        access[command] = {}
        for key, ids in lists.items():
            if not isinstance(key, str) or not isinstance(ids, list):
                raise shape
            if not all(isinstance(i, str) for i in ids):
                raise shape
            access[command][key] = list(ids)
    return access


# ORCHESTRATOR_ENV_FILE="" turns the file off (the tests do, so a developer's .env with real
# secrets never leaks into a test run). Decided once, at import, like the settings class.
ENV_FILE = _default_env_file()


def _read_env_file(path: Path | None) -> dict[str, str | None]:
    """The dotenv file's variables, or nothing when there is none (as on Lambda, where
    python-dotenv is then never imported)."""
    if path is None or not (path.is_file() or path.is_fifo()):
        return {}
    from dotenv import dotenv_values

    return dict(dotenv_values(path, encoding="utf-8"))


def _sourced(values: dict[str, Any]) -> dict[str, Any]:
    """Explicit values over the environment over the dotenv file, keyed by field name (an
    explicit value is named by its variable or its field). Names match case-insensitively,
    as environment variables do. A variable set to nothing (`NAME=` in the environment or the
    file, or a bare `NAME` line in the file) is absent: the file or the default applies. A
    template or shell passing an empty value means "not configured", not a value to check.

    Why not pydantic-settings: importing it (and python-dotenv with it) was about a fifth of
    what our modules added to a Lambda cold start, to read some twenty variables."""
    environment = {k.lower(): v for k, v in _read_env_file(ENV_FILE).items()}
    environment.update((k.lower(), v) for k, v in os.environ.items() if v)
    given = {k.lower(): k for k in values}
    merged: dict[str, Any] = {}
    for name, field in FIELDS.items():
        variable = field.variable.lower()
        explicit = given.get(variable, given.get(name))
        if explicit is not None:
            merged[name] = values[explicit]
        elif environment.get(variable):  # "": unset
            merged[name] = environment[variable]
    return merged


class Settings:
    """All configuration. Field descriptions feed the README table; keep them short.

    Built from the environment (and `ENV_FILE`), explicit keyword values winning; a value
    that cannot work is a `ConfigError` naming each such variable (never its value).

    Why a plain class, not a pydantic model: building the model's validator at import was the
    largest cost our own modules added to a Lambda cold start (~7 ms), for some fifty values
    that each need one small parser (`setting`)."""

    def __init__(self, **values: Any) -> None:
        given = _sourced(values)
        problems = []
        for name, field in FIELDS.items():
            if name not in given:
                value = field.default_value()
            elif field.optional and _blank(given[name]):
                value = None  # a blank value is unset, like an empty variable
            else:
                try:
                    value = field.parse(given[name])
                except ValueError as exc:
                    problems.append(f"{field.variable} {exc}")
                    continue
            self.__dict__[name] = value
        if problems:
            raise ConfigError(problems)
        self.__dict__["_explicit"] = frozenset(given)

    @property
    def explicit(self) -> frozenset[str]:
        """The settings given in code, the environment or the dotenv file (not defaults)."""
        result: frozenset[str] = self.__dict__["_explicit"]
        return result

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` (field names, values as the fields hold them: not parsed),
        which then count as given (`explicit`)."""
        unknown = set(changes) - FIELDS.keys()
        if unknown:
            raise TypeError(f"not settings: {', '.join(sorted(unknown))}")
        copy = object.__new__(Settings)
        copy.__dict__.update(self.__dict__, **changes)
        copy.__dict__["_explicit"] = self.explicit | frozenset(changes)
        return copy

    def __eq__(self, other: object) -> bool:
        """Equal values (wherever they came from)."""
        if not isinstance(other, Settings):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in FIELDS)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in FIELDS)
        return f"Settings({shown})"

    env: Env = setting(
        "ORCHESTRATOR_ENV",
        _choice(Env),
        default_factory=_default_env,
        doc="`dev`, `test` or `prod`. `prod` (implied on Lambda) refuses to start "
        "without its secrets; `dev` generates a local identity instead.",
    )
    data_dir: Path = setting(
        "ORCHESTRATOR_DATA_DIR",
        _path,
        default_factory=_default_data_dir,
        doc="Where the embedded SQLite store, the dev identity and the running dev "
        "server's address live.",
    )
    store: StoreBackend = setting(
        "ORCHESTRATOR_STORE",
        _choice(StoreBackend),
        default_factory=_default_store,
        doc="`sqlite` (default locally) or `dynamodb` (default on Lambda).",
    )
    sqlite_path: Path | None = setting(
        "ORCHESTRATOR_SQLITE_PATH",
        _path,
        doc="SQLite file; defaults to `<data dir>/orchestrator.sqlite3`.",
    )
    dynamodb_table: str = setting(
        "ORCHESTRATOR_DYNAMODB_TABLE",
        _text,
        default="orchestrator",
        doc="DynamoDB table name when the store is `dynamodb`.",
    )
    jobs: JobsBackend = setting(
        "ORCHESTRATOR_JOBS",
        _choice(JobsBackend),
        default_factory=_default_jobs,
        doc="How deferred work runs: `inprocess` (a background loop in this process) "
        "or `lambda` (async self-invoke).",
    )
    jobs_function: str | None = setting(
        "ORCHESTRATOR_JOBS_FUNCTION",
        _text,
        doc="With `lambda` jobs: the function jobs are invoked on (name or ARN; "
        "`name:alias` runs them on the alias's published version). Default: this function.",
    )
    api_base_path: str = setting(
        "ORCHESTRATOR_API_BASE_PATH",
        _base_path,
        default="/",
        doc="Path prefix stripped on Lambda, e.g. `/dev` for an API Gateway stage "
        "named `dev`. The `$default` stage needs none.",
    )
    public_url: str | None = setting(
        "ORCHESTRATOR_PUBLIC_URL",
        _text,
        doc="The URL this service is reached at (used in links and by `verify-deploy`).",
    )
    config_file: Path = setting(
        "ORCHESTRATOR_CONFIG",
        _path,
        default=Path("orchestrator.toml"),
        doc="TOML file with deployable `[[apps]]` and seed `[[notify]]` "
        "subscriptions (optional; see `docs/configuration.md`).",
    )
    orchestrator_repo: str | None = setting(
        "ORCHESTRATOR_REPO",
        _text,
        doc="This service's own repository (owner/name): the verifier checks the "
        "running SHA against its branch head.",
    )
    orchestrator_branch: str = setting(
        "ORCHESTRATOR_BRANCH",
        _text,
        default="main",
        doc="The branch this service deploys from.",
    )
    shutdown_grace: float = setting(
        "ORCHESTRATOR_SHUTDOWN_GRACE",
        _number(minimum=0),
        default=10.0,
        doc="Seconds in-flight jobs get to finish on SIGTERM before they are recorded "
        "as pending (and resumed on the next start); a job loop too busy to answer adds up "
        "to 4 s.",
    )
    # Bodies are read before their signature can be checked, so these bound what a stranger
    # can make us hold. GitHub gives up on a delivery after 10 s itself, so a 30 s deadline
    # costs it nothing (25 MB in 30 s is under 7 Mbit/s); the budget admits two 25 MB
    # deliveries at once plus Discord's small interactions.
    body_timeout: float = setting(
        "ORCHESTRATOR_BODY_TIMEOUT",
        _number(above=0),
        default=30.0,
        doc="Seconds a request to `/discord` or `/github` has to deliver its whole body "
        "once reading starts; slower is `408`.",
    )
    body_budget_bytes: int = setting(
        "ORCHESTRATOR_BODY_BUDGET_BYTES",
        _whole(minimum=25_000_000),
        default=64_000_000,
        doc="Request-body bytes the process waits for at once across all requests (declared "
        "lengths count up front); past it `503` with `Retry-After`. At least 25000000.",
    )
    limit_concurrency: int = setting(
        "ORCHESTRATOR_LIMIT_CONCURRENCY",
        _whole(minimum=1),
        default=100,
        doc="`orchestrator serve`: connections plus requests in progress before new "
        "requests get `503` (uvicorn `--limit-concurrency`).",
    )
    keep_alive_timeout: int = setting(
        "ORCHESTRATOR_KEEP_ALIVE_TIMEOUT",
        _whole(minimum=1),
        default=5,
        doc="`orchestrator serve`: seconds an idle keep-alive connection stays open "
        "(uvicorn `--timeout-keep-alive`).",
    )
    header_timeout: float = setting(
        "ORCHESTRATOR_HEADER_TIMEOUT",
        _number(above=0),
        default=10.0,
        doc="`orchestrator serve`: seconds a connection has to send a complete request "
        "head, from connecting or from the previous answer; then it is closed.",
    )
    log_level: str = setting(
        "ORCHESTRATOR_LOG_LEVEL",
        _text,
        default="INFO",
        doc="Python log level name.",
    )
    tone: Tone = setting(
        "ORCHESTRATOR_TONE",
        _choice(Tone),
        default=Tone.PLAYFUL,
        doc="`playful` (short, a little cheeky) or `plain` replies.",
    )

    scheduler: Literal["on", "off"] | None = setting(
        "ORCHESTRATOR_SCHEDULER",
        _one_of("on", "off"),
        doc="`on` or `off`: the in-process scheduler for uptime probes, digests, "
        "the deploy watch (lock reminders, waiting deploys, expired approvals) and the "
        "reconcile sweep (lost webhooks). "
        "Unset: `on` in dev, `off` in test and prod (prod uses EventBridge Scheduler).",
    )
    probe_interval: int = setting(
        "ORCHESTRATOR_PROBE_INTERVAL",
        _whole(minimum=30),
        default=300,
        doc="Seconds between uptime probes of every app's URLs (local scheduler).",
    )
    ops_channel_id: str | None = setting(
        "ORCHESTRATOR_OPS_CHANNEL_ID",
        _text,
        doc="Channel for up/down alerts of apps without a `channel_id` (and of "
        "this service itself). Unset: such alerts are only recorded.",
    )
    digest_hour: int = setting(
        "ORCHESTRATOR_DIGEST_HOUR",
        _whole(minimum=0, maximum=23),
        default=9,
        doc="UTC hour of the daily digest (the weekly one goes out Mondays).",
    )
    digest_channel_id: str | None = setting(
        "ORCHESTRATOR_DIGEST_CHANNEL_ID",
        _text,
        doc="Channel the scheduled digests go to. Unset: no digest is posted.",
    )

    reconcile_after: int = setting(
        "ORCHESTRATOR_RECONCILE_AFTER",
        _whole(minimum=60),
        default=600,
        doc="Seconds after its dispatch a deploy still unfinished is looked up in "
        "GitHub by the reconcile schedule (`orchestrator reconcile` looks at every one).",
    )

    discord_public_key: str | None = setting(
        "DISCORD_PUBLIC_KEY",
        _text,
        doc="Hex Ed25519 public key from the Discord developer portal; verifies `/discord`.",
    )
    discord_application_id: str | None = setting(
        "DISCORD_APPLICATION_ID",
        _text,
        doc="Discord application id; follow-ups and command registration.",
    )
    discord_bot_token: Secret | None = setting(
        "DISCORD_BOT_TOKEN",
        _secret,
        doc="Bot token for channel messages and command registration.",
    )
    discord_api_base: str = setting(
        "DISCORD_API_BASE",
        _text,
        default="https://discord.com/api/v10",
        doc="Discord REST base URL. Outside prod, unless set, a local stand-in: the one "
        "`orchestrator serve` runs in dev (on port 8765 when free), else `http://127.0.0.1:8765`.",
    )
    discord_signature_max_age: int = setting(
        "DISCORD_SIGNATURE_MAX_AGE",
        _whole(minimum=1),
        default=300,
        doc="Seconds a signed interaction stays acceptable (replay window).",
    )
    discord_max_body_bytes: int = setting(
        "DISCORD_MAX_BODY_BYTES",
        _whole(minimum=1024),
        default=1_048_576,
        doc="Largest interaction body accepted; larger is 413 before verifying.",
    )

    discord_guild_ids: list[str] = setting(
        "DISCORD_GUILD_IDS",
        _csv,
        default_factory=list,
        doc="Comma-separated guild ids allowed to use the bot at all. Required in "
        "prod (`*` opts into any guild, with a warning at startup); empty outside prod: any.",
    )
    discord_admin_role_ids: list[str] = setting(
        "DISCORD_ADMIN_ROLE_IDS",
        _csv,
        default_factory=list,
        doc="Role ids whose members are admins (`/config`, `/notify`, relays).",
    )
    discord_admin_user_ids: list[str] = setting(
        "DISCORD_ADMIN_USER_IDS",
        _csv,
        default_factory=list,
        doc="User ids who are admins.",
    )
    discord_deploy_role_ids: list[str] = setting(
        "DISCORD_DEPLOY_ROLE_IDS",
        _csv,
        default_factory=list,
        doc="Role ids allowed to run deploy-capable commands (admins always are).",
    )
    discord_deploy_user_ids: list[str] = setting(
        "DISCORD_DEPLOY_USER_IDS",
        _csv,
        default_factory=list,
        doc="User ids allowed to run deploy-capable commands.",
    )
    discord_command_access: dict[str, dict[str, list[str]]] = setting(
        "DISCORD_COMMAND_ACCESS",
        _access_json,
        default_factory=dict,
        doc='Per-command allow-lists as JSON, e.g. `{"status": {"roles": ["123"]}}` '
        "(keys: `guilds`, `roles`, `users`).",
    )

    github_token: Secret | None = setting(
        "GITHUB_TOKEN",
        _secret,
        doc="GitHub token for the REST API (workflow runs, dispatch, deliveries).",
    )
    github_app_id: str | None = setting(
        "GITHUB_APP_ID",
        _text,
        doc="GitHub App id, to authenticate as an App instead of with `GITHUB_TOKEN`.",
    )
    github_app_private_key: Secret | None = setting(
        "GITHUB_APP_PRIVATE_KEY",
        _secret,
        doc="The App's private key (PEM, `BEGIN RSA PRIVATE KEY`).",
    )
    github_app_installation_id: int | None = setting(
        "GITHUB_APP_INSTALLATION_ID",
        _whole(),
        doc="The App installation to act as.",
    )
    github_webhook_secret: list[Secret] = setting(
        "GITHUB_WEBHOOK_SECRET",
        _secrets,
        default_factory=list,
        doc="Webhook secret(s); a comma-separated list accepts several during rotation.",
    )
    github_hook_repo: str | None = setting(
        "GITHUB_HOOK_REPO",
        _matching(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", "`owner/name`"),
        doc="`owner/name` of the repository webhook whose failed deliveries the "
        "reconcile sweep (and `deliveries`) redelivers; with `GITHUB_HOOK_ID`.",
    )
    github_hook_org: str | None = setting(
        "GITHUB_HOOK_ORG",
        _matching(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}", "an organisation's login"),
        doc="The organisation of an org webhook instead; with `GITHUB_HOOK_ID`. "
        "Neither set: the GitHub App's own webhook (with App credentials), else none.",
    )
    github_hook_id: int | None = setting(
        "GITHUB_HOOK_ID",
        _whole(minimum=1),
        doc="The webhook's id (repository or org webhook).",
    )
    github_api_base: str = setting(
        "GITHUB_API_BASE",
        _text,
        default="https://api.github.com",
        doc="GitHub REST base URL (GitHub Enterprise, or a local fake). Unless set: in "
        "dev, the local GitHub stand-in `orchestrator serve` runs; in tests, a closed local port.",
    )

    discord_public_key_param: str | None = _param_field("DISCORD_PUBLIC_KEY")
    discord_application_id_param: str | None = _param_field("DISCORD_APPLICATION_ID")
    discord_bot_token_param: str | None = _param_field("DISCORD_BOT_TOKEN")
    github_token_param: str | None = _param_field("GITHUB_TOKEN")
    github_webhook_secret_param: str | None = _param_field("GITHUB_WEBHOOK_SECRET")
    github_app_private_key_param: str | None = _param_field("GITHUB_APP_PRIVATE_KEY")

    @property
    def sqlite_file(self) -> Path:
        return self.sqlite_path or self.data_dir / "orchestrator.sqlite3"

    @property
    def has_github_app(self) -> bool:
        return bool(
            self.github_app_id and self.github_app_private_key and self.github_app_installation_id
        )

    @property
    def has_github_credentials(self) -> bool:
        token = self.github_token.get_secret_value() if self.github_token else ""
        return bool(token) or self.has_github_app

    @property
    def is_prod(self) -> bool:
        return self.env is Env.PROD

    def missing_for_prod(self) -> list[str]:
        """Variables production cannot run without, in the order the README lists them."""
        missing = []
        if not self.discord_public_key:
            missing.append("DISCORD_PUBLIC_KEY")
        if not self.discord_application_id:
            missing.append("DISCORD_APPLICATION_ID")
        if self.discord_bot_token is None or not self.discord_bot_token.get_secret_value():
            missing.append("DISCORD_BOT_TOKEN")
        if not self.has_github_credentials:
            missing.append(
                "GITHUB_TOKEN (or GITHUB_APP_ID + GITHUB_APP_PRIVATE_KEY + "
                "GITHUB_APP_INSTALLATION_ID)"
            )
        if not self.github_webhook_secret:
            missing.append("GITHUB_WEBHOOK_SECRET")
        if not self.discord_guild_ids:
            # Open to every guild the bot is added to, /triage would show private CI logs
            # and /release unreleased commits to strangers: production names its guilds.
            missing.append("DISCORD_GUILD_IDS (the guild ids allowed to use the bot, or *)")
        return missing

    @property
    def any_guild(self) -> bool:
        """No guild allow-list: empty (outside prod) or an explicit `*`."""
        return not self.discord_guild_ids or ANY_GUILD in self.discord_guild_ids

    def secret_values(self) -> list[str]:
        """Every secret this process holds, so logs can scrub them (never for display)."""
        values = [s.get_secret_value() for s in self.github_webhook_secret]
        for secret in (self.discord_bot_token, self.github_token, self.github_app_private_key):
            if secret is not None:
                values.append(secret.get_secret_value())
        return [v for v in values if v]

    def invalid_values(self) -> list[str]:
        """Values that are set but cannot work (named, never echoed)."""
        problems = []
        if self.discord_public_key and not _is_hex_key(self.discord_public_key):
            problems.append(
                "DISCORD_PUBLIC_KEY must be 64 hex characters (the portal's 'Public Key')"
            )
        if ANY_GUILD in self.discord_guild_ids and len(self.discord_guild_ids) > 1:
            problems.append("DISCORD_GUILD_IDS is either * alone or a list of guild ids")
        bad = [g for g in self.discord_guild_ids if g != ANY_GUILD and not _is_snowflake(g)]
        if bad:
            problems.append("DISCORD_GUILD_IDS must hold guild ids (digits), or * alone")
        return problems


# Every setting, in declaration order (the README table's, `orchestrator config`'s).
FIELDS: dict[str, Field] = {
    name: value for name, value in vars(Settings).items() if isinstance(value, Field)
}


def _is_snowflake(value: str) -> bool:
    return 0 < len(value) <= 20 and value.isascii() and value.isdigit()


def _is_hex_key(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


def finalize(settings: Settings) -> Settings:
    """Make settings usable: refuse an incomplete production config, fill dev gaps.

    In prod every missing secret is reported at once (one failed deploy, not five).
    In dev and test the gaps are filled from the persistent dev identity, so the
    signatures `orchestrator simulate` and `orchestrator replay` make are accepted.
    """
    invalid = settings.invalid_values()
    if settings.is_prod:
        missing = settings.missing_for_prod()
        if missing or invalid:
            raise ConfigError(
                [f"{name} is not set (required when ORCHESTRATOR_ENV=prod)" for name in missing]
                + invalid
            )
        if ANY_GUILD in settings.discord_guild_ids:
            logging.getLogger(__name__).warning(
                "DISCORD_GUILD_IDS=*: any guild the bot is added to may use it"
            )
        return settings
    if invalid:
        raise ConfigError(invalid)
    from orchestrator.devkeys import load_or_create_dev_identity

    updates: dict[str, Any] = {}
    if not settings.discord_public_key or not settings.github_webhook_secret:
        identity = load_or_create_dev_identity(settings.data_dir)
        if not settings.discord_public_key:
            updates["discord_public_key"] = identity.discord_public_key
        if not settings.github_webhook_secret:
            updates["github_webhook_secret"] = [Secret(identity.github_webhook_secret)]
    if not settings.discord_application_id:
        updates["discord_application_id"] = DEV_APPLICATION_ID
    if "discord_api_base" not in settings.explicit:
        updates["discord_api_base"] = DEV_DISCORD_API_BASE
    if settings.env is Env.TEST and "github_api_base" not in settings.explicit:
        updates["github_api_base"] = TEST_GITHUB_API_BASE
    if settings.env is Env.DEV and not (
        settings.discord_admin_role_ids or settings.discord_admin_user_ids
    ):
        # Locally, with nobody configured, the simulator's user may do everything,
        # so a newcomer can try /deploy. Production is deny-by-default.
        updates["discord_admin_user_ids"] = [DEV_USER_ID]
        if not (settings.discord_deploy_role_ids or settings.discord_deploy_user_ids):
            # ... and a teammate may deploy, to approve what the first one asks for
            # (`orchestrator simulate --user 100000000000000042`).
            updates["discord_deploy_user_ids"] = [DEV_TEAMMATE_ID]
    return settings.replace(**updates) if updates else settings


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (plus explicit overrides), finalized."""
    return finalize(Settings(**overrides))


# Read outside `Settings` (before it exists, or by one CLI command); in the same table, so
# the README names every variable the code reads (a test scans the sources for them).
ENVIRONMENT_ONLY: tuple[tuple[str, str, str], ...] = (
    (
        "ORCHESTRATOR_ENV_FILE",
        "`.env` in the checkout",
        "The dotenv file settings are read from; empty for none (the tests run without one).",
    ),
    (
        "AWS_LAMBDA_FUNCTION_NAME",
        "set by Lambda",
        "Marks a Lambda container (prod, DynamoDB, Lambda jobs; `*_PARAM` secrets read at "
        "import); jobs invoke this function unless `ORCHESTRATOR_JOBS_FUNCTION` names another.",
    ),
    (
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "set by Lambda",
        "`snap-start` in a container initialised for a SnapStart snapshot: the restore "
        "hooks are registered (`orchestrator.aws.snapstart`).",
    ),
    (
        "DISCORD_CHECK_PRIVATE_KEY",
        "unset",
        "`discord-check`, `verify-deploy`: a private key (hex) whose public half the deployment "
        "trusts, to also check a signed PING.",
    ),
    (
        "ORCHESTRATOR_GITHUB_STANDIN_STEP",
        "`1.0`",
        "`serve` in dev: seconds between the steps of a run on the local GitHub stand-in "
        "(queued, each job, completed).",
    ),
    ("GITHUB_SHA", "unset", "`build`: the commit to bake in (CI sets it); else git HEAD."),
    ("SOURCE_DATE_EPOCH", "unset", "`build`: pins the build time, to reproduce an artifact."),
    ("PYENV_ROOT", "`~/.pyenv`", "`build`: where to look for the Lambda runtime's Python."),
    (
        "SSL_CERT_FILE",
        "unset (certifi's bundle)",
        "CA certificates (PEM) every outbound client trusts instead of certifi's, as httpx "
        "reads it (`orchestrator.tls`).",
    ),
    (
        "SSL_CERT_DIR",
        "unset",
        "A folder of CA certificates to trust instead of certifi's, when `SSL_CERT_FILE` is "
        "not set.",
    ),
)


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting and every other variable the code
    reads: the README's configuration table."""
    rows = []
    for name, field in FIELDS.items():
        if field.default_factory is not None:
            default = {
                "env": "`dev` (`prod` on Lambda)",
                "data_dir": "`.orchestrator` in the checkout (else in the current folder)",
                "store": "`sqlite` (`dynamodb` on Lambda)",
                "jobs": "`inprocess` (`lambda` on Lambda)",
                "github_webhook_secret": "unset",
                "discord_guild_ids": "empty",
                "discord_admin_role_ids": "empty",
                "discord_admin_user_ids": "empty (dev: the simulator's user)",
                "discord_deploy_role_ids": "empty",
                "discord_deploy_user_ids": "empty",
                "discord_command_access": "`{}`",
            }.get(name, "computed")
        elif field.default is None:
            default = "unset"
        else:
            default = f"`{field.default}`"
        rows.append((field.variable, default, field.doc))
    return rows + list(ENVIRONMENT_ONLY)
