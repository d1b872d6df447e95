"""orchestrator: a Discord <-> GitHub deploy orchestrator.

One FastAPI app (`orchestrator.main:app`) with one Lambda entry point
(`orchestrator.main.handler`); every module imports as `orchestrator.<...>`.
"""

__version__ = "0.1.0"
