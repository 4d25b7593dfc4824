"""Stage 3 of training: the prompt reader (models/prompt_reader.py), a tagger over MiniLM's word states.

It depends only on its seed and the text encoder, not on the autoencoder or the transformer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .train_common import Log, lr_at, progress

if TYPE_CHECKING:
    from .train import TrainConfig


def train_reader(cfg: TrainConfig, encoder, show: bool = True):
    """Fit the tagger on a fixed set of tagged sentences (world/captions.tagged_sentence). Small
    enough to train in one go: a couple of minutes on one core, so no checkpoints."""
    from .models.prompt_reader import PromptReader, ReaderConfig, reader_loss, word_states
    from .world.captions import reader_vocabulary, tagged_sentence
    rng = np.random.default_rng([cfg.seed, 3])
    vocab = reader_vocabulary(encoder.tokenizer.get_vocab())
    sentences = [tagged_sentence(rng, vocab) for _ in range(cfg.reader_sentences)]
    states = []
    with progress(len(sentences), 0, "reader: encoding sentences", show) as bar:
        for i in range(0, len(sentences), 64):
            chunk = word_states(encoder, [words for words, _ in sentences[i:i + 64]])
            states += [chunk[k, :len(words)] for k, (words, _) in enumerate(sentences[i:i + 64])]
            bar.update(len(chunk))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out / "reader.log.jsonl", True)
    torch.manual_seed(cfg.seed)
    reader = PromptReader(ReaderConfig())
    opt = torch.optim.AdamW(reader.parameters(), lr=cfg.reader_lr, weight_decay=0.0)
    bar = progress(cfg.reader_steps, 0, "reader", show)
    for step in range(cfg.reader_steps):
        pick = rng.integers(len(sentences), size=cfg.reader_batch)
        length = max(len(sentences[i][0]) for i in pick)
        x = torch.zeros(len(pick), length, states[0].shape[-1])
        y = torch.full((len(pick), length), -100, dtype=torch.long)
        for k, i in enumerate(pick):
            x[k, :len(states[i])] = states[i]
            y[k, :len(states[i])] = torch.tensor(sentences[i][1])
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg.reader_steps, cfg.reader_lr)
        loss = reader_loss(reader, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.update(1)
        if step % cfg.log_every == 0:
            log(step=step, loss=loss.item())
            bar.set_postfix(loss=f"{loss.item():.4f}")
    bar.close()
    return reader.eval()
