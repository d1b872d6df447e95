"""Try a slash command, button or modal locally: no Discord account needed.

Builds the interaction Discord would send, signs it with the dev key, posts it
to the service and prints the answer. It finds the dev server by itself (`make run`
records where it listens; `--url` wins) and, for deferred answers, prints the
follow-ups and the channel posts the command caused as the dev server's Discord
stand-in records them. `/deploy` (and an Approve press) waits until its message is final
and exits 0 only if the deploy succeeded and was verified, or waits for approval.

    orchestrator simulate /ping
    orchestrator simulate "/status app:web count:3"
    orchestrator simulate "/deploy app:demo env:staging"
    orchestrator simulate "/deploy app:?de" --autocomplete
    orchestrator simulate --component deploy.cancel:123456

Options are name:value words after the command. Quote a value that has spaces, and
quote the whole command line for your shell:

    orchestrator simulate "/deploy app:web ref:'release 2.1'"
    orchestrator simulate '/relay-send channel:123 message:"hello there"'
    orchestrator simulate "/help command:'config set'"

Values are checked as Discord checks them before sending: required options, types,
min/max, lengths and choices come from the command's registration (see
/help command:<name>). Mark the option being typed with ? for suggestions:

    orchestrator simulate "/deploy app:?we" --autocomplete
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from orchestrator.cli.arguments import http_url, seconds, snowflake, whole
from orchestrator.config import (
    DEV_DISCORD_CAPTURE_PORT,
    DEV_TEAMMATE_ID,
    DEV_USER_ID,
    load_settings,
)

if TYPE_CHECKING:
    from orchestrator.devtools.captured import Capture
    from orchestrator.devtools.dev_server import DevServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("command", nargs="?", help='the command line, e.g. "/status app:web"')
    parser.add_argument(
        "--url",
        type=http_url,
        help="the service's base URL (default: the dev server running for this checkout, "
        "else http://127.0.0.1:8000)",
    )
    parser.add_argument("--user", type=snowflake, default=DEV_USER_ID, help="invoking user id")
    parser.add_argument("--username", default="dev", help="invoking user name")
    parser.add_argument(
        "--roles", type=role_ids, default="", help="comma-separated role ids of the invoker"
    )
    parser.add_argument("--guild", type=snowflake, default="100000000000000010", help="guild id")
    parser.add_argument("--dm", action="store_true", help="invoke from a DM (no guild)")
    parser.add_argument(
        "--channel", type=snowflake, default="100000000000000020", help="channel id"
    )
    parser.add_argument(
        "--autocomplete",
        action="store_true",
        help="send an autocomplete request for the option marked name:?partial",
    )
    parser.add_argument("--component", metavar="CUSTOM_ID", help="click a button instead")
    parser.add_argument("--modal", metavar="CUSTOM_ID", help="submit a modal instead")
    parser.add_argument(
        "--field",
        type=modal_field,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a modal field (repeatable)",
    )
    parser.add_argument(
        "--capture-port",
        type=whole(1, 65535),
        help="run a Discord stand-in on this port to receive follow-ups (default: read them "
        f"from the dev server's stand-in, else listen on {DEV_DISCORD_CAPTURE_PORT})",
    )
    parser.add_argument(
        "--wait", type=seconds(0), default=30.0, help="seconds to wait for a deferred follow-up"
    )
    parser.add_argument(
        "--deploy-wait",
        type=seconds(0),
        default=600.0,
        help="/deploy: seconds to wait for its message to be final (verified or failed)",
    )
    parser.add_argument(
        "--linger",
        type=seconds(0),
        default=1.5,
        help="keep listening this many seconds after the last follow-up "
        "(e.g. while replaying a deploy's webhooks)",
    )
    parser.add_argument("--json", action="store_true", help="print raw JSON")


def role_ids(value: str) -> str:
    """Comma-separated role ids (snowflakes), or nothing."""
    for part in (p.strip() for p in value.split(",")):
        if part:
            snowflake(part)
    return value


def modal_field(value: str) -> str:
    """KEY=VALUE: a modal field as the form would submit it."""
    key, sep, _ = value.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"wants KEY=VALUE, got {value!r}")
    return value


def build_payload(args: argparse.Namespace, application_id: str) -> dict[str, Any]:
    from orchestrator import product

    bot = product.bot()
    from orchestrator.devtools import simulate

    invoker = simulate.Invoker(
        user_id=args.user,
        username=args.username,
        roles=tuple(r for r in args.roles.split(",") if r),
        guild_id=None if args.dm else args.guild,
        channel_id=args.channel,
    )
    if args.component:
        custom_id = simulate.check_custom_id(args.component)
        return simulate.component_interaction(custom_id, application_id, invoker)
    if args.modal:
        fields = dict(field.split("=", 1) for field in args.field if "=" in field)
        custom_id = simulate.check_custom_id(args.modal)
        return simulate.modal_interaction(custom_id, fields, application_id, invoker)
    if not args.command:
        raise simulate.SimulationError("give a command (e.g. /ping), --component or --modal")
    return simulate.command_interaction(
        bot, args.command, application_id, invoker, autocomplete=args.autocomplete
    )


def render_message(data: dict[str, Any]) -> str:
    """A Discord message as terminal text: content, embeds, buttons (with their custom ids)."""
    lines = []
    if data.get("flags", 0) & 64:
        lines.append("(only you can see this)")
    if data.get("content"):
        lines.append(str(data["content"]))
    for item in data.get("embeds") or []:
        title = item.get("title")
        if title:
            lines.append(f"┃ {title}" + (f"  <{item['url']}>" if item.get("url") else ""))
        if item.get("description"):
            lines.extend(f"┃ {line}" for line in str(item["description"]).splitlines())
        for field in item.get("fields") or []:
            lines.append(f"┃ {field.get('name')}: {field.get('value')}")
        if item.get("footer"):
            lines.append(f"┃ — {item['footer'].get('text')}")
    for row in data.get("components") or []:
        buttons = []
        for component in row.get("components") or []:
            target = component.get("custom_id") or component.get("url") or ""
            state = " (disabled)" if component.get("disabled") else ""
            buttons.append(f"[{component.get('label', '?')}{state} → {target}]")
        if buttons:
            lines.append(" ".join(buttons))
    return "\n".join(lines) if lines else "(empty message)"


def render_response(answer: dict[str, Any]) -> str:
    kind = answer.get("type")
    data = answer.get("data") or {}
    if kind == 1:
        return "PONG"
    if kind in (4, 7):
        prefix = "" if kind == 4 else "(updates the message)\n"
        return prefix + render_message(data)
    if kind == 5:
        return "⏳ thinking… (deferred" + (", only you can see it)" if data.get("flags") else ")")
    if kind == 6:
        return "⏳ working on it… (deferred update)"
    if kind == 8:
        choices = data.get("choices") or []
        return (
            "suggestions:\n" + "\n".join(f"  {c['name']} → {c['value']}" for c in choices)
            if choices
            else "no suggestions"
        )
    if kind == 9:
        fields = [c["components"][0] for c in data.get("components", []) if c.get("components")]
        names = ", ".join(f"{f.get('label')} ({f.get('custom_id')})" for f in fields)
        return (
            f"opens a form “{data.get('title')}” [{data.get('custom_id')}]: {names}\n"
            f"submit it with: orchestrator simulate --modal {data.get('custom_id')} "
            + " ".join(f"--field {f.get('custom_id')}=..." for f in fields)
        )
    return json.dumps(answer, indent=2)


def run(args: argparse.Namespace) -> int:
    import httpx

    from orchestrator.devkeys import load_or_create_dev_identity
    from orchestrator.devtools.dev_server import DEFAULT_URL, read_record
    from orchestrator.devtools.simulate import SimulationError
    from orchestrator.discord.verify import sign_request

    settings = load_settings()
    identity = load_or_create_dev_identity(settings.data_dir)
    if settings.discord_public_key != identity.discord_public_key:
        print(
            "orchestrator: DISCORD_PUBLIC_KEY is set to a real key, so the service will "
            "refuse requests signed with the dev key. Unset it to simulate locally.",
            file=sys.stderr,
        )
        return 2
    try:
        payload = build_payload(args, settings.discord_application_id or "")
    except SimulationError as exc:
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 2

    record = read_record(settings.data_dir)
    url = (args.url or (record.url if record is not None else DEFAULT_URL)).rstrip("/")
    capture = _open_capture(args, record if record is not None and record.url == url else None)
    start = capture.count() if capture is not None else 0

    body = json.dumps(payload, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-signature-ed25519": sign_request(identity.discord_private_key, stamp, body),
        "x-signature-timestamp": stamp,
    }
    try:
        try:
            response = httpx.post(url + "/discord", content=body, headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            hint = "Is `make run` running?"
            if args.url is None and record is None:
                hint = (
                    f"No dev server is recorded in {settings.data_dir}: start one with "
                    "`make run`, or pass --url."
                )
            print(f"orchestrator: could not reach {url}: {exc}. {hint}", file=sys.stderr)
            return 1
        try:
            answer = response.json()
        except ValueError:
            answer = {"raw": response.text}
        if args.json:
            print(json.dumps({"status": response.status_code, "answer": answer}, indent=2))
        else:
            print(f"← {response.status_code}")
            print(render_response(answer) if response.is_success else json.dumps(answer))
        if not response.is_success:
            return 1
        if answer.get("type") in (5, 6) and capture is not None:
            follow = Follow(capture, start, payload["token"], args)
            if _is_deploy(payload):
                return follow.until_deployed()
            return follow.until_quiet()
        return 0
    finally:
        if capture is not None:
            capture.close()


def _is_deploy(payload: dict[str, Any]) -> bool:
    """A `/deploy` (not a dry run), or an Approve press, which may dispatch one: followed
    until its message is final."""
    from orchestrator.deploys.approvals import APPROVE

    data = payload.get("data") or {}
    if payload.get("type") == 3:
        return str(data.get("custom_id") or "").startswith(APPROVE + ":")
    dry_run = any(
        o.get("name") == "dry_run" and o.get("value") is True for o in data.get("options") or ()
    )
    return payload.get("type") == 2 and data.get("name") == "deploy" and not dry_run


def _open_capture(args: argparse.Namespace, server: DevServer | None) -> Capture | None:
    """Where the bot's requests will be seen: the dev server's Discord stand-in when it has
    one (and no --capture-port asks otherwise), else a stand-in of our own on the port the
    service sends to."""
    from orchestrator.devtools.captured import LocalCapture, RemoteCapture
    from orchestrator.devtools.discord_standin import DiscordStandIn

    if args.capture_port is None and server is not None and server.discord is not None:
        return RemoteCapture(server.discord)
    port = args.capture_port if args.capture_port is not None else DEV_DISCORD_CAPTURE_PORT
    try:
        return LocalCapture(DiscordStandIn(port=port).start())
    except OSError:
        print(f"(port {port} is busy: follow-ups will not be shown here)", file=sys.stderr)
        return None


class Follow:
    """Print what the command caused, as it arrives: its follow-ups and channel posts."""

    def __init__(self, capture: Capture, start: int, token: str, args: argparse.Namespace):
        self.capture = capture
        self.index = start
        self.token = token
        self.args = args
        self.latest: Any = None  # the newest body of our own message
        self.replies = 0

    def poll(self) -> bool:
        """Print what arrived since the last poll; True if anything of ours did."""
        from orchestrator.devtools.captured import channel_of, is_channel_post, is_followup

        try:
            arrived = self.capture.since(self.index)
        except Exception as exc:  # the server stopped, or its stand-in did
            print(f"(could not read the Discord stand-in: {exc})", file=sys.stderr)
            return False
        self.index += len(arrived)
        shown = False
        for seen in arrived:
            if is_followup(seen, self.token):
                self.replies += 1
                self.latest = seen.body
                label = f"→ follow-up ({seen.route})"
            elif is_channel_post(seen):
                verb = "post" if seen.method == "POST" else "edit"
                label = f"→ channel {verb} in #{channel_of(seen)} ({seen.route})"
            else:
                continue
            shown = True
            if self.args.json:
                print(json.dumps(seen.to_json(), indent=2), flush=True)
            else:
                print(label)
                print(render_message(seen.body if isinstance(seen.body, dict) else {}), flush=True)
        return shown

    def _first_reply(self) -> bool:
        deadline = time.monotonic() + self.args.wait
        while time.monotonic() < deadline:
            self.poll()
            if self.replies:
                return True
            time.sleep(0.1)
        print(
            f"no follow-up within {self.args.wait:.0f}s. Is the service sending to the "
            "Discord stand-in? (it does unless DISCORD_API_BASE is set; --capture-port names "
            "the port of a stand-in simulate runs itself)",
            file=sys.stderr,
        )
        return False

    def until_quiet(self) -> int:
        """Follow until nothing new arrives for --linger seconds."""
        if not self._first_reply():
            return 1
        quiet_until = time.monotonic() + self.args.linger
        while time.monotonic() < quiet_until:
            if self.poll():
                quiet_until = time.monotonic() + self.args.linger
            time.sleep(0.1)
        return 0

    def until_deployed(self) -> int:
        """Follow a /deploy until its message is final: 0 only if the run succeeded and the
        verifier passed it; 1 if it failed, was not verified, or did not end in time."""
        from orchestrator.devtools.captured import deploy_state

        if not self._first_reply():
            return 1
        deadline = time.monotonic() + self.args.deploy_wait
        quiet_until = time.monotonic() + self.args.linger
        while True:
            if self.poll():
                quiet_until = time.monotonic() + self.args.linger
            state = deploy_state(self.latest)
            now = time.monotonic()
            if state != "running" and now >= quiet_until:
                break  # final (or never a deploy message), and the posts it caused are in
            if now >= deadline:
                print(
                    f"the deploy did not finish within {self.args.deploy_wait:.0f}s "
                    "(--deploy-wait)",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.1)
        if state == "verified":
            print("✔ deployed and verified", file=sys.stderr if self.args.json else sys.stdout)
            return 0
        if state == "awaiting_approval":
            print(
                "⏳ waiting for approval: nothing dispatched yet. Another deployer presses "
                "Approve, e.g. the dev teammate: `orchestrator simulate --component "
                f"deploy.approve:<request> --user {DEV_TEAMMATE_ID}`",
                file=sys.stderr if self.args.json else sys.stdout,
            )
            return 0
        reason = "the deploy failed or was not verified" if state else "no deploy was started"
        print(f"✘ {reason}", file=sys.stderr if self.args.json else sys.stdout)
        return 1
