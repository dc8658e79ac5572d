"""Benchmarks, analyses, the cost model, the post-deploy smoke test and the GitHub tools: run from the checkout
with ``python -m tools.<name>`` (the Makefile's targets). Never packaged."""
