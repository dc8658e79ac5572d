"""AWS Lambda handlers over the triage core: thin, typed, and sharing every decision with the embedded path.

``intake`` validates a batch file and stages its chunks, ``triage`` runs the pipeline on one chunk,
``manual_triage`` is the state machine's Catch path for a chunk whose triage failed, ``submit`` is the
HTTP API that drops a batch into the inbox. ``release`` stages the model versions the image serves.
"""
