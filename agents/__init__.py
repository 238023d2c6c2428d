"""The council: teams and personas, the LangGraph deliberation, the model gateway, runs and batches.

Modules: `team` and `team_loader` (the team format), `schemas` (what models return), `prompting`,
`deliberation` (the graph), `gateway` (the one place that talks to litellm), `providers`
(`local/smollm2`, `scripted/<policy>`), `runner` (one run), `batch` and `cache` (many runs), `bench`.
Import the module you need; nothing is imported here so the command line starts fast.
"""

__all__ = ["batch", "cache", "deliberation", "gateway", "prompting", "providers", "runner", "schemas", "team", "team_loader"]
