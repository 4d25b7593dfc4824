"""What every backend provides, and what a family of backends provides.

A backend is one loaded model: it says what it can do (`capabilities`, readable before any weights
are loaded), who it is (`identity`, for provenance), and runs checked requests (`run`). A family
(the built-in model, Wan, LTX-Video, ...) knows how to recognise a model folder of its kind, read
its capabilities from the folder's config files, and load it. `backends.FAMILIES` is a plain dict
of them, as DiT's `DiT_models`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

from ..requests import Capabilities, Request
from ..video import Video

Progress = Callable[[int, int], None]  # callback(step, total) over the whole job


@dataclass(frozen=True)
class Identity:
    """Who made a video, for provenance (C2PA claims, /v1/models)."""
    name: str  # the model's name in this instance
    family: str  # a key of backends.FAMILIES
    version: str  # the family's model version, e.g. "openreel-v1", "Wan2.1-T2V"
    weights_sha256: str  # one digest over the folder's weight files (names and bytes)
    license: str  # SPDX-like id or a short name; "" when unknown
    data_manifest_sha256: str = ""  # the training data manifest's digest, where the folder ships one
    options: dict = field(default_factory=dict)  # memory and speed options the model runs with

    def to_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class Backend(Protocol):
    name: str

    def capabilities(self) -> Capabilities: ...

    def identity(self) -> Identity: ...

    def run(self, request: Request, callback: Progress | None = None) -> Video: ...


@dataclass(frozen=True)
class Family:
    """One kind of model. Its functions take the model folder and the catalog options."""
    name: str
    summary: str  # one line for `openreel models list` and the docs
    detect: Callable[[Path], bool]  # is this folder one of ours (usually from model_index.json)?
    capabilities: Callable[[str, Path, dict], Capabilities]  # (name, folder, options), without loading weights
    load: Callable[[str, Path, dict], Backend]  # (name, folder, options) -> a ready backend


# ----------------------------------------------------------------------------
# Helpers every family uses.

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def weights_digest(folder: Path) -> str:
    """SHA-256 over the folder's weight files: each relative name, then its bytes, in sorted order.
    Renaming or changing any weight file changes it; configs and model cards do not."""
    h = hashlib.sha256()
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    for p in files:
        h.update(p.relative_to(folder).as_posix().encode() + b"\0")
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def card_license(folder: Path) -> str:
    """The `license:` of the folder's model card (README.md front matter, as the Hub writes it), or ""."""
    card = Path(folder) / "README.md"
    if not card.is_file():
        return ""
    m = _FRONT_MATTER.match(card.read_text(errors="replace"))
    if not m:
        return ""
    import yaml
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError:
        return ""
    lic = meta.get("license", "") if isinstance(meta, dict) else ""
    if lic == "other" and isinstance(meta, dict) and meta.get("license_name"):
        lic = meta["license_name"]
    return str(lic or "")


# Licences whose terms forbid commercial use. A name containing "-nc" or "non-commercial" counts too.
NON_COMMERCIAL = {"cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0", "cc-by-nc-nd-4.0"}


def non_commercial(license: str) -> bool:
    lic = license.lower()
    return lic in NON_COMMERCIAL or "-nc" in lic or "non-commercial" in lic or "noncommercial" in lic


def read_json(path: Path) -> dict[str, Any]:
    import json
    return json.loads(Path(path).read_text()) if Path(path).is_file() else {}
