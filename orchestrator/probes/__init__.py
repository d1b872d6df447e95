"""Uptime probes: every app's URLs (and this service's own `/healthz`) checked on a schedule.

`state` holds the pure decisions (what a result means for the up/down state, when
that is a change worth a message), `http` the one bounded request, `run` the thin
I/O around them (the store, Discord), `render` the messages.
"""
