"""The models this instance serves, as the service sees them: names, aliases, capabilities, identity.

The catalog (backends.catalog) holds the built-in model and every local folder added with
`openreel models add`. Sora's model names are aliases of the built-in model, so unmodified client
code keeps working. Nothing here loads weights except `reader`, which loads only the built-in
model's prompt reader, to say before queueing what a prompt will be drawn as.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache

from ..backends.base import Identity
from ..backends.catalog import Catalog
from ..requests import Capabilities
from .settings import Settings


class Models:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.catalog = Catalog(settings.data_dir, settings.model_name, settings.weights, settings.commercial_use)
        self._identities: dict[str, Identity] = {}
        self._readers: dict[str, object] = {}  # weights folder -> prompt -> Explanation (or None: no reader)
        self._reader_lock = threading.Lock()  # concurrent first creates must load it once (transformers' lazy imports race)

    def names(self) -> list[str]:
        """Every name a client may pass as `model`: catalog names and aliases."""
        return sorted({*self.catalog.names(), *self.settings.model_aliases})

    def resolve(self, name: str) -> str | None:
        """The catalog name for a client's `model`, or None."""
        if name in self.settings.model_aliases:
            return self.settings.model_aliases[name]
        return name if name in self.catalog.entries() else None

    def capabilities(self, name: str) -> Capabilities:
        return _capabilities(self.catalog, name, self.catalog.path.stat().st_mtime if self.catalog.path.exists() else 0)

    def refusal(self, name: str) -> str | None:
        return self.catalog.refusal(name)

    def identity(self, name: str) -> Identity:
        """Who a catalog model is (weights digest, licence, family), computed once per process."""
        if name not in self._identities:
            self._identities[name] = self.catalog.load(name).identity()
        return self._identities[name]

    def reader(self, name: str):
        """A callable prompt -> Explanation for the built-in model, or None (other families draw any words)."""
        if self.catalog.get(name).get("family") != "builtin":
            return None
        path = self.catalog.get(name)["path"]
        with self._reader_lock:
            if path not in self._readers:
                from ..backends.builtin import prompt_reading
                self._readers[path] = prompt_reading(path)
        return self._readers[path]

    def public(self) -> list[dict]:
        """GET /v1/models: every model with its family, capabilities and licence; aliases say what they stand for."""
        now = int(time.time())
        out = []
        for name, entry in self.catalog.entries().items():
            caps = self.capabilities(name)
            out.append({"id": name, "object": "model", "created": entry.get("added_at", now), "owned_by": "openreel",
                        "family": entry["family"], "license": caps.license, "capabilities": caps.to_dict(),
                        "refused": self.refusal(name)})
        for alias, target in sorted(self.settings.model_aliases.items()):
            if target in self.catalog.entries():
                out.append({"id": alias, "object": "model", "created": now, "owned_by": "openreel", "alias_of": target,
                            "family": self.catalog.get(target)["family"]})
        return out


@lru_cache(maxsize=256)
def _capabilities(catalog: Catalog, name: str, _mtime: float) -> Capabilities:
    """Read from the folder's configs once per catalog version (the file's mtime)."""
    return catalog.capabilities(name)
