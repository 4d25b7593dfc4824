"""The docs cover the code: a setting, a command, an option or a backend family without a page fails here.

The idea is datasette's tests/test_docs.py. The reference pages are read as text; the MkDocs site
is built with --strict, so a broken link or a page missing from the nav fails too.
"""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REGENERATE = ".venv/bin/python scripts/gen_settings_doc.py"


def cli_commands():
    """(`openreel models add`, click command) for every command and subcommand, walked recursively."""
    import click
    import typer

    from openreel.cli import app

    def walk(cmd: click.Command, path: str):
        yield path, cmd
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            yield from walk(sub, f"{path} {name}")

    return [(path, cmd) for path, cmd in walk(typer.main.get_command(app), "openreel") if path != "openreel"]


def cli_sections() -> dict[str, str]:
    """docs/reference/cli.md cut at its headings: the text under each heading that names a command."""
    text = (DOCS / "reference" / "cli.md").read_text()
    sections: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        heading = re.match(r"#+\s+`?(openreel[\w\- ]*?)`?\s*$", line)
        if heading:
            current = heading[1].strip()
            sections[current] = ""
        elif current:
            sections[current] += line + "\n"
    return sections


# ----------------------------------------------------------------------------
# Settings

def test_every_setting_is_documented():
    from openreel.service.settings import Settings
    text = (DOCS / "reference" / "settings.md").read_text()
    missing = [name for name in Settings.model_fields
               if f"`{name}`" not in text or f"`OPENREEL_{name.upper()}`" not in text]
    assert not missing, f"settings missing from docs/reference/settings.md: {missing}; run {REGENERATE}"


def test_the_settings_page_is_what_the_script_generates_now():
    render = runpy.run_path(str(ROOT / "scripts" / "gen_settings_doc.py"))["render"]
    committed = (DOCS / "reference" / "settings.md").read_text()
    assert committed == render(), f"docs/reference/settings.md is stale; run {REGENERATE}"


# ----------------------------------------------------------------------------
# The command line

def test_every_cli_command_is_documented():
    text = (DOCS / "reference" / "cli.md").read_text()
    sections = cli_sections()
    missing = [path for path, _ in cli_commands() if path not in sections and f"`{path}`" not in text]
    assert not missing, f"commands missing from docs/reference/cli.md (as a heading or `code`): {missing}"


def test_every_cli_option_is_documented_under_its_command():
    sections = cli_sections()
    missing = []
    for path, cmd in cli_commands():
        if path not in sections:
            continue  # test_every_cli_command_is_documented reports it
        for param in cmd.params:
            names = [n for n in getattr(param, "opts", []) if n.startswith("--")]
            if names and not any(n in sections[path] for n in names):
                missing.append(f"{path} {names[0]}")
    assert not missing, f"options missing from their command's section of docs/reference/cli.md: {missing}"


# ----------------------------------------------------------------------------
# The HTTP API

def test_every_http_route_is_documented(tmp_path, monkeypatch):
    from fastapi.routing import APIRoute

    from openreel.api.app import create_app
    from openreel.service.settings import Settings
    monkeypatch.chdir(tmp_path)
    app = create_app(Settings(data_dir=tmp_path / "data"))
    text = (DOCS / "reference" / "api.md").read_text()

    def walk(routes, prefix=""):  # included routers are kept whole by newer FastAPI: walk into them
        for route in routes:
            if isinstance(route, APIRoute):
                yield from ((method, prefix + route.path) for method in route.methods if method != "HEAD")
            elif getattr(route, "original_router", None) is not None:
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)

    routes = set(walk(app.routes))
    assert len(routes) > 20, sorted(routes)  # the walk found the included routers too
    missing = sorted(f"{m} {path}" for m, path in routes if f"`{m} {path}`" not in text)
    assert not missing, f"routes missing from docs/reference/api.md (as `METHOD /path`): {missing}"


# ----------------------------------------------------------------------------
# Backends

def test_every_backend_family_has_a_page_in_the_nav():
    from openreel.backends import FAMILIES
    nav = (ROOT / "mkdocs.yml").read_text()
    missing = [key for key in FAMILIES
               if not (DOCS / "backends" / f"{key}.md").is_file() or f"backends/{key}.md" not in nav]
    assert not missing, f"backend families without docs/backends/<key>.md in mkdocs.yml's nav: {missing}"


# ----------------------------------------------------------------------------
# The site and the README

def test_the_site_builds_strictly(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr
                                    + "\n(mkdocs and mkdocs-material come with the test extra: pip install -e '.[test]')")


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines; move detail into docs/"


def test_the_readme_links_into_docs_resolve():
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#\s]+)", text)
    assert links, "the README should link into docs/"
    missing = sorted({link for link in links if not (ROOT / link).is_file()})
    assert not missing, f"README links to missing pages: {missing}"
