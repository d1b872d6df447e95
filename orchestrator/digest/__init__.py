"""The digest: what happened to deploys, uptime and verifications over a day or a week.

`compute` is pure (samples in, statistics out), `render.to_message` turns that into one
Discord message, `load` reads the samples the service recorded, and `handlers` records
the one kind of sample nothing else keeps: every completed run of a deploy workflow.
"""
