"""The other side of each comparison: the floor, a bare FastAPI app, and the PyPI peers.

Each module here is standalone (it imports only its own framework), because it runs in
whatever interpreter hosts it: the project venv, a peer's throwaway venv under
`build/bench/venvs/`, or a `python3.12 -I -S -B` cold start of an artifact folder.
"""
