"""Shared plumbing: paths, interpreters, servers on 127.0.0.1, /proc readings, the CLI shape.

Every server is bound to 127.0.0.1, started by us, and stopped by its own pid.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
PEERS_DIR = BENCH_DIR / "peers"
BUILD = ROOT / "build" / "bench"
VENVS = BUILD / "venvs"
LOGS = BUILD / "logs"
RESULTS = BUILD / "results"
HOST = "127.0.0.1"
# The interpreter running the bench is the project's venv: our app runs on it.
PYTHON = sys.executable


def base_python() -> str:
    """The interpreter the project venv was made from; peers' venvs are made from it too."""
    return str(getattr(sys, "_base_executable", None) or sys.executable)


def ensure_dirs() -> None:
    for path in (BUILD, VENVS, LOGS, RESULTS):
        path.mkdir(parents=True, exist_ok=True)


def log_file(name: str) -> TextIO:
    ensure_dirs()
    return (LOGS / f"{name}.log").open("a", encoding="utf-8")


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment: no developer secrets, no .env, nothing that reaches out."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "PYENV_ROOT", "TMPDIR", "SSL_CERT_FILE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env["ORCHESTRATOR_ENV_FILE"] = ""
    env.update(extra)
    return env


# --- ports and servers -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, proc: subprocess.Popen[Any] | None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {HOST}:{port} after {timeout:.0f} s")


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)


def start_server(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    port: int,
    *,
    cwd: Path | None = None,
    timeout: float = 60.0,
) -> Server:
    """Start `argv` (which must listen on HOST:port) and wait until it accepts connections."""
    log = log_file(f"server-{name}")
    proc = subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=str(cwd or ROOT),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    server = Server(name, port, proc)
    try:
        wait_for_port(port, proc, timeout)
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def running(servers: list[Server]) -> Iterator[list[Server]]:
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def asgi_server_argv(
    python: str, target: str, port: int, *, app_dir: Path | None = None
) -> list[str]:
    """uvicorn, one worker, keep-alive (its default), 127.0.0.1, via our tiny launcher."""
    argv = [python, str(PEERS_DIR / "serve_asgi.py"), target, str(port)]
    if app_dir is not None:
        argv.append(str(app_dir))
    return argv


# --- /proc ---------------------------------------------------------------------------------


def proc_status_kb(pid: int, key: str) -> int | None:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM), or None where there is no /proc."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


# --- interpreters --------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetPython:
    """The interpreter used for Lambda-like runs (Python 3.12 when the machine has one)."""

    executable: str
    version: str
    fell_back: bool

    def describe(self) -> str:
        note = " (no Python 3.12 found: the running interpreter)" if self.fell_back else ""
        return f"Python {self.version} ({self.executable}){note}"


def lambda_python(minor: str = "3.12") -> TargetPython:
    """The real executable of a Python `minor` (not a pyenv shim: a shim adds ~50 ms per start)."""
    from orchestrator.devtools.build import find_interpreter

    found = find_interpreter(minor)
    if found is not None:
        probe = subprocess.run(
            [*found.argv, "-c", "import sys; print(sys.executable)"],
            capture_output=True,
            text=True,
            env={**os.environ, **found.env},
            timeout=30,
            check=False,
        )
        executable = probe.stdout.strip()
        if probe.returncode == 0 and executable:
            return TargetPython(executable, found.version, False)
    return TargetPython(sys.executable, platform.python_version(), True)


# --- the machine ----------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/meminfo").read_text(encoding="ascii").splitlines()[0]
        memory = f"{int(first.split()[1]) / 1024 / 1024:.0f} GiB"
    target = lambda_python()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": os_name,
        "python_app": f"{platform.python_version()} ({sys.executable})",
        "python_lambda": target.describe(),
        "machine": platform.machine(),
    }


# --- section CLI ------------------------------------------------------------------------------


def section_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, help="write the section's JSON here (else stdout)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default: section's)")
    parser.add_argument("--quick", action="store_true", help="tiny counts, for smoke runs")
    return parser.parse_args(argv)


def emit(result: Mapping[str, Any], out: Path | None) -> None:
    text = json.dumps(result, indent=2, sort_keys=False)
    if out is None:
        print(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")


def elapsed(started: float) -> float:
    return round(time.monotonic() - started, 2)


def quiet_stderr(name: str) -> tuple[Path, int]:
    """Send this process's stderr (the apps' JSON logs) to build/bench/logs/<name>.log.

    The apps keep logging as configured (that cost is part of what is measured); the
    lines just do not flood the terminal. Returns the log and a copy of the old stderr.
    """
    ensure_dirs()
    path = LOGS / f"{name}.log"
    handle = path.open("a", encoding="utf-8")
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(handle.fileno(), 2)
    handle.close()
    return path, saved


def section_main(
    name: str,
    doc: str | None,
    run: Callable[[int, bool], Mapping[str, Any]],
    default_reps: int,
    argv: Sequence[str] | None = None,
) -> int:
    """The `python -m bench.<section>` entry point every section shares."""
    args = section_args(doc or "", argv)
    log, saved = quiet_stderr(name)
    try:
        result = run(args.reps or default_reps, args.quick)
    except Exception as exc:
        import traceback

        traceback.print_exc()  # into the log
        message = f"bench {name}: {type(exc).__name__}: {exc} (details: {log})\n"
        os.write(saved, message.encode())
        return 1
    emit(result, args.out)
    return 0


def paired_order(names: Sequence[str], pair: tuple[str, str], rep: int) -> list[str]:
    """Repetition `rep`'s order of `names`: the two sides of a goal's ratio (`pair`) back to
    back, which of them first alternating, so each per-run pair is two runs side by side;
    that pair and every other name rotating, so drift on the machine hits them all alike.

    Each side goes first as often, in every place of the order: flipped every repetition,
    and with an even number of units (where each place comes back on repetitions of the
    same parity) flipped once more each full rotation."""
    both = [name for name in names if name in pair]
    units = [both] if both else []
    units += [[name] for name in names if name not in pair]
    if not units:
        return []
    turns = rep if len(units) % 2 else rep + rep // len(units)
    if turns % 2:
        both.reverse()
    units = units[rep % len(units) :] + units[: rep % len(units)]
    return [name for unit in units for name in unit]
