"""The triage store: one interface (``base``), one declaration of its tables (``tables``), one module per backend."""

from complaints.store.base import IdempotencyConflict, StaleWriteError, StoreBusy, StoreUnavailable, TriageStore

__all__ = ["IdempotencyConflict", "StaleWriteError", "StoreBusy", "StoreUnavailable", "TriageStore", "open_store"]


def open_store(url: str) -> TriageStore:
    """Open a store by URL: ``sqlite:///path/to/file`` (embedded default) or
    ``dynamodb://<table-prefix>?region=REGION`` (AWS; see complaints/store/dynamodb.py)."""
    if url.startswith("sqlite:///"):
        from complaints.store.sqlite import SQLiteStore

        return SQLiteStore(url.removeprefix("sqlite:///"))
    if url.startswith("dynamodb://"):
        from complaints.store.dynamodb import DynamoDBStore

        return DynamoDBStore.from_url(url)
    raise ValueError(f"unknown store URL {url!r}; expected sqlite:///PATH or dynamodb://TABLE_PREFIX?region=REGION")
