"""The product's slash commands: one module per area, each declaring on its own `bot`.

Adapters: each handler turns an interaction into calls of the domain and a message.
`orchestrator.product` merges the modules' bots into the one command tree.
"""
