"""flask-discord-interactions, the minimal app its docs show: `DiscordInteractions(app)` and
`set_route("/interactions")`, served by a WSGI server (see serve_wsgi.py).

Runs in its own venv (`build/bench/venvs/fdi`). Nothing is registered with Discord.
"""

from __future__ import annotations

import os

from flask import Flask
from flask_discord_interactions import DiscordInteractions

app = Flask(__name__)
discord = DiscordInteractions(app)
app.config["DISCORD_CLIENT_ID"] = os.environ.get("DISCORD_APPLICATION_ID", "100000000000000001")
app.config["DISCORD_PUBLIC_KEY"] = os.environ["DISCORD_PUBLIC_KEY"]
app.config["DISCORD_CLIENT_SECRET"] = "unused-by-the-benchmark"
app.config["DONT_REGISTER_WITH_DISCORD"] = True
discord.set_route("/interactions")
