"""The `openreel` command: a thin shell over the library.

`generate` builds one typed request (openreel.requests) from its flags, checks it against the
model's capabilities and reads its input files before loading anything, then runs it through the
same runner as the server's workers. Every refusal is one line `error: ...` naming the field,
with exit status 2, and nothing written. The commands that manage an instance are in cli_manage.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from .cli_manage import DataDir, DbUrl, catalog_from, fail, register, settings_from

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="OpenReel: open text-to-video that trains and runs on a CPU.")
register(app)

MODE_FLAGS = ("--image", "--extend", "--loop", "--remix", "--blend", "--storyboard", "--long")


def load_cards(path: Path):
    """Storyboard cards from a YAML or JSON file (JSON is YAML): a list, or {"cards": [...]}."""
    import yaml
    if not path.is_file():
        raise ValueError(f"storyboard {str(path)!r} is not a file; give a YAML or JSON file of cards")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"storyboard {str(path)!r} is not valid YAML or JSON ({str(exc).splitlines()[0]})") from None
    return data


def build_request(prompt, options, image, extend, backward, loop, remix, strength, blend, storyboard, long, draws):
    """The flags -> one typed request (openreel.requests); its check() is the only input rule set."""
    from . import requests as R
    chosen = [flag for flag, on in zip(MODE_FLAGS, (image, extend, loop, remix, blend, storyboard, long)) if on]
    if len(chosen) > 1:
        raise R.RequestError("mode", f"mode: choose one of {', '.join(MODE_FLAGS)}; got {' and '.join(chosen)}")
    mode = chosen[0].lstrip("-") if chosen else "text"
    if backward and mode != "extend":
        raise R.RequestError("backward", "backward goes with --extend VIDEO")
    if strength is not None and mode != "remix":
        raise R.RequestError("strength", "strength goes with --remix VIDEO")
    if draws is not None and mode not in ("extend", "blend"):
        raise R.RequestError("draws", "draws goes with --extend VIDEO or --blend A B")
    if mode == "storyboard":
        if prompt is not None:
            raise R.RequestError("prompt", "prompt: --storyboard takes its prompts from the cards; leave the prompt out")
        try:
            cards = R.Storyboard.cards_from(load_cards(storyboard))
        except ValueError as exc:
            msg = str(exc) if str(exc).startswith("storyboard") else f"storyboard {storyboard}: {exc}"
            raise R.RequestError("storyboard", msg) from None
        return R.Storyboard(cards, options)
    if mode == "image":
        return R.ImageToVideo(prompt, str(image), options)
    if mode == "extend":
        return R.Extend(str(extend), prompt, backward, draws, options)
    if mode == "loop":
        return R.Loop(prompt, options)
    if mode == "remix":
        return R.Remix(str(remix), prompt, strength, options)
    if mode == "blend":
        return R.Blend(str(blend[0]), str(blend[1]), prompt, draws, options)
    if mode == "long":
        return R.Long(prompt, options)
    return R.TextToVideo(prompt, options)

@app.command()
def generate(
    prompt: Optional[str] = typer.Argument(None, help="What happens in the video (not with --storyboard)."),
    output: Path = typer.Option(Path("out.mp4"), "-o", "--output", help="Where to write the MP4."),
    model: Optional[str] = typer.Option(None, "--model", help="A model from `openreel models list` (default: the "
                                        "built-in one)."),
    seconds: Optional[int] = typer.Option(None, help="Duration in seconds (default: the model's). With --extend, "
                                          "the seconds added; with --long, up to the model's longest (120 built in)."),
    size: Optional[str] = typer.Option(None, help="WIDTHxHEIGHT, one of the model's sizes (default: its first, "
                                       "or the input video's own)."),
    fps: Optional[int] = typer.Option(None, help="Frames per second (default: the model's)."),
    steps: Optional[int] = typer.Option(None, help="Denoising steps (default: the model's)."),
    guidance: Optional[float] = typer.Option(None, help="Classifier-free guidance scale (default: the model's)."),
    seed: int = typer.Option(0, help="Same seed, same frames."),
    sampler: Optional[str] = typer.Option(None, help="The built-in model's solver: euler, heun or midpoint."),
    negative_prompt: Optional[str] = typer.Option(None, "--negative-prompt", help="What to steer away from, where "
                                                  "the model takes it."),
    weights: Optional[Path] = typer.Option(None, help="A folder saved by `openreel train`, for the built-in model."),
    image: Optional[Path] = typer.Option(None, "--image", metavar="IMAGE",
                                         help="Animate an image: it is frame 0, scaled to cover the size and centre-cropped."),
    extend: Optional[Path] = typer.Option(None, "--extend", metavar="VIDEO",
                                          help="Add --seconds after VIDEO (before, with --backward); writes the whole video."),
    backward: bool = typer.Option(False, "--backward", help="With --extend: add the new seconds before the video."),
    loop: bool = typer.Option(False, "--loop", help="A clip whose last frame flows into its first (a boomerang)."),
    remix: Optional[Path] = typer.Option(None, "--remix", metavar="VIDEO",
                                         help="Redo VIDEO under the prompt (SDEdit), as long as VIDEO."),
    strength: Optional[float] = typer.Option(None, "--strength", help="With --remix: how much may change, in (0, 1] "
                                             "(default: the model's; 0.9 built in)."),
    blend: Optional[tuple[Path, Path]] = typer.Option(None, "--blend", metavar="A B",
                                                      help="A transition from video A's last frame to video B's first."),
    storyboard: Optional[Path] = typer.Option(None, "--storyboard", metavar="FILE",
                                              help='YAML or JSON cards [{"prompt": ..., "seconds": ...}], one after another.'),
    long: bool = typer.Option(False, "--long", help="Any whole number of --seconds up to the model's longest."),
    draws: Optional[int] = typer.Option(None, "--draws", help="With --extend or --blend: draw the new frames this many "
                                        "times and keep the smoothest (built-in model: 1 to 8; default 4)."),
    data_dir: Optional[Path] = DataDir,
) -> None:
    """Generate a video from a prompt (or an image, a video, two videos or a storyboard) and write it as H.264 MP4."""
    from .media.frames import check_output_path
    from .requests import SamplingOptions
    from .runner import load_media, run
    catalog = catalog_from(data_dir, weights)
    name = model or catalog.builtin_name
    try:
        caps = catalog.capabilities(name)
        options = SamplingOptions(size=size, seconds=seconds, fps=fps, steps=steps, guidance=guidance, seed=seed,
                                  sampler=sampler, negative_prompt=negative_prompt or "")
        request = build_request(prompt, options, image, extend, backward, loop, remix, strength, blend, storyboard,
                                long, draws)
        request.check(caps)
        request = load_media(request, caps)
        check_output_path(output)
        refused = catalog.refusal(name)
        if refused:
            raise ValueError(refused)
    except KeyError as exc:
        fail(str(exc).strip(chr(34) + chr(39)))
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    backend = catalog.load(name)
    reading = backend.read_prompt(request.prompt) if hasattr(backend, "read_prompt") and prompt else None
    if reading is not None and reading.unplaced and settings_from(data_dir).refuse_unplaced_prompts:
        fail(f"prompt: {reading.message} (OPENREEL_REFUSE_UNPLACED_PROMPTS is set)")
    from tqdm import tqdm
    bar = tqdm(desc=request.mode if request.mode != "text" else "denoising", unit="step", file=sys.stderr)

    def progress(i: int, n: int) -> None:  # one bar for the whole job, every window of it
        bar.total, bar.n = n, i
        bar.refresh()

    try:
        video = run(backend, request, progress)
    except ValueError as exc:  # a refusal only the model could see
        bar.close()
        fail(str(exc))
    bar.close()
    video.save(output)
    revised = video.params.get("revised_prompt")
    if revised and revised != prompt:  # stderr: stdout stays just the path
        typer.echo(f"read as: {revised}", err=True)
    if reading is not None and reading.unplaced:
        typer.echo(f"warning: {reading.message}", err=True)
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
    settings = settings_from(data_dir, database_url)
    if workers is not None and workers < 0:
        fail(f"workers must be 0 or more, got {workers}")
    typer.echo(f"OpenReel API on http://{host}:{port}/v1  (data: {settings.data_dir.resolve()}, "
               f"database: {settings.db_url().split('://')[0]})", err=True)
    run_server(settings, host=host, port=port, workers=workers)


@app.command()
def worker(
    model: Optional[list[str]] = typer.Option(None, "--model", help="Serve only this model (repeatable; default: every "
                                              "model in the catalog). Jobs for other models are left to other workers."),
    data_dir: Optional[Path] = typer.Option(None, help="Same as the server's."),
    database_url: Optional[str] = typer.Option(None, help="Same as the server's."),
    name: Optional[str] = typer.Option(None, help="A name for logs and leases."),
) -> None:
    """Run one worker on its own (for more machines sharing a PostgreSQL database and a data folder)."""
    import logging
    from .service.worker import Worker
    settings = settings_from(data_dir, database_url)
    catalog = catalog_from(data_dir)
    for m in model or []:
        if m not in catalog.entries():
            fail(f"model {m!r} is not in the catalog; models: {', '.join(catalog.names())}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    Worker(settings, name, models=list(model or [])).run()


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
    settings = settings_from(data_dir, database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    prov = Provenance(settings, Store(settings.db_url()), instance_id(settings.data_dir))
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


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
