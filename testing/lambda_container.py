"""A new Lambda container for each test: the handlers keep their pipeline and clients per container, and many
containers run in one test process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def fresh_container() -> Iterator[None]:
    """Run the handlers as a cold container would, then restore the one before."""
    from functions import runtime

    before = runtime._container
    runtime._container = runtime._Container()
    try:
        yield
    finally:
        runtime._container = before
