"""The models an instance serves: the built-in one, plus local model folders added by name.

    openreel models add wan-1.3b --path /models/Wan2.1-T2V-1.3B-Diffusers     # family detected
    openreel models list

The catalog is one JSON file in the data folder (models.json), shared by the CLI, the server and
its workers. An entry is {family, path, options, license}; nothing is loaded until a model is used,
and capabilities are read from the folder's config files alone.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from ..requests import Capabilities
from . import FAMILIES
from .base import Backend, non_commercial

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
CATALOG_FILE = "models.json"


class Catalog:
    def __init__(self, data_dir: str | Path, builtin_name: str = "openreel-1", builtin_weights: str = "",
                 commercial_use: bool = False):
        self.path = Path(data_dir) / CATALOG_FILE
        self.builtin_name = builtin_name
        self.builtin_weights = builtin_weights  # "" = the weights shipped in the package
        self.commercial_use = commercial_use  # refuse models whose licence forbids commercial use
        self._loaded: dict[str, Backend] = {}

    # -- entries -----------------------------------------------------------------

    def _read(self) -> dict[str, dict]:
        if not self.path.is_file():
            return {}
        return json.loads(self.path.read_text()).get("models", {})

    def _write(self, models: dict[str, dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": 1, "models": models}, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)  # readers never see half a file

    def entries(self) -> dict[str, dict]:
        """Every model by name, the built-in one first."""
        from .builtin import WEIGHTS_DIR
        builtin = {"family": "builtin", "path": self.builtin_weights or str(WEIGHTS_DIR), "options": {},
                   "license": "", "builtin": True}
        return {self.builtin_name: builtin, **self._read()}

    def names(self) -> list[str]:
        return list(self.entries())

    def get(self, name: str) -> dict:
        entries = self.entries()
        if name not in entries:
            raise KeyError(f"model {name!r} is not in this instance's catalog; models: {', '.join(entries)}")
        return entries[name]

    def add(self, name: str, path: str | Path, family: str | None = None, license: str | None = None,
            options: dict | None = None, replace: bool = False) -> dict:
        """Register a local model folder under `name`. Raises ValueError naming what to fix."""
        if not NAME.match(name or ""):
            raise ValueError(f"name must be 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or "
                             f"digit; got {name!r}")
        if name == self.builtin_name:
            raise ValueError(f"name {name!r} is the built-in model's; choose another")
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            raise ValueError(f"path {str(path)!r} is not a folder; give the local folder of a saved model")
        if family is None:
            found = [key for key, fam in FAMILIES.items() if fam.detect(folder)]
            if not found:
                raise ValueError(f"path {str(folder)!r}: no family recognises this folder (model_index.json); "
                                 f"give --family, one of {', '.join(FAMILIES)}")
            family = found[0]
        elif family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}; got {family!r}")
        models = self._read()
        if name in models and not replace:
            raise ValueError(f"name {name!r} is taken; remove it first or choose another")
        entry = {"family": family, "path": str(folder), "options": dict(options or {}), "license": license or "",
                 "added_at": int(time.time())}
        caps = self._capabilities(name, entry)  # reads the folder's configs: refuses a folder of another kind
        entry["license"] = caps.license
        models[name] = entry
        self._write(models)
        return {name: entry}

    def remove(self, name: str) -> None:
        models = self._read()
        if name not in models:
            raise KeyError(f"model {name!r} is not in the catalog" + (" (the built-in model cannot be removed)"
                                                                       if name == self.builtin_name else ""))
        del models[name]
        self._write(models)

    # -- capabilities and loading -------------------------------------------------

    def _capabilities(self, name: str, entry: dict) -> Capabilities:
        options = dict(entry.get("options") or {})
        if entry.get("license"):
            options["license"] = entry["license"]
        return FAMILIES[entry["family"]].capabilities(name, Path(entry["path"]), options)

    def capabilities(self, name: str) -> Capabilities:
        return self._capabilities(name, self.get(name))

    def refusal(self, name: str) -> str | None:
        """Why this instance will not serve the model, or None."""
        if self.commercial_use:
            caps = self.capabilities(name)
            if non_commercial(caps.license):
                return (f"model {name} has a non-commercial licence ({caps.license}) and this instance is set to "
                        "commercial use (OPENREEL_COMMERCIAL_USE)")
        return None

    def load(self, name: str) -> Backend:
        """The loaded backend, once per process."""
        if name not in self._loaded:
            why = self.refusal(name)
            if why:
                raise ValueError(why)
            entry = self.get(name)
            options = dict(entry.get("options") or {})
            if entry.get("license"):
                options["license"] = entry["license"]
            self._loaded[name] = FAMILIES[entry["family"]].load(name, Path(entry["path"]), options)
        return self._loaded[name]
