"""The service and workers over the model catalog, in-process: claims by model, what a waiting job says,
licences, the job spec, and what the built-in model cannot draw."""

from __future__ import annotations

import pytest

from openreel import requests as R
from openreel.backends.builtin import WEIGHTS_DIR
from openreel.service.settings import Settings
from openreel.service.store import Store
from openreel.service.videos import ServiceError, VideoService


def service_with(tmp_path, **settings) -> VideoService:
    service = VideoService(Settings(data_dir=tmp_path, moderation=False, **settings))
    # A second catalog name for the shipped weights: a model with its own queue, and no diffusers needed.
    service.models.catalog.add("second", WEIGHTS_DIR, family="builtin", license="cc-by-nc-4.0")
    return service


def test_a_job_is_claimed_only_by_a_worker_that_serves_its_model(tmp_path):
    service = service_with(tmp_path)
    second = service.create({"prompt": "a red ball moving right", "model": "second", "size": "64x64", "seconds": "1"})
    builtin = service.create({"prompt": "a red ball moving left", "size": "64x64", "seconds": "1"})
    store = Store(service.settings.db_url())
    assert store.get(second["id"]).backend == "second" and store.get(builtin["id"]).backend == "openreel-1"
    first = store.claim("w-builtin", 10, models=["openreel-1"])
    assert first.id == builtin["id"]
    assert store.claim("w-builtin", 10, models=["openreel-1"]) is None  # the other job is not its model's
    assert store.claim("w-second", 10, models=["second"]).id == second["id"]


def test_a_queued_job_says_when_no_running_worker_serves_its_model(tmp_path):
    service = service_with(tmp_path)
    store = Store(service.settings.db_url())
    store.worker_seen("w1", ["openreel-1"])
    job = service.create({"prompt": "a red ball moving right", "model": "second", "size": "64x64", "seconds": "1"})
    assert "no running worker serves model second" in job["waiting_for"]
    assert "waiting_for" not in service.create({"prompt": "a red ball", "size": "64x64", "seconds": "1"})
    store.worker_seen("w2", ["second"])
    assert "waiting_for" not in service.retrieve(job["id"])
    store.worker_gone("w2")
    assert "waiting_for" in service.retrieve(job["id"])
    store.worker_seen("w3", [])  # a worker that serves every model
    assert "waiting_for" not in service.retrieve(job["id"])
    assert store.served_models(10, now=10**10) == set()  # none seen within 10 s of a far future: none serves


def test_the_job_spec_is_the_checked_request(tmp_path):
    service = service_with(tmp_path)
    made = service.create({"prompt": "a red ball moving right", "size": "1280x720", "seconds": "8", "seed": "7",
                           "steps": "3"})
    job = Store(service.settings.db_url()).get(made["id"])
    request = R.from_spec(job.params["spec"])
    assert request == R.Long("a red ball moving right", R.SamplingOptions(size="112x64", seconds=8, seed=7, steps=3))
    with pytest.raises(ServiceError) as e:
        service.create({"prompt": "a red ball", "size": "64x64", "seconds": "1", "steps": "0"})
    assert e.value.status == 400 and e.value.param == "steps" and "from 1 to 200" in e.value.message


def test_a_non_commercial_model_is_refused_on_a_commercial_instance(tmp_path):
    service_with(tmp_path)  # registers "second", licensed cc-by-nc-4.0
    commercial = VideoService(Settings(data_dir=tmp_path, moderation=False, commercial_use=True))
    with pytest.raises(ServiceError) as e:
        commercial.create({"prompt": "a red ball", "model": "second", "size": "64x64", "seconds": "1"})
    assert e.value.status == 400 and e.value.param == "model" and "non-commercial licence (cc-by-nc-4.0)" in e.value.message
    listed = {m["id"]: m for m in commercial.list_models()["data"]}
    assert listed["second"]["license"] == "cc-by-nc-4.0" and "commercial use" in listed["second"]["refused"]
    assert listed["openreel-1"]["refused"] is None and listed["openreel-1"]["family"] == "builtin"


def test_the_api_names_the_words_the_built_in_model_cannot_draw(tmp_path):
    service = service_with(tmp_path)
    made = service.create({"prompt": "a dog running on the beach at sunset", "size": "64x64", "seconds": "1"})
    assert made["revised_prompt"] == "a blue circle moving down on a navy background"
    [warning] = made["warnings"]
    assert '"dog"' in warning and '"beach"' in warning and '"sunset"' in warning and made["revised_prompt"] in warning
    plain = service.create({"prompt": "a red circle moving right on a navy background", "size": "64x64", "seconds": "1"})
    assert "warnings" not in plain and "revised_prompt" not in plain
    strict = VideoService(Settings(data_dir=tmp_path, moderation=False, refuse_unplaced_prompts=True))
    with pytest.raises(ServiceError) as e:
        strict.create({"prompt": "a dog running on the beach at sunset", "size": "64x64", "seconds": "1"})
    assert e.value.status == 400 and e.value.param == "prompt" and e.value.code == "prompt_not_drawable"
    assert strict.create({"prompt": "a red circle moving right on a navy background", "size": "64x64",
                          "seconds": "1"})["status"] == "queued"
