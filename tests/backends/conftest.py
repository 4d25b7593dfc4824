"""Tiny model folders, built once per test session: every family's tiny_<family>.build, by variant."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a hub
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # tests/: the built-in tiny pipeline (test_pipeline.py)

FAMILIES = ("wan", "ltx", "cogvideox", "hunyuan", "skyreels")  # the diffusers families with a tiny_<name>.py


def tiny(family: str):
    """The family's tiny-folder module: VARIANTS, SIZE, SECONDS, FPS, build(folder, variant)."""
    return importlib.import_module(f"tiny_{family}")


def cases() -> list[tuple[str, str]]:
    return [(f, v) for f in FAMILIES for v in tiny(f).VARIANTS]


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    """tiny_folder(family, variant) -> the folder, built on first use."""
    built: dict[tuple[str, str], Path] = {}

    def get(family: str, variant: str) -> Path:
        if (family, variant) not in built:
            folder = tmp_path_factory.mktemp(f"{family}-{variant}")
            built[family, variant] = tiny(family).build(folder, variant)
        return built[family, variant]

    return get
