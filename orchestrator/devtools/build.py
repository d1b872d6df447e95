"""The Lambda artifact: the folder that becomes `/var/task`, built the same way everywhere.

Why a builder of our own rather than SAM's Python builder: the handler string
(`orchestrator.main.handler`) only imports if the `orchestrator` package sits at
the root of the artifact, next to its dependencies. Copying a folder's contents
(SAM's default) is exactly how `No module named 'app'`-style failures happen, so
the layout is produced by code, and `tests/aws/test_artifact.py` imports the
result the way the Lambda runtime does before anything is deployed.

What else the build guarantees, and why:

* Dependencies come from the hash-locked `requirements/runtime.txt`, as wheels for
  the *target* platform and Python (never the build machine's), so a laptop or a CI
  runner of either architecture produces an artifact that imports on Lambda.
* `orchestrator/_build_info.py` carries the commit and build time: `/version` can
  prove what runs, and every build changes the upload hash (SAM skips uploads of an
  unchanged folder, which otherwise looks like a deploy that "did nothing").
* Bytecode is compiled by the target interpreter with `unchecked-hash` pycs: the
  runtime never stats sources or rewrites caches on its read-only disk, which
  roughly halves cold-start imports. Code objects name `/var/task/...` so the
  bytes do not depend on where the build ran.
* boto3/botocore are provided by the Lambda runtime; shipping them would add
  ~15 MB to every cold start, so the build refuses an artifact that contains them.
* The checkout's `orchestrator.toml` ships only if production would accept it
  (`config_refusals`): a loopback `http://` URL is fine locally and breaks every app
  command in production, so the build names each bad field and refuses instead.

Only the standard library is used here, so `python -m orchestrator.cli.build`
works from any Python 3.11+ that has pip, with or without the project's venv; checking a
config file needs the project's dependencies (the venv), since the app's own rules judge it.
"""

from __future__ import annotations

import fnmatch
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

Arch = Literal["x86_64", "arm64"]
ARCHES: tuple[Arch, ...] = ("x86_64", "arm64")
PLATFORM_TAGS: dict[Arch, str] = {
    "x86_64": "manylinux2014_x86_64",
    "arm64": "manylinux2014_aarch64",
}
# ELF e_machine of each architecture, and the binutils prefix that can strip it.
ELF_MACHINES: dict[Arch, int] = {"x86_64": 62, "arm64": 183}
_TRIPLETS: dict[Arch, str] = {"x86_64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
PACKAGE = "orchestrator"
BUILD_INFO_FILE = "_build_info.py"
REQUIREMENTS = Path("requirements") / "runtime.txt"
# Where Lambda mounts the artifact; compiled code objects name files under it.
TASK_ROOT = "/var/task"
# Provided by the Lambda Python runtime; never ship them.
FORBIDDEN = ("boto3", "botocore", "s3transfer")
# Lambda's own limits for a zip-deployed function.
LAMBDA_MAX_ZIPPED = 50 * 1024 * 1024
LAMBDA_MAX_UNZIPPED = 250 * 1024 * 1024
# One mtime for every file (zip entries cannot predate 1980): same content, same zip bytes.
ZIP_EPOCH = 315_532_800

# Never part of the package as shipped, wherever they turn up in the source tree.
_SOURCE_EXCLUDES = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    "tests",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    BUILD_INFO_FILE,  # rewritten for every build below
)
# Parts of the package that serve people, never a request (the layers' top two, see
# docs/architecture.md): the `orchestrator` command and the development tools.
DEV_ONLY = ("cli", "devtools", "__main__.py")
# Install-time bookkeeping with no use at run time. RECORD lists the console scripts
# removed with bin/ and would be wrong; METADATA and entry_points.txt stay
# (importlib.metadata reads them).
_DIST_INFO_NOISE = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")

Log = Callable[[str], None]


class BuildError(RuntimeError):
    """The artifact cannot be built (or would not work on Lambda). The message says why."""


@dataclass(frozen=True)
class Interpreter:
    """A Python that can compile bytecode for the target runtime."""

    argv: tuple[str, ...]
    version: str  # e.g. "3.12.1"
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    def describe(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.env.items())
        return f"Python {self.version} ({(extra + ' ') if extra else ''}{' '.join(self.argv)})"


@dataclass(frozen=True)
class BuildOptions:
    out: Path
    source_root: Path
    python_version: str = "3.12"
    arch: Arch = "x86_64"
    sha: str | None = None
    compile: bool = True
    make_zip: bool = False
    # Without a target interpreter: build for the running one (False) or fail (True).
    strict: bool = False
    pip_cache_dir: Path | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True)
