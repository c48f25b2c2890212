"""Real `tokenizers` objects built in the test run (no downloads): a tiny byte-level BPE, a
word-level tokenizer whose counts are easy to predict, and model folders with a chat template."""

from __future__ import annotations

import json
from pathlib import Path

SENTENCES = [
    "hello world, the model answers the question",
    "you are a helpful assistant that explains python functions",
    "привет мир, данные и модель",
    "数据 模型 café naïve",
] * 20

SPECIALS = ["<|im_start|>", "<|im_end|>", "<s>", "</s>"]

# The ChatML template most instruct models ship (tools left out: rendered by the real ones).
CHATML_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def bpe_tokenizer_json(path: Path, vocab_size: int = 400) -> Path:
    """Train a byte-level BPE on a few sentences and save it as tokenizer.json at `path`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(SENTENCES, trainer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


def word_tokenizer_json(path: Path) -> Path:
    """One token per whitespace-separated word (unknown words are [UNK], still one token),
    and the ChatML markers as single special tokens: counts are easy to predict exactly."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = "one two three four five six seven eight nine ten hello world user assistant system".split()
    vocab = {w: i for i, w in enumerate(["[UNK]", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(["<|im_start|>", "<|im_end|>"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


def model_folder(folder: Path, make=bpe_tokenizer_json, template: str | None = CHATML_TEMPLATE) -> Path:
    """A local model folder: tokenizer.json + tokenizer_config.json carrying a chat template."""
    make(folder / "tokenizer.json")
    cfg: dict = {"bos_token": "", "eos_token": {"content": "<|im_end|>"}}
    if template is not None:
        cfg["chat_template"] = template
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    return folder
