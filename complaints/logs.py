"""Structured logs: one JSON object per line on stderr, never a narrative (they may hold personal data)."""

from __future__ import annotations

import json
import logging
import sys


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (test runners and tools swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure(level: int = logging.WARNING) -> None:
    handler = _StderrHandler()
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger("complaints")
    root.handlers[:] = [handler]
    root.setLevel(level)


def log(logger: logging.Logger, level: int, message: str, **fields) -> None:
    """Log ``message`` with ``fields`` as top-level JSON keys."""
    logger.log(level, message, extra={"fields": fields})
