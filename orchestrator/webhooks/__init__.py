"""GitHub event handlers: one module per feature, each with its own `router`.

Adapters: they turn a routed webhook event into a call of their feature's domain
code. The composition root (`orchestrator.product`) merges their routers.
"""
