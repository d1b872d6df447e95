"""Build the AWS Lambda artifact: the folder (and optionally the zip) Lambda sees as /var/task.

The `orchestrator` package sits at the artifact's root next to the locked runtime
dependencies (wheels for the target platform), so the handler
`orchestrator.main.handler` imports there exactly as it does from a checkout.
`sam build` runs this through `make build-OrchestratorFunction`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from orchestrator.cli.arguments import Parser, commit_sha, python_minor
from orchestrator.devtools.build import (
    ARCHES,
    BUILD_INFO_FILE,
    PACKAGE,
    BuildError,
    BuildOptions,
    build,
    summary,
)


def _source_root() -> Path:
    # The checkout this package was imported from: its `requirements/` sits beside it.
    return Path(__file__).resolve().parent.parent.parent


def artifact_folder(value: str) -> Path:
    """Where the artifact goes: a new folder, an empty one, or a previous build (it is
    emptied first, so anything else is refused before any work starts)."""
    path = Path(value)
    if not value:
        raise argparse.ArgumentTypeError("is empty")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not (path / PACKAGE / BUILD_INFO_FILE).is_file():
        raise argparse.ArgumentTypeError(
            f"{value!r} is not empty and not a previous build; it would be emptied"
        )
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=artifact_folder,
        default=Path("build/lambda"),
        help="artifact folder, emptied first (default build/lambda)",
    )
    parser.add_argument(
        "--python",
        type=python_minor,
        default="3.12",
        help="target Lambda Python version (default 3.12)",
    )
    parser.add_argument(
        "--arch", choices=ARCHES, default="x86_64", help="target architecture (default x86_64)"
    )
    parser.add_argument(
        "--sha",
        type=commit_sha,
        help="commit to bake in, 7-40 hex characters "
        "(default $GITHUB_SHA, else git HEAD, else 'unknown')",
    )
    parser.add_argument(
        "--no-compile",
        dest="compile",
        action="store_false",
        help="ship sources only (slower cold starts; no target interpreter needed)",
    )
    parser.add_argument(
        "--zip", action="store_true", help="also write <out>.zip (deterministic entries)"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail instead of building for the running interpreter when the target Python "
        "is missing (what deploys should use)",
    )
    parser.add_argument(
        "--pip-cache-dir", type=Path, help="pip download cache (default: pip's own cache)"
    )


def run(args: argparse.Namespace) -> int:
    options = BuildOptions(
        out=args.out,
        source_root=_source_root(),
        python_version=args.python,
        arch=args.arch,
        sha=args.sha,
        compile=args.compile,
        make_zip=args.zip,
        strict=args.strict,
        pip_cache_dir=args.pip_cache_dir,
    )
    try:
        result = build(options, log=lambda message: print(message, file=sys.stderr, flush=True))
    except BuildError as exc:
        print(f"orchestrator build: {exc}", file=sys.stderr)
        return 1
    print(summary(result), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m orchestrator.cli.build`: what the Makefile runs, needing no console script."""
    parser = Parser(prog="orchestrator build", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
