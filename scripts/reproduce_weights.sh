#!/usr/bin/env bash
# Reproduces src/openreel/weights/ from scratch on a CPU, exactly as the shipped run was made.
# Training is deterministic in (seed, step) and resumable, so these phases are one run:
#   1. the autoencoder's first 600 steps on whole 64x64 frames, batch 8, with a 1500-step schedule;
#   2. the autoencoder continued to 2600 steps on 32x32 crops around the object, batch 16
#      (4x cheaper per clip; the switch was made mid-run when whole frames proved slow to learn);
#   3. the diffusion transformer (the pool is encoded first, then image pre-training, then video);
#   4. and 5. two continuations of the transformer, the second with caption version 2;
#   6. the prompt reader, alone, on top of the step-5 weights;
#   7. a gentler continuation of the transformer (12,000 steps at peak lr 1e-4 on 70% of the
#      pool), with the prompt reader retrained in the same run (the reader depends only on its seed
#      and the text encoder, so it comes out as in step 6);
#   8. the prompt reader again, on sentence version 3;
#   9. a new autoencoder (the TrainConfig defaults: 32x32 crops from the start, which keeps the small
#      squares the step-1/2 one loses), and the step-8 transformer moved onto its latents.
# Steps 1-4 ran before caption version 2 existed: to reproduce them exactly, check out the commit
# before "Training captions v2" (876fb90^) for them, then this commit for steps 5 and 6.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/base}
OR=.venv/bin/openreel
$OR train --out "$OUT" --ae-steps 1500 --ae-batch 8 --ae-crop 0 --session-steps 600
$OR train --out "$OUT" --ae-steps 2600 --ae-batch 16 --ae-crop 32 --dit-steps "${DIT_STEPS:-12000}"
mkdir -p src/openreel/weights
cp "$OUT"/weights/{autoencoder.safetensors,transformer.safetensors,config.json,data_manifest.json} src/openreel/weights/
# 4. continue the transformer from those weights with a fresh, gentler schedule (the pool is the same:
#    copy it to skip re-encoding), then ship the continued weights.
mkdir -p "$OUT-cont" && cp "$OUT/pool.pt" "$OUT-cont/"
.venv/bin/python -m openreel.train --out "$OUT-cont" --init-from "$OUT/weights" --dit-steps 4500 \
    --dit-lr 0.0003 --dit-image-steps 0 --probe-every 1500
cp "$OUT-cont"/weights/{autoencoder.safetensors,transformer.safetensors,config.json,data_manifest.json} src/openreel/weights/
# 5. caption version 2 (more synonyms and sentence shapes, 4 captions per clip): the pool is
#    re-encoded (its captions changed), then 9,000 more transformer steps from the step-4 weights.
mkdir -p "$OUT-cont2"
.venv/bin/python -m openreel.train --out "$OUT-cont2" --init-from src/openreel/weights --dit-steps 9000 \
    --dit-lr 0.0003 --dit-image-steps 0 --probe-every 3000 --reader-steps 0
cp "$OUT-cont2"/weights/{transformer.safetensors,config.json,data_manifest.json} src/openreel/weights/
# 6. the prompt reader (about 2 minutes on one core): the autoencoder and transformer stay as they are.
.venv/bin/python -m openreel.train --out "$OUT-reader" --init-from src/openreel/weights --reader-only true
cp "$OUT-reader"/weights/{prompt_reader.safetensors,config.json,data_manifest.json} src/openreel/weights/
# 7. 12,000 more transformer steps at peak lr 1e-4 from the step-6 weights, on a pool of 70% the clips
#    (re-encoded: about 6 min on 2 cores), then the reader as in step 6, all in one run.
.venv/bin/python -m openreel.train --out "$OUT-cont3" --init-from src/openreel/weights --dit-steps 12000 \
    --dit-lr 0.0001 --dit-image-steps 0 --pool-scale 0.7
cp "$OUT-cont3"/weights/{transformer.safetensors,prompt_reader.safetensors,config.json,data_manifest.json} src/openreel/weights/
# 8. the prompt reader again, on sentence version 3 (more sentence shapes; 12,000 sentences, 3,000
#    steps: about 4 minutes on one core). The autoencoder and transformer stay as they are.
.venv/bin/python -m openreel.train --out "$OUT-reader3" --init-from src/openreel/weights --reader-only true
cp "$OUT-reader3"/weights/{prompt_reader.safetensors,config.json,data_manifest.json} src/openreel/weights/
# 9. (a) a new autoencoder: the autoencoder stage alone with every TrainConfig default, seed 0
#    (32x32 crops from the start; about 25 min on one core). Session 13 made the shipped one with
#    the same call from Python, train_autoencoder(TrainConfig(seed=0), ...). --dit-steps 0 exports
#    it with its latent shift and scale measured, before any transformer step.
.venv/bin/python -m openreel.train --out "$OUT-ae2" --dit-steps 0 --reader-steps 0  # (the CLI refuses 0 steps)
# (b) the step-8 weights with that autoencoder in place of theirs.
mkdir -p "$OUT-init9"
cp src/openreel/weights/*.safetensors src/openreel/weights/{config.json,data_manifest.json} "$OUT-init9/"
cp "$OUT-ae2/weights/autoencoder.safetensors" "$OUT-init9/"
.venv/bin/python -c 'import json, sys
cfg = json.load(open(sys.argv[1] + "/config.json"))
cfg["autoencoder"] = json.load(open(sys.argv[2] + "/weights/config.json"))["autoencoder"]
json.dump(cfg, open(sys.argv[1] + "/config.json", "w"), indent=2)' "$OUT-init9" "$OUT-ae2"
# (c) 10,000 transformer steps on the new latents at peak lr 3e-4, on 70% of the pool, as two DDP
#     processes of one thread each (the pool encoded in 9 min, the steps in 39 min, both cores).
#     The prompt reader depends on neither the autoencoder nor the transformer: with --reader-steps 0
#     the run keeps step 8's (the export carries init_from's reader and the settings that trained it).
OMP_NUM_THREADS=1 .venv/bin/torchrun --nproc-per-node 2 -m openreel.train --out "$OUT-transfer" \
    --init-from "$OUT-init9" --dit-steps 10000 --dit-lr 0.0003 --dit-image-steps 0 --pool-scale 0.7 --reader-steps 0
cp "$OUT-transfer"/weights/{autoencoder.safetensors,transformer.safetensors,config.json,data_manifest.json} src/openreel/weights/
