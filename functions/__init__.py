"""AWS Lambda handlers over the triage core: thin, typed, and sharing every decision with the embedded path.

``intake`` validates a batch file and writes its chunks, ``triage`` runs the pipeline on one chunk,
``manual_triage`` is the state machine's Catch path for a chunk whose triage failed, ``submit`` is the
HTTP API that drops a batch into the inbox, ``reconcile`` totals a batch's chunks and ``ops_api`` serves the
ops API. Nothing else lives here: the image holds these handlers, the core and the ops API (Dockerfile).
"""
