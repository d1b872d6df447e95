"""Development tools: the local Discord stand-in, interaction simulation, saved-delivery
replay and the Lambda artifact builder.

They serve people and CI, never a request: the artifact leaves this package out
(`orchestrator.devtools.build`), and nothing in the service imports it.
"""
