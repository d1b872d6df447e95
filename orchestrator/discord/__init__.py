"""Discord protocol core: signatures, interaction payloads, responses, the command framework.

Everything here is plain functions over bytes, dicts and dataclasses; HTTP lives
in `orchestrator.routers.discord` and the REST client in `orchestrator.discord.rest`.
"""
