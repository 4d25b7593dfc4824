"""The `openreel` commands that manage an instance: models, users, keys, the audit log, moderation.

Thin shells over the service layer and the model catalog, as cli.py is over the library. Each
validates with the service's own rules and prints one line `error: ...` with exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def settings_from(data_dir: Optional[Path], database_url: Optional[str] = None):
    """The instance's settings (OPENREEL_* variables), with the command's own --data-dir and --database-url."""
    from pydantic import ValidationError
    from .service.settings import Settings
    overrides = {k: v for k, v in (("data_dir", data_dir), ("database_url", database_url)) if v is not None}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()))


def catalog_from(data_dir: Optional[Path], weights: Optional[Path] = None):
    """The instance's model catalog (models.json in the data folder); reading it creates nothing."""
    from .backends.catalog import Catalog
    s = settings_from(data_dir)
    return Catalog(s.data_dir, s.model_name, str(weights) if weights else s.weights, s.commercial_use)


models_app = typer.Typer(no_args_is_help=True, help="Models this instance serves: the built-in one and local folders.")
users_app = typer.Typer(no_args_is_help=True, help="Users of this instance (admin, reviewer, creator, viewer).")
keys_app = typer.Typer(no_args_is_help=True, help="API keys: create (shown once), list, revoke, reinstate.")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")
DataDir = typer.Option(None, "--data-dir", help="Same as the server's (default OPENREEL_DATA_DIR).")
DbUrl = typer.Option(None, "--database-url", help="Same as the server's (default OPENREEL_DATABASE_URL).")


@models_app.command("add")
def models_add(
    name: str = typer.Argument(..., help="The name clients pass as `model` (lowercase, digits, '.', '_', '-')."),
    path: Path = typer.Option(..., "--path", help="The model's local folder (a diffusers folder, or built-in weights)."),
    family: Optional[str] = typer.Option(None, "--family", help="Its family (default: detected from model_index.json)."),
    license: Optional[str] = typer.Option(None, "--license", help="Its licence, where the folder's model card has none."),
    option: Optional[list[str]] = typer.Option(None, "--option", metavar="KEY=VALUE",
                                               help="A memory or speed option, repeatable: dtype, device, offload, "
                                                    "vae_tiling, vae_slicing, attention, cache, compile."),
    data_dir: Optional[Path] = DataDir,
) -> None:
    """Add a local model folder to the catalog; nothing is downloaded, nothing is loaded yet."""
    options = {}
    for item in option or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"option must be KEY=VALUE; got {item!r}")
        options[key] = value
    catalog = catalog_from(data_dir)
    try:
        entry = catalog.add(name, path, family, license, options)
    except ValueError as exc:
        fail(str(exc))
    e = entry[name]
    caps = catalog.capabilities(name)
    typer.echo(f"{name}: {e['family']} from {e['path']}; modes {', '.join(caps.modes)}; "
               f"licence {caps.license or 'unknown (give --license)'}")


@models_app.command("list")
def models_list(data_dir: Optional[Path] = DataDir) -> None:
    """Every model: name, family, licence, folder."""
    catalog = catalog_from(data_dir)
    for name, e in catalog.entries().items():
        try:
            lic = catalog.capabilities(name).license or "unknown"
        except (OSError, ValueError) as exc:
            lic = f"unreadable ({exc})"
        typer.echo(f"{name}  {e['family']:10s} {lic:24s} {e['path']}")


@models_app.command("info")
def models_info(name: str, data_dir: Optional[Path] = DataDir) -> None:
    """One model's entry and capabilities, as JSON."""
    catalog = catalog_from(data_dir)
    try:
        entry, caps = catalog.get(name), catalog.capabilities(name)
    except KeyError as exc:
        fail(str(exc).strip("'\""))
    except (OSError, ValueError) as exc:
        fail(f"model {name}: {exc}")
    typer.echo(json.dumps({"name": name, **entry, "capabilities": caps.to_dict(),
                           "refused": catalog.refusal(name)}, indent=2))


@models_app.command("remove")
def models_remove(name: str, data_dir: Optional[Path] = DataDir) -> None:
    """Take a model out of the catalog (its folder is left alone)."""
    try:
        catalog_from(data_dir).remove(name)
    except KeyError as exc:
        fail(str(exc).strip("'\""))
    typer.echo(f"{name} removed")


