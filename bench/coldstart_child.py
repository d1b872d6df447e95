"""One cold start, as the Lambda Python runtime does it; run as a script under `-I -S -B`.

    python3.12 -I -S -B coldstart_child.py TASK_ROOT MODULE.FUNCTION EVENT.json [RUNTIME]

Puts TASK_ROOT first on sys.path (as the runtime does with LAMBDA_TASK_ROOT) and RUNTIME,
if given, after it (where the runtime's own boto3 lives), imports the
handler's module, calls the handler once with the event, and prints one JSON line: import
and first-invoke times, the answer's status, and the peak RSS (`ru_maxrss`, KiB on Linux).
Standard library only.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def main() -> int:
    started = time.perf_counter()
    task_root, handler_name, event_file = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(event_file, encoding="utf-8") as handle:
        event = json.load(handle)
    sys.path.insert(0, task_root)
    if len(sys.argv) > 4:
        sys.path.insert(1, sys.argv[4])
    module_name, _, function_name = handler_name.rpartition(".")
    # The runtime uses importlib.import_module; __import__ is the same import through the
    # C entry point, which is what `-X importtime` instruments (so the handler's module is
    # listed too).
    module = __import__(module_name, fromlist=[function_name])
    handler = getattr(module, function_name)
    imported = time.perf_counter()
    response = handler(event, None)
    answered = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "import_ms": (imported - started) * 1000,
                "invoke_ms": (answered - imported) * 1000,
                "script_ms": (answered - started) * 1000,
                "status": response.get("statusCode"),
                "body": response.get("body"),
                "maxrss_kb": usage.ru_maxrss,
                "modules": len(sys.modules),
            }
        ),
        # The parent's clock stops when this line arrives: a Lambda container answers and
        # stays, so the interpreter's teardown after it is no part of a cold start.
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
