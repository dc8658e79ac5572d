"""The model registry: one interface (``base``), one module per backend.

``file:///PATH`` is the embedded registry (``local``). The production registry is ``hf://<namespace>`` (``hub``): one
private Hugging Face Hub model repo per task, a commit per version tagged with its content hash; the token and endpoint
come from HF_TOKEN and HF_ENDPOINT, and it needs the ``hub`` extra (huggingface_hub). Neither says what serves: see
README.md.
"""

from complaints.config import HubSettings
from complaints.registry.base import ModelRegistry, RegistryError

__all__ = ["ModelRegistry", "RegistryError", "open_registry"]


def open_registry(url: str) -> ModelRegistry:
    """Open a registry by URL: ``file:///path/to/dir`` (embedded default) or ``hf://<namespace>`` (the Hub)."""
    if url.startswith("file://"):
        from complaints.registry.local import LocalRegistry

        return LocalRegistry(url.removeprefix("file://"))
    if url.startswith("hf://") and url.removeprefix("hf://").strip("/"):
        from complaints.registry.hub import HubRegistry  # imported here: the serving path needs no huggingface_hub

        return HubRegistry(url.removeprefix("hf://").strip("/"), endpoint=HubSettings.from_env().endpoint)
    raise ValueError(f"unknown registry URL {url!r}; expected file:///PATH or hf://NAMESPACE")
