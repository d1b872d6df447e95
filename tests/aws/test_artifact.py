"""The artifact gate: build what SAM would build, then import and call it as Lambda would.

Why: `Runtime.ImportModuleError: Unable to import module 'app': No module named 'app'`
only ever shows up after a deploy, because it is a property of three things together
(the template's `Handler` and `CodeUri`, and the layout the build produces). This gate
reads all three from `template.yaml`, models `sam build` faithfully (for
`BuildMethod: makefile`, SAM runs `make build-<LogicalId>` with `ARTIFACTS_DIR` set and
the *contents* of that folder become /var/task), and then runs the handler in a fresh
`python3.12 -I -S -B` that sees only the artifact and the standard library, through the
runtime stand-in `tests/support/lambda_runtime.py`. It also proves that it catches the
historical mistakes, by feeding it deliberately broken copies of the template.
"""

from __future__ import annotations

import fnmatch
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from nacl.signing import SigningKey

from orchestrator.aws.events import http_api_event, response_body
from orchestrator.devkeys import DevIdentity
from orchestrator.devtools.build import (
    BUILD_INFO_FILE,
    ELF_MACHINES,
    PLATFORM_TAGS,
    BuildError,
    BuildOptions,
    Interpreter,
    build,
    elf_machine,
    find_interpreter,
    host_arch,
    resolve_sha,
    write_zip,
)
from orchestrator.routers.docs import asset_folder
from tests.support.signing import PING_INTERACTION, discord_headers, dumps, github_headers

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
RUNTIME = ROOT / "tests" / "support" / "lambda_runtime.py"
FUNCTION = "OrchestratorFunction"
TARGET_PYTHON = "3.12"
GATE_SHA = "0123456789abcdef0123456789abcdef01234567"
MAX_ZIPPED = 10 * 1024 * 1024

# What SAM's Python (pip) builder leaves out when it copies a CodeUri folder.
SAM_PYTHON_EXCLUDES = (
    ".aws-sam",
    ".git",
    ".gitignore",
    "*.pyc",
    "__pycache__",
    "*.so",
    "*.egg-info",
    ".pytest_cache",
    ".mypy_cache",
    ".env",
    ".venv",
    "venv",
)


# --- the template, as SAM reads it ----------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    runtime: str
    build_method: str


def function_spec(template_text: str, base_dir: Path, logical_id: str = FUNCTION) -> FunctionSpec:
    """A function's build inputs, resolved as `sam build` resolves them (Globals included).

    `base_dir` is the folder the template is evaluated in: broken copies are judged as if
    they had been saved in place of template.yaml.
    """
    template: dict[str, Any] = cfn_yaml.loads(template_text, "template.yaml")
    defaults = template.get("Globals", {}).get("Function", {})
    resource = template["Resources"][logical_id]
    assert resource["Type"] == "AWS::Serverless::Function"
    properties = {**defaults, **resource["Properties"]}
    runtime = str(properties["Runtime"])
    method = resource.get("Metadata", {}).get("BuildMethod", runtime)
    return FunctionSpec(
        logical_id=logical_id,
        code_dir=(base_dir / str(properties["CodeUri"])).resolve(),
        handler=str(properties["Handler"]),
        runtime=runtime,
        build_method=str(method),
    )


class SamBuildError(RuntimeError):
    """`sam build` itself would fail (before anything could be deployed)."""


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    # An outer `make test` exports its jobserver; a nested make must not inherit it.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    env.update(extra)
    return env


