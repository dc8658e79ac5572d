"""The ``complaints`` command line: the ops console of the embedded deployment and the entry point of every
workflow step. The top layer: thin commands over the core (``complaints``), the data checks
(``data_checks``) and the training jobs (``model``), which never import it."""
