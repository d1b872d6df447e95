"""Try a slash command, button or modal locally: no Discord account needed.

Builds the interaction Discord would send, signs it with the dev key, posts it
to the service and prints the answer. For deferred answers it stands up a
local stand-in for Discord's webhook API on 127.0.0.1 (the port the dev
server sends follow-ups to) and prints the follow-ups as they arrive.

    orchestrator simulate /ping
    orchestrator simulate "/status app:web count:3"
    orchestrator simulate "/deploy app:?we" --autocomplete
    orchestrator simulate --component deploy.cancel:123456
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from orchestrator.config import DEV_DISCORD_CAPTURE_PORT, DEV_USER_ID, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("command", nargs="?", help='the command line, e.g. "/status app:web"')
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the service's base URL")
    parser.add_argument("--user", default=DEV_USER_ID, help="invoking user id")
    parser.add_argument("--username", default="dev", help="invoking user name")
    parser.add_argument("--roles", default="", help="comma-separated role ids of the invoker")
    parser.add_argument("--guild", default="100000000000000010", help="guild id")
    parser.add_argument("--dm", action="store_true", help="invoke from a DM (no guild)")
    parser.add_argument("--channel", default="100000000000000020", help="channel id")
    parser.add_argument(
        "--autocomplete",
        action="store_true",
        help="send an autocomplete request for the option marked name:?partial",
    )
    parser.add_argument("--component", metavar="CUSTOM_ID", help="click a button instead")
    parser.add_argument("--modal", metavar="CUSTOM_ID", help="submit a modal instead")
    parser.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a modal field (repeatable)",
    )
    parser.add_argument(
        "--capture-port",
        type=int,
        default=DEV_DISCORD_CAPTURE_PORT,
        help="port of the local Discord stand-in that receives follow-ups",
    )
    parser.add_argument(
        "--wait", type=float, default=30.0, help="seconds to wait for a deferred follow-up"
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=1.5,
        help="keep listening this many seconds after the last follow-up "
        "(e.g. while replaying a deploy's webhooks)",
    )
    parser.add_argument("--json", action="store_true", help="print raw JSON")


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
        return simulate.component_interaction(args.component, application_id, invoker)
    if args.modal:
        fields = dict(field.split("=", 1) for field in args.field if "=" in field)
        return simulate.modal_interaction(args.modal, fields, application_id, invoker)
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
    from orchestrator.devtools.discord_standin import DiscordStandIn
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

    standin = None
    try:
        standin = DiscordStandIn(port=args.capture_port).start()
    except OSError:
        print(
            f"(port {args.capture_port} is busy: follow-ups will not be shown here)",
            file=sys.stderr,
        )

    body = json.dumps(payload, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-signature-ed25519": sign_request(identity.discord_private_key, stamp, body),
        "x-signature-timestamp": stamp,
    }
    try:
        try:
            response = httpx.post(
                args.url.rstrip("/") + "/discord", content=body, headers=headers, timeout=10
            )
        except httpx.HTTPError as exc:
            print(
                f"orchestrator: could not reach {args.url}: {exc}. Is `make run` running?",
                file=sys.stderr,
            )
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
        if answer.get("type") in (5, 6) and standin is not None:
            return _follow(standin, payload["token"], args)
        return 0
    finally:
        if standin is not None:
            standin.stop()


def _follow(standin: Any, token: str, args: argparse.Namespace) -> int:
    """Print follow-ups for this interaction until they stop coming."""

    def ours(requests: list[Any]) -> list[Any]:
        return [r for r in requests if token in r.path]

    try:
        standin.wait_for(lambda requests: bool(ours(requests)), timeout=args.wait)
    except TimeoutError:
        print(
            f"no follow-up within {args.wait:.0f}s. Is the service's DISCORD_API_BASE "
            f"pointing at http://127.0.0.1:{args.capture_port}/api/v10?",
            file=sys.stderr,
        )
        return 1
    shown = 0
    quiet_until = time.monotonic() + args.linger
    while time.monotonic() < quiet_until:
        captured = ours(standin.requests)
        for request in captured[shown:]:
            if args.json:
                print(
                    json.dumps(
                        {"method": request.method, "route": request.route, "body": request.body},
                        indent=2,
                    )
                )
            else:
                print(f"→ follow-up ({request.route})")
                print(render_message(request.body if isinstance(request.body, dict) else {}))
            quiet_until = time.monotonic() + args.linger
        shown = len(captured)
        time.sleep(0.1)
    return 0