def sam_build(spec: FunctionSpec, artifacts_dir: Path, target: Interpreter) -> None:
    """What `sam build` does for one function, as far as the layout of /var/task goes."""
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    if spec.build_method == "makefile":
        # aws-lambda-builders' CustomMakeBuilder: `make --makefile <CodeUri>/Makefile
        # build-<LogicalId>` with ARTIFACTS_DIR exported (in the CodeUri folder itself with
        # build_in_source, as samconfig.toml sets; else in a copy of it).
        makefile = spec.code_dir / "Makefile"
        if not makefile.is_file():
            raise SamBuildError(f"Makefile not found at {makefile}")
        env = _clean_env(
            {
                "ARTIFACTS_DIR": str(artifacts_dir),
                "BUILD_SHA": GATE_SHA,  # becomes --sha
                "LAMBDA_ARCH": host_arch(),
                "LAMBDA_PYTHON": target.minor,
                "BUILD_PYTHON": sys.executable,
            }
        )
        run = subprocess.run(
            [
                "make",
                "--no-print-directory",
                "--makefile",
                str(makefile),
                f"build-{spec.logical_id}",
            ],
            cwd=spec.code_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if run.returncode != 0:
            raise SamBuildError(f"make failed:\n{run.stdout}{run.stderr}")
        print(run.stdout)
        return
    if spec.build_method.startswith("python"):
        # aws-lambda-builders' PythonPipBuilder: pip-install <CodeUri>/requirements.txt (this
        # model only covers folders without one), then copy the folder's *contents*.
        if (spec.code_dir / "requirements.txt").exists():
            raise NotImplementedError("the model does not install a CodeUri requirements.txt")

        def ignore(_directory: str, names: list[str]) -> set[str]:
            return {n for n in names if any(fnmatch.fnmatch(n, p) for p in SAM_PYTHON_EXCLUDES)}

        shutil.copytree(spec.code_dir, artifacts_dir, ignore=ignore, dirs_exist_ok=True)
        return
    raise SamBuildError(f"unsupported BuildMethod {spec.build_method!r}")


# --- the runtime --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def target_python() -> Interpreter:
    found = find_interpreter(TARGET_PYTHON)
    if found is not None:
        return found
    running = Interpreter((sys.executable,), platform.python_version())
    warnings.warn(
        f"no Python {TARGET_PYTHON} on this machine: the artifact gate builds and runs the "
        f"artifact for the RUNNING interpreter (Python {running.version}) instead; it still "
        "checks the layout, but not the Lambda runtime's Python version",
        stacklevel=1,
    )
    return running


@dataclass(frozen=True)
class Gate:
    identity: DevIdentity
    data_dir: Path

    def env(self, task_root: Path, target: Interpreter) -> dict[str, str]:
        """Roughly what Lambda sets, plus the secrets prod demands (no AWS here: SQLite)."""
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": str(task_root),
            "ORCHESTRATOR_ENV": "prod",
            "ORCHESTRATOR_ENV_FILE": "",
            "ORCHESTRATOR_DATA_DIR": str(self.data_dir),
            "ORCHESTRATOR_STORE": "sqlite",
            "ORCHESTRATOR_JOBS": "inprocess",
            "DISCORD_PUBLIC_KEY": self.identity.discord_public_key,
            "DISCORD_APPLICATION_ID": "100000000000000001",
            "DISCORD_GUILD_IDS": "100000000000000003",
            "DISCORD_BOT_TOKEN": "gate-bot-token",
            "GITHUB_TOKEN": "gate-github-token",
            "GITHUB_WEBHOOK_SECRET": self.identity.github_webhook_secret,
            **target.env,
        }


@pytest.fixture(scope="session")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Gate:
    key = SigningKey.generate()
    identity = DevIdentity(
        discord_private_key=key.encode().hex(),
        discord_public_key=key.verify_key.encode().hex(),
        github_webhook_secret="gate-webhook-secret",
    )
    return Gate(identity, tmp_path_factory.mktemp("gate-data"))


