"""The dev server's companions: both stand-ins, the demo app, and the record the CLI reads.

`orchestrator serve` in dev starts `DevTools` for as long as it runs: the Discord
stand-in (on its usual port, or a free one) records what the bot sends, the GitHub
stand-in (on a free port) plays `local/demo` and sends its webhooks to this server's
`/github`. `environment()` says which variables point the app at them (never one the
developer set explicitly), and the record, `<data dir>/dev-server.json`, says where
the server and its stand-ins listen, so `orchestrator simulate` finds them from any
folder of the checkout (`config.checkout_root` puts the data dir there) on any port.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.config import DEV_DISCORD_CAPTURE_PORT, ConfigError, Settings

if TYPE_CHECKING:
    from orchestrator.devtools.discord_standin import DiscordStandIn
    from orchestrator.devtools.github_standin import GitHubStandIn

RECORD_FILE = "dev-server.json"
DEFAULT_URL = "http://127.0.0.1:8000"
STEP_VARIABLE = "ORCHESTRATOR_GITHUB_STANDIN_STEP"
# Credentials for the stand-ins: they check that one is sent, never what it is.
DEV_BOT_TOKEN = "dev-bot-token-for-the-local-discord-stand-in"  # noqa: S105 - a placeholder
DEV_GITHUB_TOKEN = "dev-token-for-the-local-github-stand-in"  # noqa: S105 - a placeholder


@dataclass(frozen=True)
class DevServer:
    """Where a running dev server and its stand-ins listen (base URLs, no trailing slash)."""

    url: str
    pid: int
    discord: str | None = None  # the Discord stand-in; its API is under /api/v10
    github: str | None = None  # the GitHub stand-in: its API base, and the demo's live site
    started_at: float = 0.0


def record_path(data_dir: Path) -> Path:
    return data_dir / RECORD_FILE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def read_record(data_dir: Path) -> DevServer | None:
    """The running dev server of this data dir; None if none is (or its process is gone)."""
    try:
        data = json.loads(record_path(data_dir).read_text(encoding="utf-8"))
        server = DevServer(
            url=str(data["url"]),
            pid=int(data["pid"]),
            discord=data.get("discord"),
            github=data.get("github"),
            started_at=float(data.get("started_at") or 0.0),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return server if _alive(server.pid) else None


def write_record(data_dir: Path, server: DevServer) -> Path:
    """Written whole under a temporary name, then renamed: a reader never sees half."""
    path = record_path(data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = data_dir / f".{RECORD_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(asdict(server), indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def remove_record(data_dir: Path, pid: int) -> None:
    """Remove the record if it is still ours (a second server may have replaced it)."""
    path = record_path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(data, dict) and data.get("pid") == pid:
        with contextlib.suppress(OSError):
            path.unlink()


def server_url(data_dir: Path, given: str | None) -> str:
    """The service to talk to: `--url` when given, else the running dev server, else 8000."""
    if given:
        return given.rstrip("/")
    found = read_record(data_dir)
    return found.url if found is not None else DEFAULT_URL


def alongside(settings: Settings) -> Settings:
    """`settings` as the running dev server of this data dir sees the outside world: its
    GitHub and Discord stand-ins, and the demo app when it serves it. A command run by hand
    in dev (`orchestrator reconcile`) then sweeps what the server tracks; outside dev, or
    with no server running, `settings` as they are."""
    from orchestrator.config import load_settings
    from orchestrator.devtools.demo import DEMO_CONFIG_FILE

    if settings.is_prod or settings.env != "dev":
        return settings
    found = read_record(settings.data_dir)
    if found is None:
        return settings
    explicit = explicit_settings()
    demo = settings.data_dir / DEMO_CONFIG_FILE
    env = environment(
        settings,
        explicit,
        discord=found.discord,
        github=found.github,
        demo_config=demo if wants_demo(settings, explicit) and demo.is_file() else None,
    )
    return load_settings(**env) if env else settings


def local_url(host: str, port: int) -> str:
    """How a client on this machine reaches a server bound to `host`."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def standin_step() -> float:
    raw = os.environ.get("ORCHESTRATOR_GITHUB_STANDIN_STEP")
    if raw is None or not raw.strip():
        from orchestrator.devtools.github_standin import DEFAULT_STEP

        return DEFAULT_STEP
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 60:
        raise ConfigError([f"{STEP_VARIABLE} must be seconds between 0 and 60, got {raw!r}"])
    return value


