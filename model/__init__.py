"""Training jobs: fit models for the triage tasks and register them. Needs the ``train`` extra."""
