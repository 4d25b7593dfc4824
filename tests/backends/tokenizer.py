"""A tokenizer built here, not fetched: WordLevel over a small vocabulary, wrapped for transformers.

Every family's tiny test components use it in place of T5's, LLaMA's or Qwen's tokenizer; the text
encoders are random anyway, so only the interface matters (ids, attention mask, padding).
"""

from __future__ import annotations

WORDS = ("a red green blue white black navy gray purple orange yellow ball circle square triangle "
         "moving left right up down growing shrinking on background cat dog beach the of in").split()


def word_tokenizer(max_length: int = 16):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=max_length)