class BuildResult:
    out: Path
    sha: str
    built_at: str
    python_version: str
    arch: Arch
    interpreter: Interpreter | None  # what compiled the bytecode; None with --no-compile
    fell_back: bool  # True when built for the running interpreter instead of the target
    distributions: tuple[str, ...]
    unzipped_bytes: int
    zipped_bytes: int
    zip_path: Path | None
    seconds: float
    notes: tuple[str, ...] = ()


# --- the target interpreter ---------------------------------------------------------------


def _probe(argv: Sequence[str], env: Mapping[str, str]) -> str | None:
    """The CPython version `argv` runs, or None if it does not run (e.g. a refusing pyenv shim)."""
    code = "import sys; print(sys.implementation.name, '%d.%d.%d' % sys.version_info[:3])"
    try:
        result = subprocess.run(  # noqa: S603 - probing interpreters we chose is the point
            [*argv, "-c", code],
            capture_output=True,
            text=True,
            timeout=20,
            env={**os.environ, **env},
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    parts = result.stdout.split()
    if result.returncode != 0 or len(parts) != 2 or parts[0] != "cpython":
        return None
    return parts[1]


def _pyenv_candidates(version: str, environ: Mapping[str, str]) -> list[Path]:
    root = Path(environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = []
    for path in (root / "versions").glob(f"{version}.*/bin/python{version}"):
        patch = path.parent.parent.name[len(version) + 1 :]
        if patch.isdigit():  # plain CPython releases only (no 3.12.1t, no -dev builds)
            found.append((int(patch), path))
    return [path for _, path in sorted(found, reverse=True)]


def find_interpreter(version: str, environ: Mapping[str, str] | None = None) -> Interpreter | None:
    """A CPython `version` (e.g. "3.12") on this machine, or None.

    Looked for in order: the running interpreter, `python3.12` on PATH (a pyenv shim
    works when PYENV_VERSION selects a version), then pyenv's installed versions
    directly, which needs no shim configuration at all.
    """
    env = dict(os.environ if environ is None else environ)
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running == version and sys.implementation.name == "cpython":
        return Interpreter((sys.executable,), platform.python_version())
    on_path = shutil.which(f"python{version}", path=env.get("PATH"))
    if on_path:
        found = _probe([on_path], env)
        if found and found.startswith(version + "."):
            pinned = {"PYENV_VERSION": env["PYENV_VERSION"]} if "PYENV_VERSION" in env else {}
            return Interpreter((on_path,), found, pinned)
    for candidate in _pyenv_candidates(version, env):
        found = _probe([str(candidate)], {})
        if found and found.startswith(version + "."):
            return Interpreter((str(candidate),), found)
    return None


def host_arch() -> Arch:
    """The Lambda architecture matching this machine, for builds that run here."""
    machine = platform.machine().lower()
    return "arm64" if machine in {"arm64", "aarch64"} else "x86_64"


# --- pieces of the build ----------------------------------------------------------------------


_SHA_RE = re.compile(r"^[0-9A-Za-z._-]{1,64}$")


def resolve_sha(explicit: str | None, environ: Mapping[str, str], source_root: Path) -> str:
    """The commit being built: --sha, else $GITHUB_SHA (CI), else git HEAD, else "unknown"."""
    from orchestrator.buildinfo import git_head

    for candidate in (explicit, environ.get("GITHUB_SHA")):
        if candidate and candidate.strip():
            sha = candidate.strip()
            if not _SHA_RE.match(sha):
                raise BuildError(f"not a commit id: {sha!r}")
            return sha
    return git_head(source_root) or "unknown"


def build_time(environ: Mapping[str, str]) -> str:
    """ISO 8601 UTC time of this build; SOURCE_DATE_EPOCH pins it to reproduce a build."""
    pinned = environ.get("SOURCE_DATE_EPOCH", "").strip()
    epoch = int(pinned) if pinned.isdigit() else int(time.time())
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _excluded(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in _SOURCE_EXCLUDES)


def copy_package(source_root: Path, out: Path) -> Path:
    """Copy the `orchestrator` package (and nothing else of the checkout) to `out/orchestrator`."""
    source = source_root / PACKAGE
    if not (source / "__init__.py").is_file() or not (source / "main.py").is_file():
        raise BuildError(f"{source} is not the orchestrator package (no __init__.py/main.py)")
    target = out / PACKAGE

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {name for name in names if _excluded(name)}
        if Path(directory) == source:
            skipped |= {name for name in names if name in DEV_ONLY}
        return skipped

    shutil.copytree(source, target, ignore=ignore)
    return target


CONFIG_FILE = "orchestrator.toml"


def config_refusals(source_root: Path) -> list[str]:
    """What production would refuse in the config file this build would ship, each problem
    naming its field (`apps[web].frontend_url: only https URLs are allowed`); empty when the
    file is fine or there is none. Judged by the app's own rules (`product.config_problems`),
    the very check production startup applies."""
    source = source_root / CONFIG_FILE
    if not source.is_file():
        return []
    try:
        from orchestrator.product import config_problems
    except ImportError as exc:  # a bare Python without the project's dependencies
        raise BuildError(
            f"cannot check {CONFIG_FILE} without the project's dependencies ({exc}); "
            "build with the project's venv (make build)"
        ) from None
    return config_problems(source, production=True)


def copy_config(source_root: Path, out: Path) -> Path | None:
    """Ship the team's `orchestrator.toml` (apps, subscriptions) when the checkout has one:
    Lambda's working directory is the task root, where the default `ORCHESTRATOR_CONFIG`
    looks for it."""
    source = source_root / CONFIG_FILE
    if not source.is_file():
        return None
    target = out / CONFIG_FILE
    shutil.copyfile(source, target)
    return target


def write_build_info(package_dir: Path, sha: str, built_at: str) -> Path:
    path = package_dir / BUILD_INFO_FILE
    path.write_text(
        '"""Written by `orchestrator build`; read by `orchestrator.buildinfo`."""\n\n'
        f"GIT_SHA = {sha!r}\n"
        f"BUILT_AT = {built_at!r}\n",
        encoding="utf-8",
    )
    return path


def pip_install_argv(
    requirements: Path,
    out: Path,
    *,
    python_version: str,
    arch: Arch,
    cache_dir: Path | None = None,
) -> list[str]:
    """pip installing the locked wheels for the target (never the build machine's) platform."""
    argv = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--require-hashes",
        "--only-binary=:all:",
        "--no-compile",  # bytecode comes from the target interpreter below
        "--platform",
        PLATFORM_TAGS[arch],
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--target",
        str(out),
        "-r",
        str(requirements),
    ]
    if cache_dir is not None:
        argv[4:4] = ["--cache-dir", str(cache_dir)]
    return argv


def install_dependencies(
    requirements: Path,
    out: Path,
    *,
    python_version: str,
    arch: Arch,
    cache_dir: Path | None = None,
    timeout: float = 600,
) -> None:
    argv = pip_install_argv(
        requirements, out, python_version=python_version, arch=arch, cache_dir=cache_dir
    )
    try:
        result = subprocess.run(  # noqa: S603 - pip from this interpreter, fixed arguments
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"pip did not finish within {timeout:.0f} s") from None
    if result.returncode != 0:
        # pip's warnings are noise on success; on failure they are the explanation.
        raise BuildError(
            f"pip install failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )


def distributions(out: Path) -> tuple[str, ...]:
    """`name==version` of every installed distribution, from the dist-info folder names."""
    names = []
    for info in sorted(out.glob("*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        names.append(f"{name}=={version}")
    return tuple(names)


def strip_noise(out: Path) -> list[Path]:
    """Remove what only an installer needs: console scripts and install records."""
    removed = []
    scripts = out / "bin"
    if scripts.is_dir():  # entry-point scripts with the build machine's shebang
        shutil.rmtree(scripts)
        removed.append(scripts)
    for info in out.glob("*.dist-info"):
        for name in _DIST_INFO_NOISE:
            path = info / name
            if path.is_file():
                path.unlink()
                removed.append(path)
    for cache in [p for p in out.rglob("__pycache__") if p.is_dir()]:
        shutil.rmtree(cache)  # anything compiled by the wrong interpreter
        removed.append(cache)
    return removed


def forbidden_contents(out: Path) -> list[str]:
    """Top-level names in `out` that belong to the runtime's own AWS SDK (must be none)."""
    found = []
    for entry in out.iterdir():
        name = entry.name.lower()
        if name.endswith((".dist-info", ".egg-info")):
            name = name.split("-")[0]
        name = name.removesuffix(".py").replace("-", "_")
        if name in FORBIDDEN:
            found.append(entry.name)
    return sorted(found)


def elf_machine(path: Path) -> int | None:
    """The ELF e_machine of a shared library, or None if it is not a little-endian ELF."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF" or header[5] != 1:
        return None
    machine: int = struct.unpack("<H", header[18:20])[0]
    return machine


def _strippers(arch: Arch) -> list[str]:
    names = [f"{_TRIPLETS[arch]}-strip", "llvm-strip"]
    if arch == host_arch():
        names.append("strip")
    return [found for name in names if (found := shutil.which(name))]


def strip_debug_info(out: Path, arch: Arch) -> tuple[int, int]:
    """Drop debug sections from shipped libraries: (libraries stripped, bytes saved).

    Some wheels ship `.so` files with full debug info (PyNaCl's libsodium: 5 MB, of which
    0.6 MB is code). `--strip-debug` keeps every symbol the dynamic linker needs, so it
    cannot change behaviour; it only shrinks the download a cold start waits for. Without
    a strip tool for the target architecture the libraries ship as they are.
    """
    tools = _strippers(arch)
    stripped = saved = 0
    for library in sorted(out.rglob("*.so*")):
        if not library.is_file() or elf_machine(library) != ELF_MACHINES[arch]:
            continue
        before = library.stat().st_size
        for tool in tools:
            scratch = library.with_name(library.name + ".strip")
            try:
                result = subprocess.run(  # noqa: S603 - binutils on our own build output
                    [tool, "--strip-debug", "-o", str(scratch), str(library)],
                    capture_output=True,
                    timeout=120,
                    check=False,
                )
            except (OSError, subprocess.SubprocessError):
                result = None
            if result is not None and result.returncode == 0 and elf_machine(scratch):
                scratch.chmod(library.stat().st_mode)
                scratch.replace(library)
                break
            scratch.unlink(missing_ok=True)
        after = library.stat().st_size
        if after < before:
            stripped += 1
            saved += before - after
    return stripped, saved


def compile_argv(interpreter: Interpreter, out: Path) -> list[str]:
    return [
        *interpreter.argv,
        "-m",
        "compileall",
        "-q",
        "-f",
        "-j0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(out),
        "-p",
        TASK_ROOT,
        str(out),
    ]


def compile_bytecode(interpreter: Interpreter, out: Path, timeout: float = 600) -> None:
    try:
        result = subprocess.run(  # noqa: S603 - the target interpreter's own compileall
            compile_argv(interpreter, out),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **interpreter.env},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"compileall did not finish within {timeout:.0f} s") from None
    if result.returncode != 0:
        raise BuildError(f"compileall failed:\n{result.stdout}{result.stderr}")


def _walk_files(root: Path) -> Iterator[Path]:
    """Every file under `root`, in a stable order (sorted by relative POSIX path)."""
    files = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    yield from sorted(files, key=lambda p: p.relative_to(root).as_posix())


def normalise_timestamps(out: Path, epoch: int) -> None:
    """Give every file one mtime, so zips of the same content are byte-identical."""
    for path in [out, *out.rglob("*")]:
        os.utime(path, (epoch, epoch), follow_symlinks=False)


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in _walk_files(root))


def write_zip(root: Path, zip_path: Path) -> int:
    """A deterministic zip of `root`'s contents (sorted, fixed times and modes); its size.

    Level 6 is zlib's default, what SAM uses too: sizes reported here match the upload.
    """
    date_time = (1980, 1, 1, 0, 0, 0)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_name(zip_path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in _walk_files(root):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the modes below are honoured
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, path.read_bytes(), compresslevel=6)
    tmp.replace(zip_path)
    return zip_path.stat().st_size


def _prepare_out(out: Path, source_root: Path) -> None:
    """Empty `out`, refusing anything that could be the checkout or someone else's files."""
    resolved, root = out.resolve(), source_root.resolve()
    if (
        resolved == root
        or resolved in root.parents
        or root / PACKAGE in [resolved, *resolved.parents]
    ):
        raise BuildError(f"refusing to build into {out}: it contains or is inside the sources")
    if resolved.exists():
        if not resolved.is_dir():
            raise BuildError(f"{out} exists and is not a directory")
        entries = list(resolved.iterdir())
        if entries and not (resolved / PACKAGE / BUILD_INFO_FILE).is_file():
            raise BuildError(f"refusing to clear {out}: not empty and not a previous build")
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    resolved.mkdir(parents=True, exist_ok=True)


# --- the whole build --------------------------------------------------------------------------


def build(options: BuildOptions, log: Log | None = None) -> BuildResult:
    """Build the artifact folder `options.out` (and its zip). See the module docstring."""
    say: Log = log or (lambda _message: None)
    started = time.monotonic()
    notes: list[str] = []
    if not re.fullmatch(r"3\.\d+", options.python_version):
        raise BuildError(
            f"--python takes a minor version like 3.12, not {options.python_version!r}"
        )
    if options.arch not in PLATFORM_TAGS:
        raise BuildError(f"unknown architecture {options.arch!r} (choose x86_64 or arm64)")
    refused = config_refusals(options.source_root)
    if refused:
        raise BuildError(
            f"{CONFIG_FILE} would be refused in production:\n"
            + "\n".join(f"  - {problem}" for problem in refused)
        )
    requirements = options.source_root / REQUIREMENTS
    if not requirements.is_file():
        raise BuildError(f"{requirements} not found")

    python_version = options.python_version
    interpreter: Interpreter | None = None
    fell_back = False
    if options.compile:
        interpreter = find_interpreter(python_version, options.environ)
        if interpreter is None:
            if options.strict:
                raise BuildError(
                    f"no Python {python_version} found to compile bytecode for the target "
                    f"(install it, put python{python_version} on PATH, or pass --no-compile)"
                )
            interpreter = Interpreter((sys.executable,), platform.python_version())
            fell_back = True
            python_version = interpreter.minor
            notes.append(
                f"WARNING: no Python {options.python_version} found; built for the RUNNING "
                f"interpreter (Python {interpreter.version}) instead. This artifact will not "
                f"import on the python{options.python_version} Lambda runtime."
            )
            say(notes[-1])

    sha = resolve_sha(options.sha, options.environ, options.source_root)
    if sha == "unknown":
        notes.append(
            "WARNING: commit unknown (no --sha, no $GITHUB_SHA, no git checkout: a SAM build "
            "outside the source folder copies no .git); /version will say 'unknown' and "
            "verify-deploy --expect-sha will fail"
        )
        say(notes[-1])
    built_at = build_time(options.environ)
    out = options.out
    _prepare_out(out, options.source_root)

    say(f"installing {requirements} for cp{python_version.replace('.', '')} {options.arch}")
    install_dependencies(
        requirements,
        out,
        python_version=python_version,
        arch=options.arch,
        cache_dir=options.pip_cache_dir,
    )
    strip_noise(out)
    forbidden = forbidden_contents(out)
    if forbidden:
        raise BuildError(
            "the artifact must not ship the runtime's own AWS SDK, found: " + ", ".join(forbidden)
        )
    if (out / PACKAGE).exists():
        raise BuildError(f"a dependency installed a top-level {PACKAGE!r}; refusing to overwrite")
    stripped, saved = strip_debug_info(out, options.arch)
    if stripped:
        say(f"stripped debug info from {stripped} libraries ({megabytes(saved)} less)")
    package_dir = copy_package(options.source_root, out)
    write_build_info(package_dir, sha, built_at)
    if copy_config(options.source_root, out) is not None:
        say(f"included {CONFIG_FILE} (apps and notification subscriptions)")

    if interpreter is not None:
        say(f"compiling bytecode with {interpreter.describe()}")
        compile_bytecode(interpreter, out)
    normalise_timestamps(out, ZIP_EPOCH)

    unzipped = tree_size(out)
    zip_path = out.with_name(out.name + ".zip") if options.make_zip else None
    if zip_path is not None:
        zipped = write_zip(out, zip_path)
    else:
        with tempfile.TemporaryDirectory(prefix="orchestrator-zip-") as scratch:
            zipped = write_zip(out, Path(scratch) / "artifact.zip")
    if zipped > LAMBDA_MAX_ZIPPED or unzipped > LAMBDA_MAX_UNZIPPED:
        notes.append("WARNING: the artifact exceeds Lambda's size limits (50 MB zip, 250 MB)")
    return BuildResult(
        out=out,
        sha=sha,
        built_at=built_at,
        python_version=python_version,
        arch=options.arch,
        interpreter=interpreter,
        fell_back=fell_back,
        distributions=distributions(out),
        unzipped_bytes=unzipped,
        zipped_bytes=zipped,
        zip_path=zip_path,
        seconds=time.monotonic() - started,
        notes=tuple(notes),
    )


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def summary(result: BuildResult) -> str:
    """What a person (or a CI log) needs to see about a finished build."""
    compiled = (
        f"{result.interpreter.describe()}, unchecked-hash"
        if result.interpreter is not None
        else "not compiled (--no-compile)"
    )
    lines = [
        f"built {result.out} for python{result.python_version} {result.arch} "
        f"({PLATFORM_TAGS[result.arch]})",
        f"  sha        {result.sha}",
        f"  built at   {result.built_at}",
        f"  bytecode   {compiled}",
        f"  packages   {len(result.distributions)} from {REQUIREMENTS}",
        f"  size       {megabytes(result.unzipped_bytes)} unzipped, "
        f"{megabytes(result.zipped_bytes)} zipped",
    ]
    if result.zip_path is not None:
        lines.append(f"  zip        {result.zip_path}")
    lines.append(f"  took       {result.seconds:.1f} s")
    lines.extend(result.notes)
    return "\n".join(lines)
