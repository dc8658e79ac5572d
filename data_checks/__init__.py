"""Great Expectations over the core: the ``training`` suite gates every training set, and the ``intake``
suite reports on a data file with Data Docs, row for row as ``complaints/intake/`` decides. A layer
above the core (it imports ``complaints``; ``complaints`` never imports it, a test holds that), and it
needs the ``checks`` extra (``pip install 'complaints-triage[checks]'``)."""
