"""Benchmarks, analyses, the cost model and the post-deploy smoke test: run from the checkout with
``python -m tools.<name>`` (the Makefile's targets). Never packaged."""
