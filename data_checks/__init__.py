"""Great Expectations gates over the core: the ``intake`` suite on every incoming batch and the
``training`` suite on every training set. An edge package: ``complaints/`` never imports it, and it needs
the ``checks`` extra (``pip install 'complaints-triage[checks]'``)."""
