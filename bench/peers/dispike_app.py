"""dispike (FastAPI-based), the minimal app its README shows: a `Dispike` instance served by
uvicorn; its interactions endpoint is `POST /interactions` and answers PINGs itself.

Runs in its own venv (`build/bench/venvs/dispike`) with the versions dispike pins.
"""

from __future__ import annotations

import os

from dispike import Dispike

bot = Dispike(
    client_public_key=os.environ["DISCORD_PUBLIC_KEY"],
    application_id=os.environ.get("DISCORD_APPLICATION_ID", "100000000000000001"),
)
app = bot.referenced_application
