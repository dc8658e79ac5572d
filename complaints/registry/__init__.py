"""The model registry: one interface (``base``), one module per backend."""

from complaints.registry.base import ModelRegistry, RegistryError

__all__ = ["ModelRegistry", "RegistryError", "open_registry"]


def open_registry(url: str) -> ModelRegistry:
    """Open a registry by URL: ``file:///path/to/dir`` (embedded default)."""
    if url.startswith("file://"):
        from complaints.registry.local import LocalRegistry

        return LocalRegistry(url.removeprefix("file://"))
    raise ValueError(f"unknown registry URL {url!r}; expected file:///PATH")
