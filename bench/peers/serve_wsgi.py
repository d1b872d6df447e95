"""`python serve_wsgi.py MODULE:ATTR PORT`: waitress, one process, 127.0.0.1.

waitress is a single process with a small thread pool (4 threads, its default): the
WSGI counterpart of one uvicorn worker, and it keeps connections alive.
"""

from __future__ import annotations

import importlib
import sys


def main() -> None:
    target, port = sys.argv[1], int(sys.argv[2])
    module_name, _, attr = target.partition(":")
    app = getattr(importlib.import_module(module_name), attr)
    import waitress

    waitress.serve(app, host="127.0.0.1", port=port, threads=4, _quiet=True)


if __name__ == "__main__":
    main()