def _access(data_dir: Optional[Path], database_url: Optional[str]):
    from .service.access import Access
    from .service.store import Store
    settings = settings_from(data_dir, database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Access(settings, Store(settings.db_url()))


@users_app.command("create")
def users_create(name: str, role: str = typer.Option(..., help="admin, reviewer, creator or viewer."),
                 data_dir: Optional[Path] = DataDir, database_url: Optional[str] = DbUrl) -> None:
    """Add a user."""
    try:
        user = _access(data_dir, database_url).create_user(name, role, actor="cli")
    except ValueError as exc:
        fail(str(exc))
    typer.echo(json.dumps(user))


@users_app.command("list")
def users_list(data_dir: Optional[Path] = DataDir, database_url: Optional[str] = DbUrl) -> None:
    for user in _access(data_dir, database_url).list_users():
        typer.echo(f"{user['id']}  {user['role']:9s} {user['name']}")


@keys_app.command("create")
def keys_create(
    owner: str = typer.Argument(..., help="User id or name."),
    name: str = typer.Option(..., help="What the key is for, e.g. 'laptop' or 'ci'."),
    scope: Optional[list[str]] = typer.Option(None, help="Repeat for several (default: all the role allows)."),
    rpm: Optional[int] = typer.Option(None, help="Requests per minute."),
    max_concurrent: Optional[int] = typer.Option(None, help="Jobs queued or running at once."),
    max_seconds: Optional[int] = typer.Option(None, help="Longest video."),
    max_pixels: Optional[int] = typer.Option(None, help="Largest video, width x height."),
    daily_seconds: Optional[int] = typer.Option(None, help="Video-seconds per UTC day."),
    cidr: Optional[list[str]] = typer.Option(None, help="Allowed client network; repeat for several."),
    expires_in: Optional[int] = typer.Option(None, help="Seconds until it expires."),
    data_dir: Optional[Path] = DataDir, database_url: Optional[str] = DbUrl,
) -> None:
    """Create a key. It is printed once, on stdout; only its digest is stored."""
    try:
        key, record = _access(data_dir, database_url).create_key(
            owner, name, scope or None, rpm=rpm, max_concurrent=max_concurrent, max_seconds=max_seconds,
            max_pixels=max_pixels, daily_seconds=daily_seconds, allowed_cidrs=cidr or None, expires_in=expires_in,
            actor="cli")
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"{record['id']} ({record['prefix']}..., scopes {', '.join(record['scopes'])}); the key, shown once:",
               err=True)
    typer.echo(key)


@keys_app.command("list")
def keys_list(owner: Optional[str] = typer.Option(None, help="Only this user's keys."),
              data_dir: Optional[Path] = DataDir, database_url: Optional[str] = DbUrl) -> None:
    for k in _access(data_dir, database_url).list_keys(owner):
        typer.echo(f"{k['id']}  {k['prefix']}...  {k['status']:9s} owner {k['owner_id']}  {k['name']}  "
                   f"scopes {','.join(k['scopes'])}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, cancel_jobs: bool = typer.Option(False, help="Also cancel its queued jobs."),
                data_dir: Optional[Path] = DataDir, database_url: Optional[str] = DbUrl) -> None:
    """Revoke a key for good: its next request gets 401, in every server process."""
    try:
        k = _access(data_dir, database_url).revoke(key_id, actor="cli", cancel_jobs=cancel_jobs)
    except (LookupError, ValueError) as exc:
        fail(str(exc).strip("'\""))
    typer.echo(f"{k['id']} revoked; cancelled jobs: {len(k['cancelled_jobs'])}")


@keys_app.command("reinstate")
def keys_reinstate(key_id: str, data_dir: Optional[Path] = DataDir, database_url: Optional[str] = DbUrl) -> None:
    """Lift a suspension (a revoked key stays revoked)."""
    try:
        k = _access(data_dir, database_url).reinstate(key_id, actor="cli")
    except (LookupError, ValueError) as exc:
        fail(str(exc).strip("'\""))
    typer.echo(f"{k['id']} {k['status']}")


@audit_app.command("verify")
def audit_verify(data_dir: Optional[Path] = DataDir, database_url: Optional[str] = DbUrl) -> None:
    """Check the audit log's hash chain; exits 1 naming the first bad row."""
    ok, _, message = _access(data_dir, database_url).verify_audit()
    typer.echo(message, err=not ok)
    raise typer.Exit(0 if ok else 1)


moderation_app = typer.Typer(no_args_is_help=True, help="Prompt moderation: check a prompt, evaluate the policy.")


@moderation_app.command("check")
def moderation_check(prompt: str, policy: Optional[Path] = typer.Option(None, help="A policy YAML (default: shipped).")) -> None:
    """Say whether a prompt would be blocked, and by which category and rule. Exits 1 if blocked."""
    from .service.moderation import Moderator
    verdict = Moderator(policy).check(prompt)
    typer.echo(f"blocked: {verdict.category} ({verdict.reason})" if verdict.blocked else "allowed")
    raise typer.Exit(1 if verdict.blocked else 0)


@moderation_app.command("eval")
def moderation_eval(policy: Optional[Path] = typer.Option(None, help="A policy YAML (default: shipped)."),
                    eval_set: Optional[Path] = typer.Option(None, help="A labelled set (default: the shipped held-out set)."),
                    report: Optional[Path] = typer.Option(None, help="Write the full result as JSON.")) -> None:
    """Precision, recall and false-positive rate of the policy on a labelled prompt set."""
    from .service.moderation import Moderator, evaluate
    r = evaluate(Moderator(policy), eval_set)
    typer.echo(f"{r['policy_prompts']} policy prompts, {r['benign_prompts']} benign: recall {r['recall']:.1%}, "
               f"precision {r['precision']:.1%}, false-positive rate {r['false_positive_rate']:.1%}")
    for name, c in r["per_category"].items():
        typer.echo(f"  {name:10s} recall {c['recall']:.0%} of {c['prompts']}")
    if report:
        report.write_text(json.dumps(r, indent=2) + "\n")


def register(app: typer.Typer) -> None:
    for sub, name in ((models_app, "models"), (users_app, "users"), (keys_app, "keys"), (audit_app, "audit"),
                      (moderation_app, "moderation")):
        app.add_typer(sub, name=name)
