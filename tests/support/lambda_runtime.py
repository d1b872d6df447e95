"""A stand-in for the AWS Lambda Python runtime's bootstrap, run as a script.

    python -I -S -B lambda_runtime.py TASK_ROOT HANDLER < events.json > responses.json

Like the real runtime it puts the task root first on `sys.path` (plus the
standard library: `-I -S` keeps site-packages out, so only what the artifact
ships can be imported), splits the handler string at its last dot, imports the
module with `importlib.import_module` and calls the function once per event.
An import failure is reported with the runtime's own error text,
`Runtime.ImportModuleError: Unable to import module '<module>': <error>`.

When TASK_ROOT is `-`, the current `sys.path` is kept (tests of a checkout).

With `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start` it also plays SnapStart: after the
import (the initialisation a snapshot captures) it runs the hooks registered with
`snapshot_restore_py`, the before-snapshot ones in reverse order of registration and the
after-restore ones in order, as Lambda does, and reports how many ran on stderr
(`snapstart hooks: <before> before, <after> after`) before serving the events.
"""

from __future__ import annotations

import importlib
import json
import os
import sys


def main() -> int:
    task_root, handler_name = sys.argv[1], sys.argv[2]
    if task_root != "-":
        sys.path.insert(0, task_root)  # what the runtime's bootstrap does with LAMBDA_TASK_ROOT
    module_name, _, function_name = handler_name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        print(
            f"Runtime.ImportModuleError: Unable to import module '{module_name}': {exc}",
            file=sys.stderr,
        )
        return 3
    function = getattr(module, function_name, None)
    if function is None:
        print(
            f"Runtime.HandlerNotFound: Handler '{function_name}' missing on module '{module_name}'",
            file=sys.stderr,
        )
        return 4
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        run_snapstart_hooks()
    events = json.load(sys.stdin)
    responses = [function(event, None) for event in events]
    json.dump(responses, sys.stdout)
    return 0


def run_snapstart_hooks() -> None:
    """Snapshot, then restore: what Lambda runs between the initialisation and the first
    invocation of a container resumed from a SnapStart snapshot."""
    import snapshot_restore_py

    before = list(reversed(snapshot_restore_py.get_before_snapshot()))
    after = list(snapshot_restore_py.get_after_restore())
    for function, args, kwargs in [*before, *after]:
        function(*args, **kwargs)
    print(f"snapstart hooks: {len(before)} before, {len(after)} after", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
