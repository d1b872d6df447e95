"""The Lambda artifacts the cold-start and size sections use, built once per run.

* `artifact`      `python -m orchestrator build --sha be0c4... --zip` (compiled, unchecked-hash)
* `artifact-src`  the same with `--no-compile` (sources only)
* `bare`          fastapi + mangum + pynacl for the target Python and platform, at the
                  versions this project locks, plus `bench/peers/bare_fastapi.py` as
                  `bare_app.py`; stripped and compiled exactly as our build does
* `bare-src`      the same folder before compiling
* `lambda-runtime` boto3 and its dependencies, copied from this venv (the versions we lock):
                  what the Lambda Python runtime puts on `sys.path` after the task root, for
                  the cold starts that reach AWS (a deferred command's self-invoke)

    python -m bench.artifacts [--out FILE]     (builds what is missing, prints sizes)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import common

ARTIFACTS = common.BUILD / "artifacts"
BARE_PACKAGES = ("fastapi", "mangum", "pynacl")
RUNTIME = ARTIFACTS / "lambda-runtime"
# What the Lambda runtime ships besides the standard library (all pure Python).
RUNTIME_DISTRIBUTIONS = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
)


@dataclass(frozen=True)
class Artifact:
    name: str
    folder: Path
    handler: str
    compiled: bool
    zip_path: Path

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder.relative_to(common.ROOT)),
            "handler": self.handler,
            "compiled": self.compiled,
        }


def artifacts() -> dict[str, Artifact]:
    def one(name: str, handler: str, compiled: bool) -> Artifact:
        folder = ARTIFACTS / name
        return Artifact(name, folder, handler, compiled, folder.with_name(name + ".zip"))

    return {
        "ours": one("artifact", "orchestrator.main.handler", True),
        "ours_src": one("artifact-src", "orchestrator.main.handler", False),
        "bare": one("bare", "bare_app.handler", True),
        "bare_src": one("bare-src", "bare_app.handler", False),
    }


# What the bench's artifacts report as their commit (`build --sha` takes hex only).
BENCH_SHA = "be0c4" * 8


def _build_ours(out: Path, compiled: bool) -> dict[str, Any]:
    argv = [
        common.PYTHON,
        "-m",
        "orchestrator",
        "build",
        "--out",
        str(out),
        "--sha",
        "be0c4be0c4be0c4be0c4be0c4be0c4be0c4be0c4",
    ]
    argv += ["--zip"] if compiled else ["--no-compile", "--zip"]
    started = time.monotonic()
    result = subprocess.run(
        argv, cwd=common.ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"orchestrator build failed:\n{result.stdout}{result.stderr}")
    return {"seconds": round(time.monotonic() - started, 1), "summary": result.stdout.strip()}


def _locked_pins() -> list[str]:
    """`name==version[; marker]` lines of requirements/runtime.txt, without hashes."""
    pins = []
    text = (common.ROOT / "requirements" / "runtime.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if re.match(r"^[A-Za-z0-9]", line) and "==" in line:
            pins.append(line.rstrip(" \\"))
    return pins


def _build_bare(bare: Path, bare_src: Path, target: common.TargetPython) -> dict[str, Any]:
    from orchestrator.devtools import build as ob

    started = time.monotonic()
    for folder in (bare, bare_src):
        if folder.exists():
            shutil.rmtree(folder)
    bare.mkdir(parents=True)
    constraints = ARTIFACTS / "bare-constraints.txt"
    constraints.write_text("\n".join(_locked_pins()) + "\n", encoding="utf-8")
    minor = ".".join(target.version.split(".")[:2])
    arch = ob.host_arch()
    argv = [
        common.PYTHON,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--only-binary=:all:",
        "--no-compile",
        "--platform",
        ob.PLATFORM_TAGS[arch],
        "--python-version",
        minor,
        "--implementation",
        "cp",
        "--target",
        str(bare),
        "-c",
        str(constraints),
        *BARE_PACKAGES,
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pip install of the bare artifact failed:\n{result.stderr}")
    ob.strip_noise(bare)
    ob.strip_debug_info(bare, arch)
    shutil.copyfile(common.PEERS_DIR / "bare_fastapi.py", bare / "bare_app.py")
    shutil.copytree(bare, bare_src)
    interpreter = ob.Interpreter((target.executable,), target.version)
    ob.compile_bytecode(interpreter, bare)
    for folder in (bare, bare_src):
        ob.normalise_timestamps(folder, ob.ZIP_EPOCH)
        ob.write_zip(folder, folder.with_name(folder.name + ".zip"))
    return {
        "seconds": round(time.monotonic() - started, 1),
        "distributions": list(ob.distributions(bare)),
    }


def _build_runtime(folder: Path, target: common.TargetPython) -> dict[str, Any]:
    """Copy the installed files of `RUNTIME_DISTRIBUTIONS` (no network: this venv has them,
    at the locked versions) and compile them for the target Python, as the runtime image
    ships them compiled (under `-B` a child could not cache its own)."""
    from importlib import metadata

    from orchestrator.devtools import build as ob

    started = time.monotonic()
    if folder.exists():
        shutil.rmtree(folder)
    versions = {}
    for name in RUNTIME_DISTRIBUTIONS:
        dist = metadata.distribution(name)
        versions[name] = dist.version
        for file in dist.files or ():
            source = Path(str(dist.locate_file(file)))
            if "__pycache__" in file.parts or not source.is_file():
                continue
            target_file = folder / file
            target_file.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target_file)
    ob.compile_bytecode(ob.Interpreter((target.executable,), target.version), folder)
    return {"seconds": round(time.monotonic() - started, 1), "distributions": versions}


def prepare(force: bool = False) -> dict[str, Any]:
    """Build whatever is missing (everything with `force`); what was built and how long."""
    target = common.lambda_python()
    found = artifacts()
    info: dict[str, Any] = {"target_python": target.describe(), "builds": {}}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for key in ("ours", "ours_src"):
        art = found[key]
        if force or not art.zip_path.is_file():
            info["builds"][key] = _build_ours(art.folder, art.compiled)
    if force or not found["bare"].zip_path.is_file() or not found["bare_src"].zip_path.is_file():
        info["builds"]["bare"] = _build_bare(found["bare"].folder, found["bare_src"].folder, target)
    if force or not (RUNTIME / "boto3" / "__pycache__").is_dir():
        info["builds"]["lambda_runtime"] = _build_runtime(RUNTIME, target)
    return info


def sizes() -> dict[str, Any]:
    from orchestrator.devtools.build import tree_size

    out = {}
    for key, art in artifacts().items():
        out[key] = {
            **art.as_dict(),
            "unzipped_bytes": tree_size(art.folder),
            "zipped_bytes": art.zip_path.stat().st_size,
            "files": sum(1 for p in art.folder.rglob("*") if p.is_file()),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = common.section_args(__doc__ or "", argv)
    info = prepare()
    common.emit({**info, "sizes": sizes()}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