def explicit_settings() -> frozenset[str]:
    """The settings the developer chose (environment or `.env`), before `finalize` fills
    the dev defaults in (which would make every one of them look chosen)."""
    return Settings().explicit


def environment(
    settings: Settings,
    explicit: frozenset[str],
    *,
    discord: str | None,
    github: str | None,
    demo_config: Path | None,
) -> dict[str, str]:
    """The variables that point the app at the running stand-ins. Pure.

    What the developer set (`explicit`) wins: the stand-ins only fill what is unset,
    each with a placeholder credential so the app has one to send."""
    env: dict[str, str] = {}
    if discord is not None and "discord_api_base" not in explicit:
        env["DISCORD_API_BASE"] = f"{discord}/api/v10"
        if settings.discord_bot_token is None:
            env["DISCORD_BOT_TOKEN"] = DEV_BOT_TOKEN
    if github is not None and "github_api_base" not in explicit:
        env["GITHUB_API_BASE"] = github
        if not settings.has_github_credentials:
            env["GITHUB_TOKEN"] = DEV_GITHUB_TOKEN
        hook = {"github_hook_repo", "github_hook_org", "github_hook_id"}
        if not hook & explicit and not settings.has_github_app:
            # The stand-in's webhook (it logs its deliveries as GitHub does): the reconcile
            # sweep redelivers what failed while the server was down, as in production.
            from orchestrator.devtools.github_standin import HOOK_ID
            from orchestrator.devtools.github_world import REPO

            env["GITHUB_HOOK_REPO"] = REPO
            env["GITHUB_HOOK_ID"] = str(HOOK_ID)
    if demo_config is not None:
        env["ORCHESTRATOR_CONFIG"] = str(demo_config)
    return env


def wants_demo(settings: Settings, explicit: frozenset[str]) -> bool:
    """No config file chosen and none at the default place: the demo app fills the list."""
    return "config_file" not in explicit and not settings.config_file.exists()


class DevTools:
    """Both stand-ins, the demo config and the record, for one dev server's lifetime."""

    def __init__(self, settings: Settings, url: str, explicit: frozenset[str]) -> None:
        self.settings = settings
        self.url = url
        self.explicit = explicit
        self.discord: DiscordStandIn | None = None
        self.github: GitHubStandIn | None = None
        self.demo_config: Path | None = None
        self.env: dict[str, str] = {}
        self._pid = os.getpid()

    def start(self) -> DevTools:
        from orchestrator.devtools.discord_standin import DiscordStandIn
        from orchestrator.devtools.github_standin import GitHubStandIn

        settings = self.settings
        step = standin_step()
        explicit = self.explicit
        try:
            if "discord_api_base" not in explicit:
                try:
                    self.discord = DiscordStandIn(port=DEV_DISCORD_CAPTURE_PORT).start()
                except OSError:  # taken (another server, an old `simulate`): any free port
                    self.discord = DiscordStandIn(port=0).start()
            if "github_api_base" not in explicit:
                secrets = settings.github_webhook_secret
                self.github = GitHubStandIn(
                    webhook_url=f"{self.url}/github",
                    webhook_secret=secrets[0].get_secret_value() if secrets else None,
                    step=step,
                ).start()
                if wants_demo(settings, explicit):
                    from orchestrator.devtools.demo import write_demo_config

                    self.demo_config = write_demo_config(settings.data_dir, self.github.site_url)
            self.env = environment(
                settings,
                explicit,
                discord=self.discord.url if self.discord else None,
                github=self.github.url if self.github else None,
                demo_config=self.demo_config,
            )
            write_record(
                settings.data_dir,
                DevServer(
                    url=self.url,
                    pid=self._pid,
                    discord=self.discord.url if self.discord else None,
                    github=self.github.url if self.github else None,
                    started_at=time.time(),
                ),
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        remove_record(self.settings.data_dir, self._pid)
        if self.demo_config is not None:
            with contextlib.suppress(OSError):
                self.demo_config.unlink()
        for standin in (self.github, self.discord):
            if standin is not None:
                standin.stop()
        self.github = self.discord = None

    def __enter__(self) -> DevTools:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def banner_lines(self) -> list[str]:
        lines = []
        if self.discord is not None:
            lines.append(f"  discord stand-in  {self.discord.url} (records what the bot sends)")
        if self.github is not None:
            lines.append(f"  github stand-in   {self.github.url} (local/demo, webhooks to /github)")
        if self.demo_config is not None:
            lines.append(
                f"  demo app          demo, live at {self.github.site_url if self.github else '?'}"
            )
        return lines