def invoke(
    task_root: Path,
    handler: str,
    events: list[dict[str, Any]],
    target: Interpreter,
    gate: Gate,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Cold-start the runtime stand-in on `task_root` and feed it `events`."""
    return subprocess.run(
        [*target.argv, "-I", "-S", "-B", str(RUNTIME), str(task_root), handler],
        input=json.dumps(events),
        cwd=task_root,  # the runtime's working directory is the task root
        env={**gate.env(task_root, target), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- the artifact, built once per session per (CodeUri, BuildMethod) ----------------------------


class Builds:
    def __init__(self, root: Path, target: Interpreter) -> None:
        self.root = root
        self.target = target
        self._done: dict[tuple[Path, str], Path] = {}

    def artifact(self, spec: FunctionSpec) -> Path:
        """The folder that becomes /var/task; the same inputs are built only once."""
        key = (spec.code_dir, spec.build_method)
        if key not in self._done:
            out = self.root / f"build-{len(self._done)}" / spec.logical_id
            sam_build(spec, out, self.target)
            self._done[key] = out
        return self._done[key]


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory, target_python: Interpreter) -> Builds:
    return Builds(tmp_path_factory.mktemp("sam-build"), target_python)


@pytest.fixture(scope="session")
def spec() -> FunctionSpec:
    return function_spec(TEMPLATE.read_text(encoding="utf-8"), ROOT)


@pytest.fixture(scope="session")
def artifact(builds: Builds, spec: FunctionSpec) -> Path:
    return builds.artifact(spec)


def elf_sections(path: Path) -> set[str]:
    """Section names of a 64-bit little-endian ELF file (from its section header table)."""
    data = path.read_bytes()
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [data[shoff + i * shentsize : shoff + (i + 1) * shentsize] for i in range(shnum)]
    (strtab_offset,) = struct.unpack_from("<Q", headers[shstrndx], 0x18)
    names = set()
    for header in headers:
        (name_offset,) = struct.unpack_from("<I", header, 0)
        start = strtab_offset + name_offset
        names.add(data[start : data.index(b"\0", start)].decode())
    return names


def broken(old: str, new: str) -> str:
    text = TEMPLATE.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"template.yaml no longer contains {old!r} exactly once"
    return text.replace(old, new)


# --- the real template works --------------------------------------------------------------------


def test_the_template_describes_what_the_gate_expects(spec: FunctionSpec) -> None:
    assert spec.handler == "orchestrator.main.handler"
    assert spec.code_dir == ROOT
    assert spec.build_method == "makefile"
    assert spec.runtime == f"python{TARGET_PYTHON}"


def test_the_built_handler_answers_like_lambda(
    artifact: Path, spec: FunctionSpec, target_python: Interpreter, gate: Gate
) -> None:
    ping = dumps(PING_INTERACTION)
    stranger = DevIdentity(SigningKey.generate().encode().hex(), "", "")
    gh_ping = dumps({"zen": "Keep it logically awesome.", "hook_id": 42})
    secret = gate.identity.github_webhook_secret
    events = [
        http_api_event("GET", "/version"),
        http_api_event("GET", "/healthz"),
        http_api_event("POST", "/discord", headers=discord_headers(gate.identity, ping), body=ping),
        http_api_event("POST", "/discord", headers=discord_headers(stranger, ping), body=ping),
        http_api_event(
            "POST", "/github", headers=github_headers(secret, gh_ping, "ping", "d-1"), body=gh_ping
        ),
        http_api_event(
            "POST", "/github", headers=github_headers("wrong", gh_ping, "ping", "d-2"), body=gh_ping
        ),
    ]
    started = time.monotonic()
    run = invoke(artifact, spec.handler, events, target_python, gate)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    answers = [(r["statusCode"], json.loads(response_body(r))) for r in json.loads(run.stdout)]

    status, version = answers[0]
    assert status == 200
    assert version["sha"] == GATE_SHA, "the artifact must report the commit it was built from"
    assert version["source"] == "build"
    assert version["python"] == target_python.version
    assert answers[1] == (200, {"status": "ok", "store": "ok"})
    assert answers[2] == (200, {"type": 1}), "a signed PING must get PONG"
    assert answers[3][0] == 401, "a PING signed by another key must be refused"
    assert answers[4][0] == 200, answers[4]
    assert answers[5][0] == 401
    print(f"cold start + {len(events)} events on python {target_python.version}: {elapsed:.2f} s")


def test_the_built_handler_serves_the_docs_page_from_its_own_files(
    artifact: Path, spec: FunctionSpec, target_python: Interpreter, gate: Gate
) -> None:
    """`/docs` needs Swagger UI's files in the artifact (no CDN): the runtime dependency
    ships them, and the handler serves them byte for byte as the locked package has them."""
    names = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
    events = [http_api_event("GET", "/docs")]
    events += [http_api_event("GET", f"/docs/assets/{name}") for name in names]
    run = invoke(artifact, spec.handler, events, target_python, gate)
    assert run.returncode == 0, run.stderr
    page, *assets = json.loads(run.stdout)
    assert page["statusCode"] == 200
    assert 'src="docs/assets/swagger-ui-bundle.js"' in response_body(page).decode()
    folder = asset_folder()
    for name, answer in zip(names, assets, strict=True):
        assert answer["statusCode"] == 200, (name, answer["statusCode"])
        assert response_body(answer) == (folder / name).read_bytes(), name


def test_the_built_handler_answers_after_a_snapstart_restore(
    artifact: Path, spec: FunctionSpec, target_python: Interpreter, gate: Gate
) -> None:
    """SnapStart on: the app registers its hooks with the `snapshot_restore_py` the artifact
    ships, the stand-in snapshots and restores (runs them), and the clone still answers."""
    ping = dumps(PING_INTERACTION)
    events = [
        http_api_event("GET", "/healthz"),
        http_api_event("POST", "/discord", headers=discord_headers(gate.identity, ping), body=ping),
    ]
    snap = {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}
    run = invoke(artifact, spec.handler, events, target_python, gate, extra_env=snap)
    assert run.returncode == 0, run.stderr
    assert "snapstart hooks: 1 before, 1 after" in run.stderr
    answers = [(r["statusCode"], json.loads(response_body(r))) for r in json.loads(run.stdout)]
    assert answers == [(200, {"status": "ok", "store": "ok"}), (200, {"type": 1})]


def test_the_artifact_has_the_lambda_layout(artifact: Path, target_python: Interpreter) -> None:
    package = artifact / "orchestrator"
    assert (package / "main.py").is_file()
    assert f"GIT_SHA = {GATE_SHA!r}" in (package / BUILD_INFO_FILE).read_text()
    assert not (artifact / "tests").exists() and not (artifact / "bin").exists()
    assert not list(artifact.glob("*.dist-info/RECORD"))
    assert (artifact / "snapshot_restore_py.py").is_file(), "SnapStart's hooks library ships"
    # Code objects name the files where Lambda will have them, whichever folder built them.
    where = subprocess.run(
        [
            *target_python.argv,
            "-I",
            "-c",
            "import marshal, sys; "
            "print(marshal.loads(open(sys.argv[1], 'rb').read()[16:]).co_filename)",
            str(next(package.glob("__pycache__/main.*.pyc"))),
        ],
        env={**os.environ, **target_python.env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert where.stdout.strip() == "/var/task/orchestrator/main.py"
    tag = f"cpython-{target_python.minor.replace('.', '')}"
    stray = [p for p in artifact.rglob("*.pyc") if f".{tag}." not in p.name]
    assert not stray, f"bytecode for another interpreter: {stray[:3]}"
    sources = list(package.rglob("*.py"))
    assert len(sources) > 10
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        flags = struct.unpack("<I", pyc.read_bytes()[4:8])[0]
        assert flags == 0b01, f"{pyc} is not an unchecked-hash pyc (flags {flags:#b})"
    libraries = list(artifact.rglob("*.so"))
    assert len(libraries) >= 3
    for library in libraries:
        machine = elf_machine(library)
        assert machine == ELF_MACHINES[host_arch()], f"{library} is for ELF machine {machine}"
        assert ".debug_info" not in elf_sections(library), f"{library} ships debug info"


def test_the_artifact_ships_no_development_tool(artifact: Path) -> None:
    """The stand-ins, simulate, saved-delivery replay, the builder and the CLI serve people,
    never a request: none of their modules is in the artifact, and the artifact still holds
    every module the service layers need (the handler test above imports and runs it)."""
    package = artifact / "orchestrator"
    shipped = {p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    dev = sorted(
        name for name in shipped if name.split("/")[0] in ("cli", "devtools", "__main__.py")
    )
    assert dev == [], f"development tools in the artifact: {dev[:5]}"
    for tool in ("discord_standin", "simulate", "saved_deliveries", "build"):
        assert not list(package.rglob(f"{tool}.py")), f"{tool}.py shipped"
    source = Path(__file__).resolve().parents[2] / "orchestrator"
    service = {
        p.relative_to(source).as_posix()
        for p in source.rglob("*.py")
        if p.relative_to(source).parts[0] not in ("cli", "devtools", "__main__.py")
    }
    assert service <= shipped, f"service modules missing: {sorted(service - shipped)[:5]}"


def test_the_zipped_artifact_is_small_and_ships_no_boto3(
    artifact: Path, tmp_path: Path, spec: FunctionSpec
) -> None:
    first = tmp_path / "a.zip"
    size = write_zip(artifact, first)
    assert size < MAX_ZIPPED, f"zipped artifact is {size / 1e6:.1f} MB"
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
    module_file = spec.handler.rpartition(".")[0].replace(".", "/") + ".py"
    assert module_file in names, "the handler's module must sit at the zip's root"
    top = {name.split("/")[0].split("-")[0].lower() for name in names}
    assert not top & {"boto3", "botocore", "s3transfer"}, "the runtime provides the AWS SDK"
    second = tmp_path / "b.zip"
    write_zip(artifact, second)
    assert first.read_bytes() == second.read_bytes(), "zips of the same folder must be identical"
    print(f"zipped artifact: {size / 1e6:.1f} MB")


# --- the gate catches the historical failures ---------------------------------------------------


def test_a_handler_outside_the_package_fails_as_on_lambda(
    builds: Builds, target_python: Interpreter, gate: Gate
) -> None:
    spec = function_spec(broken("Handler: orchestrator.main.handler", "Handler: app.handler"), ROOT)
    run = invoke(builds.artifact(spec), spec.handler, [], target_python, gate)
    assert run.returncode != 0
    assert (
        "Runtime.ImportModuleError: Unable to import module 'app': No module named 'app'"
        in run.stderr
    )


def test_a_codeuri_inside_the_package_fails_as_on_lambda(
    builds: Builds, target_python: Interpreter, gate: Gate
) -> None:
    """SAM's default Python builder ships the folder's contents: main.py lands at the root."""
    text = broken("    Metadata:\n      BuildMethod: makefile\n", "")
    assert text.count("      CodeUri: .\n") == 1
    text = text.replace("      CodeUri: .\n", "      CodeUri: orchestrator/\n")
    spec = function_spec(text, ROOT)
    assert spec.build_method == "python3.12" and spec.code_dir == ROOT / "orchestrator"
    task_root = builds.artifact(spec)
    assert (task_root / "main.py").is_file() and not (task_root / "orchestrator").exists()
    run = invoke(task_root, spec.handler, [], target_python, gate)
    assert run.returncode != 0
    assert (
        "Runtime.ImportModuleError: Unable to import module 'orchestrator.main': "
        "No module named 'orchestrator'" in run.stderr
    )


def test_a_codeuri_without_the_makefile_fails_the_build(builds: Builds) -> None:
    spec = function_spec(broken("      CodeUri: .\n", "      CodeUri: orchestrator/\n"), ROOT)
    with pytest.raises(SamBuildError, match="Makefile not found"):
        builds.artifact(spec)


# --- the builder's own guarantees ---------------------------------------------------------------


def test_an_artifact_for_arm64_carries_arm64_libraries(tmp_path: Path) -> None:
    result = build(
        BuildOptions(
            out=tmp_path / "arm64",
            source_root=ROOT,
            arch="arm64",
            sha=GATE_SHA,
            compile=False,
            environ={},
        )
    )
    libraries = list(result.out.rglob("*.so"))
    assert libraries
    for library in libraries:
        machine = elf_machine(library)
        assert machine == ELF_MACHINES["arm64"], f"{library.name} is for ELF machine {machine}"
    assert any("cpython-312-aarch64" in lib.name for lib in libraries)
    assert not list(result.out.rglob("*.pyc")), "--no-compile must ship sources only"
    assert result.zipped_bytes < MAX_ZIPPED
    assert PLATFORM_TAGS["arm64"] == "manylinux2014_aarch64"


def test_the_commit_comes_from_the_flag_then_ci_then_git(tmp_path: Path) -> None:
    ci = {"GITHUB_SHA": "feedface" * 5}
    assert resolve_sha("abc1234", ci, ROOT) == "abc1234"
    assert resolve_sha(None, ci, ROOT) == "feedface" * 5
    assert resolve_sha(None, {}, tmp_path) == "unknown"
    with pytest.raises(BuildError, match="not a commit id"):
        resolve_sha("x'; import os", {}, ROOT)


def test_missing_target_python_is_an_error_when_strict(tmp_path: Path) -> None:
    options = BuildOptions(
        out=tmp_path / "out",
        source_root=ROOT,
        python_version="3.99",
        strict=True,
        environ={"PATH": ""},
    )
    with pytest.raises(BuildError, match=r"no Python 3\.99 found"):
        build(options)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["root", "package", "foreign"])
def test_the_build_never_clears_what_it_did_not_build(tmp_path: Path, where: str) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    out = {"root": ROOT, "package": ROOT / "orchestrator" / "x", "foreign": foreign}[where]
    with pytest.raises(BuildError, match="refusing"):
        build(BuildOptions(out=out, source_root=ROOT, sha=GATE_SHA, compile=False, environ={}))
    assert (foreign / "precious.txt").read_text() == "keep me"
    assert (ROOT / "orchestrator" / "main.py").is_file()


def test_the_config_file_ships_when_the_checkout_has_one(tmp_path: Path) -> None:
    from orchestrator.devtools.build import CONFIG_FILE, copy_config

    assert copy_config(tmp_path, tmp_path / "out") is None
    (tmp_path / "out").mkdir()
    (tmp_path / CONFIG_FILE).write_text('[[apps]]\nname = "web"\n')
    shipped = copy_config(tmp_path, tmp_path / "out")
    assert shipped is not None and shipped.read_text() == '[[apps]]\nname = "web"\n'
