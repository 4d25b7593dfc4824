"""The `openreel` command: a thin shell over the library.

Every command validates with the library's own rules and prints one line
`error: ...` naming the field, exiting with status 2, before doing any work.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="OpenReel: open text-to-video that trains and runs on a CPU.")


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


MODE_FLAGS = ("--image", "--extend", "--loop", "--remix", "--blend", "--storyboard", "--long")


def load_cards(path: Path) -> list:
    """Storyboard cards from a YAML or JSON file (JSON is YAML): a list, or {"cards": [...]}."""
    import yaml
    if not path.is_file():
        raise ValueError(f"storyboard {str(path)!r} is not a file; give a YAML or JSON file of cards")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"storyboard {str(path)!r} is not valid YAML or JSON ({str(exc).splitlines()[0]})") from None
    return data.get("cards") if isinstance(data, dict) else data


def check_generate(d, prompt, seconds, size, fps, steps, guidance, sampler, output, image, extend, backward,
                   loop, remix, strength, blend, storyboard, long, draws=None) -> dict:
    """Every check the `generate` command can make before loading the model, in the library's
    words; returns the mode and its loaded inputs. Raises ValueError naming the field."""
    from . import pipeline as P
    chosen = [flag for flag, on in zip(MODE_FLAGS, (image, extend, loop, remix, blend, storyboard, long)) if on]
    if len(chosen) > 1:
        raise ValueError(f"mode: choose one of {', '.join(MODE_FLAGS)}; got {' and '.join(chosen)}")
    mode = chosen[0].lstrip("-") if chosen else "text"
    if backward and mode != "extend":
        raise ValueError("backward goes with --extend VIDEO")
    if strength is not None and mode != "remix":
        raise ValueError("strength goes with --remix VIDEO")
    if draws is not None:
        if mode not in ("extend", "blend"):
            raise ValueError("draws goes with --extend VIDEO or --blend A B")
        P.check_draws(draws)
    if seconds is not None and mode in ("remix", "storyboard"):
        raise ValueError(f"seconds does not apply to --{mode}: the length comes from the "
                         + ("video" if mode == "remix" else "cards"))
    if mode == "storyboard":
        if prompt is not None:
            raise ValueError("prompt: --storyboard takes its prompts from the cards; leave the prompt out")
        try:
            cards = P.check_cards(load_cards(storyboard))
        except ValueError as exc:
            raise ValueError(str(exc) if str(exc).startswith("storyboard") else f"storyboard {storyboard}: {exc}") from None
        inputs = {"cards": [{"prompt": p, "seconds": sec} for p, sec in cards]}
    else:
        P.check_prompt(prompt)
        inputs = {}
    if mode in ("extend", "long"):
        P.check_chain_seconds(d.default_seconds if seconds is None else seconds)
    elif mode not in ("remix", "storyboard"):
        P.check_inputs(d, prompt, d.default_seconds if seconds is None else seconds, size or d.size,
                       d.default_fps if fps is None else fps, d.steps if steps is None else steps,
                       d.guidance if guidance is None else guidance, sampler or d.sampler)
    P.check_settings(d, size or d.size, d.default_fps if fps is None else fps, d.steps if steps is None else steps,
                     d.guidance if guidance is None else guidance, sampler or d.sampler)
    if strength is not None:
        P.check_strength(strength)
    fps_ = d.default_fps if fps is None else fps
    if mode == "image":
        inputs["image"] = P.load_image(image)
    elif mode in ("extend", "remix"):
        inputs["video"] = P.load_video(extend or remix, fps_, "video")
    elif mode == "blend":
        inputs["video_a"], inputs["video_b"] = (P.load_video(v, fps_, f) for v, f in zip(blend, ("video_a", "video_b")))
    for field in ("video", "video_a", "video_b"):
        if field in inputs and len(inputs[field]) < P.MIN_VIDEO_FRAMES:
            raise ValueError(f"{field} must have at least {P.MIN_VIDEO_FRAMES} frames (for a single image, use "
                             f"--image); got {len(inputs[field])}")
    P.check_output_path(output)
    return {"mode": mode, **inputs}


@app.command()
def generate(
    prompt: Optional[str] = typer.Argument(None, help="What happens in the video (not with --storyboard)."),
    output: Path = typer.Option(Path("out.mp4"), "-o", "--output", help="Where to write the MP4."),
    seconds: Optional[int] = typer.Option(None, help="Duration in seconds (default: the model's, 2). With --extend, "
                                          "the seconds added; with --long, up to 120."),
    size: Optional[str] = typer.Option(None, help="WIDTHxHEIGHT, one of the model's native sizes (default 64x64, "
                                       "or the input video's own)."),
    fps: Optional[int] = typer.Option(None, help="Frames per second (default: the model's, 8)."),
    steps: Optional[int] = typer.Option(None, help="Denoising steps (default: the model's)."),
    guidance: Optional[float] = typer.Option(None, help="Classifier-free guidance scale (default: the model's)."),
    seed: int = typer.Option(0, help="Same seed, same frames."),
    sampler: Optional[str] = typer.Option(None, help="euler, heun or midpoint (default: the model's)."),
    weights: Optional[Path] = typer.Option(None, help="A folder saved by `openreel train` (default: built-in)."),
    image: Optional[Path] = typer.Option(None, "--image", metavar="IMAGE",
                                         help="Animate an image: it is frame 0, scaled to cover the size and centre-cropped."),
    extend: Optional[Path] = typer.Option(None, "--extend", metavar="VIDEO",
                                          help="Add --seconds after VIDEO (before, with --backward); writes the whole video."),
    backward: bool = typer.Option(False, "--backward", help="With --extend: add the new seconds before the video."),
    loop: bool = typer.Option(False, "--loop", help="A clip whose last frame flows into its first (a boomerang)."),
    remix: Optional[Path] = typer.Option(None, "--remix", metavar="VIDEO",
                                         help="Redo VIDEO under the prompt (SDEdit), as long as VIDEO."),
    strength: Optional[float] = typer.Option(None, "--strength", help="With --remix: how much may change, in (0, 1] "
                                             "(default 0.9)."),
    blend: Optional[tuple[Path, Path]] = typer.Option(None, "--blend", metavar="A B",
                                                      help="A transition from video A's last frame to video B's first."),
    storyboard: Optional[Path] = typer.Option(None, "--storyboard", metavar="FILE",
                                              help='YAML or JSON cards [{"prompt": ..., "seconds": ...}], one after another.'),
    long: bool = typer.Option(False, "--long", help="Any whole number of --seconds up to 120, by chained extension."),
    draws: Optional[int] = typer.Option(None, "--draws", help="With --extend or --blend: draw the new frames this many "
                                        "times and keep the smoothest (1 to 8; default 4; 1 is 4x faster)."),
) -> None:
    """Generate a video from a prompt (or an image, a video, two videos or a storyboard) and write it as H.264 MP4."""
    from .pipeline import load_defaults
    try:
        d = load_defaults(weights)
        job = check_generate(d, prompt, seconds, size, fps, steps, guidance, sampler, output, image, extend, backward,
                             loop, remix, strength, blend, storyboard, long, draws)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    from tqdm import tqdm
    from .pipeline import DEFAULT_STRENGTH, VideoPipeline
    pipe = VideoPipeline.from_pretrained(weights)
    bar = tqdm(desc=job["mode"] if job["mode"] != "text" else "denoising", unit="step", file=sys.stderr)

    def progress(i: int, n: int) -> None:  # one bar for the whole job, every window of it
        bar.total, bar.n = n, i
        bar.refresh()

    kw = dict(size=size, fps=fps, steps=steps, guidance=guidance, seed=seed, sampler=sampler, callback=progress)
    picks = {} if draws is None else {"draws": draws}
    mode = job["mode"]
    try:
        if mode in ("text", "image"):
            video = pipe(prompt, seconds=seconds, image=job.get("image"), **kw)
        elif mode == "extend":
            video = pipe.extend(job["video"], prompt, seconds=seconds, backward=backward, **picks, **kw)
        elif mode == "loop":
            video = pipe.loop(prompt, seconds=seconds, **kw)
        elif mode == "remix":
            video = pipe.remix(job["video"], prompt, strength=DEFAULT_STRENGTH if strength is None else strength, **kw)
        elif mode == "blend":
            video = pipe.blend(job["video_a"], job["video_b"], prompt, seconds=seconds, **picks, **kw)
        elif mode == "storyboard":
            video = pipe.storyboard(job["cards"], **kw)
        else:
            video = pipe.long(prompt, seconds=d.default_seconds if seconds is None else seconds, **kw)
    except ValueError as exc:  # the library's own checks, should any remain
        bar.close()
        fail(str(exc))
    bar.close()
    video.save(output)
    revised = pipe.revise_prompt(prompt) if prompt else prompt
    if revised != prompt:  # stderr: stdout stays just the path
        typer.echo(f"read as: {revised}", err=True)
    typer.echo(str(output))


@app.command()
def train(
    out: Path = typer.Option(Path("runs/base"), help="Run folder: checkpoints, logs, pool and exported weights."),
    seed: int = typer.Option(0),
    ae_steps: int = typer.Option(2600, help="Autoencoder steps."),
    ae_batch: int = typer.Option(16, help="Autoencoder clips per step."),
    ae_crop: int = typer.Option(32, help="Autoencoder crop side around the object (0 = whole frames)."),
    dit_steps: int = typer.Option(10000, help="Diffusion transformer steps."),
    dit_preset: str = typer.Option("S", help="XS (smoke), S (shipped) or B (GPU)."),
    probe_every: int = typer.Option(1000, help="Probe sampled clips every N steps (0 = never)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    session_steps: int = typer.Option(0, help="Stop after N steps this run (0 = no limit); run again to resume."),
    init_from: Optional[Path] = typer.Option(None, help="Continue from an exported weights folder (keeps its autoencoder)."),
    reader_steps: int = typer.Option(3000, help="Prompt reader steps (0 = none trained: a run from --init-from keeps its reader; a fresh one has none, and prompts go to the transformer as written)."),
    reader_only: bool = typer.Option(False, help="Train only the prompt reader, keeping --init-from's autoencoder and transformer."),
    smoke: bool = typer.Option(False, help="A tiny, fast run that only checks the loss falls."),
) -> None:
    """Train the built-in model from scratch (resumes from checkpoints in --out)."""
    from .models.dit import DIT_PRESETS
    if dit_preset not in DIT_PRESETS:
        fail(f"dit-preset must be one of {', '.join(DIT_PRESETS)}; got {dit_preset!r}")
    if ae_steps < 1 or dit_steps < 1 or reader_steps < 0:
        fail("ae-steps and dit-steps must be positive whole numbers, reader-steps zero or more")
    if reader_only and (init_from is None or reader_steps < 1):
        fail("reader-only needs --init-from (the weights whose autoencoder and transformer to keep) and reader-steps >= 1")
    from .train import Interrupted, TrainConfig, run
    common = dict(out=str(out), seed=seed, ae_steps=ae_steps, dit_steps=dit_steps, device=device,
                  session_steps=session_steps, ae_crop=ae_crop, init_from=str(init_from or ""),
                  reader_steps=reader_steps, reader_only=reader_only)
    if smoke:  # minutes on a laptop: checks the machinery and that the loss falls, not quality
        common["reader_steps"] = min(reader_steps, 120)
        cfg = TrainConfig(**common, dit_preset="XS", probe_every=0, ae_batch=min(ae_batch, 4), dit_batch=8,
                          dit_image_steps=0, ckpt_every=10, log_every=1, pool_scale=0.0,
                          reader_sentences=256, reader_batch=16)
    else:
        cfg = TrainConfig(**common, dit_preset=dit_preset, probe_every=probe_every, ae_batch=ae_batch)
    try:
        typer.echo(str(run(cfg)))
    except Interrupted as stopped:
        typer.echo(str(stopped))


@app.command("eval")
def evaluate(
    weights: Optional[Path] = typer.Option(None, help="A folder saved by `openreel train` (default: built-in)."),
    report: Path = typer.Option(Path("eval_report.json"), help="Where to write the JSON report."),
    limit: int = typer.Option(0, help="Use only the first N prompts of each set (0 = all)."),
    steps: Optional[int] = typer.Option(None),
    guidance: Optional[float] = typer.Option(None),
    sets: str = typer.Option("seen,held_out,paraphrase",
                             help="Comma-separated prompt sets: seen, held_out, paraphrase, and dev, dev2, dev3 (development "
                                  "sets, each in its own unseen wording, for tuning without touching the paraphrase set)."),
    reader: bool = typer.Option(True, help="--no-reader: the transformer reads every prompt as written, "
                                             "without the prompt reader's rewrite of unfamiliar wording."),
) -> None:
    """Generate the three fixed prompt sets and read them back with the probe."""
    from .eval.run import evaluate as run_eval
    try:
        result = run_eval(weights, limit=limit or None, steps=steps, guidance=guidance,
                          sets=tuple(x.strip() for x in sets.split(",") if x.strip()), reader=reader)
    except ValueError as exc:
        fail(str(exc))
    report.write_text(json.dumps(result, indent=2) + "\n")
    for name, s in result["sets"].items():
        per = "  ".join(f"{k} {v:.0%}" for k, v in s["attributes"].items())
        line = f"{name:12s} all-correct {s['all_correct']:.0%}  {per}  flicker {s['flicker']:.2f}"
        if s["revised"]:
            line += f"  (reader rewrote {s['revised']}, read all four right {s['read_all_correct']:.0%})"
        typer.echo(line)
    sp = result["speed"]
    typer.echo(f"speed: {sp['seconds_per_clip']:.2f} s per {sp['clip_seconds']} s clip (real-time factor "
               f"{sp['real_time_factor']:.2f}); cold start {sp['cold_start_seconds']:.1f} s")
    typer.echo(str(report))


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: Optional[int] = typer.Option(None, help="Worker processes (default OPENREEL_WORKERS, 1)."),
    data_dir: Optional[Path] = typer.Option(None, help="Media and SQLite folder (default OPENREEL_DATA_DIR, ./openreel-data)."),
    database_url: Optional[str] = typer.Option(None, help="SQLAlchemy URL, e.g. postgresql+psycopg://host/db (default: SQLite in data-dir)."),
) -> None:
    """Serve the Sora-compatible Videos API (/v1/videos) with durable jobs and model-holding workers."""
    from .api.server import serve as run_server
    settings = _settings(data_dir, database_url)
    if workers is not None and workers < 0:
        fail(f"workers must be 0 or more, got {workers}")
    typer.echo(f"OpenReel API on http://{host}:{port}/v1  (data: {settings.data_dir.resolve()}, "
               f"database: {settings.db_url().split('://')[0]})", err=True)
    run_server(settings, host=host, port=port, workers=workers)


@app.command()
def worker(
    data_dir: Optional[Path] = typer.Option(None, help="Same as the server's."),
    database_url: Optional[str] = typer.Option(None, help="Same as the server's."),
    name: Optional[str] = typer.Option(None, help="A name for logs and leases."),
) -> None:
    """Run one worker on its own (for more machines sharing a PostgreSQL database and a data folder)."""
    import logging
    from .service.worker import Worker
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    Worker(_settings(data_dir, database_url), name).run()


users_app = typer.Typer(no_args_is_help=True, help="Users of this instance (admin, reviewer, creator, viewer).")
keys_app = typer.Typer(no_args_is_help=True, help="API keys: create (shown once), list, revoke, reinstate.")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
DataDir = typer.Option(None, "--data-dir", help="Same as the server's (default OPENREEL_DATA_DIR).")
DbUrl = typer.Option(None, "--database-url", help="Same as the server's (default OPENREEL_DATABASE_URL).")


def _access(data_dir: Optional[Path], database_url: Optional[str]):
    from .service.access import Access
    from .service.store import Store
    settings = _settings(data_dir, database_url)
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


@app.command()
def verify(
    file: Path = typer.Argument(..., help="A video file (MP4) to check."),
    data_dir: Optional[Path] = DataDir, database_url: Optional[str] = DbUrl,
    as_json: bool = typer.Option(False, "--json", help="Print the whole report as JSON."),
) -> None:
    """Check a video's C2PA credentials (valid? trusted by this instance?) and trace its watermark."""
    if not file.is_file():
        fail(f"file: {file} does not exist or is not a file")
    from .service.provenance import Provenance, instance_id
    from .service.store import Store
    settings = _settings(data_dir, database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    prov = Provenance(settings, Store(settings.db_url()), instance_id(settings.data_dir), settings.model_name)
    try:
        report = prov.verify(file, show_owner=True)  # the CLI runs with the instance's own database access
    except ValueError as exc:
        fail(f"file: {exc}")
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    c2, wm = report["c2pa"], report["watermark"]
    if not c2["present"]:
        typer.echo("C2PA: no content credentials in this file" + (f" ({c2['errors'][0]})" if c2["errors"] else ""))
    else:
        typer.echo(f"C2PA: {'valid' if c2['valid'] else 'INVALID'}, "
                   f"{'trusted (signed by this instance)' if c2['trusted'] else 'not trusted by this instance'}")
        for line in c2["summary"]:
            typer.echo(f"  {line}")
        for err in c2["errors"]:
            typer.echo(f"  problem: {err}")
    if wm["found"]:
        where = f"video {wm['video_id']}" if wm["video_id"] else "a video this instance does not know"
        owner = f", owner {wm['owner']}" if wm.get("owner") else ""
        typer.echo(f"Watermark: found (payload {wm['payload']:012x}, confidence {wm['confidence']:.2f}): {where}{owner}")
    else:
        typer.echo("Watermark: none found")


moderation_app = typer.Typer(no_args_is_help=True, help="Prompt moderation: check a prompt, evaluate the policy.")
app.add_typer(moderation_app, name="moderation")


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


def _settings(data_dir: Optional[Path], database_url: Optional[str]):
    from pydantic import ValidationError
    from .service.settings import Settings
    overrides = {k: v for k, v in (("data_dir", data_dir), ("database_url", database_url)) if v is not None}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()))


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
