"""The ops API: the HTTP edge over the core for the ops app (Budibase) and any other client (README, Ops API)."""
