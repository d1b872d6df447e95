"""`python serve_asgi.py MODULE:ATTR PORT [APP_DIR]`: uvicorn, one worker, 127.0.0.1.

The same launcher for every ASGI target, so each gets the same server settings:
keep-alive (uvicorn's default), no access log from uvicorn itself, warnings only.
The app's own logging is left as the app configures it.
"""

from __future__ import annotations

import sys


def main() -> None:
    target, port = sys.argv[1], int(sys.argv[2])
    if len(sys.argv) > 3:
        sys.path.insert(0, sys.argv[3])
    import uvicorn

    uvicorn.run(
        target,
        host="127.0.0.1",
        port=port,
        workers=1,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
