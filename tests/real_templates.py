"""Tokenizer folders around the real Qwen2.5, Qwen3 and Llama-3.1 chat templates (tests/data/
templates, see NOTICE.md there): a tiny byte-level BPE trained in the test run plus the special
tokens each template writes, saved the ways model folders are found in the wild. No downloads.

`transformers` is imported only by the functions that need it (it is a test extra)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

DATA = Path(__file__).parent / "data" / "templates"

# name -> (template file, special tokens the template writes, tokenizer_config extras)
TEMPLATES = {
    "qwen2.5": ("qwen2.5-instruct.jinja",
                ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    "qwen3": ("qwen3.jinja",
              ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
              {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    "llama3.1": ("llama-3.1-instruct.jinja",
                 ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                  "<|eot_id|>", "<|eom_id|>", "<|python_tag|>"],
                 {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "pad_token": "<|end_of_text|>"}),
}
# Qwen's tool and thinking markers are added tokens but not special ones (as in the real vocab).
QWEN_ADDED = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>"]

CORPUS = [
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    "What is the weather in Paris today? It is sunny and 21 degrees.",
    "Cutting Knowledge Date: December 2023 Today Date: 26 Jul 2024 Environment: ipython",
    "Given the following functions, please respond with a JSON for a function call",
    '{"type": "function", "function": {"name": "get_weather", "parameters": {"location": "string"}}}',
    "Привет, как дела? Данные и модель. 数据和模型。 café naïve 🙂",
    "def add(a, b): return a + b  # python code in a reply",
] * 10


def template_text(name: str) -> str:
    return (DATA / TEMPLATES[name][0]).read_text(encoding="utf-8")


def tokenizer_json(name: str, path: Path, vocab_size: int = 600) -> Path:
    """Train a small byte-level BPE with the template's special tokens; save it at `path`."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    specials = TEMPLATES[name][1]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    if name.startswith("qwen"):
        tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in QWEN_ADDED])
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


def model_folder(name: str, folder: Path, how: str = "config", template: str | None = None) -> Path:
    """A tokenizer folder for the template `name`, its template stored as `how`:
    "config" (the `chat_template` string of tokenizer_config.json, as older hub repos have it),
    "jinja" (chat_template.jinja, what `save_pretrained` writes today), "json" (a processor's
    legacy chat_template.json), "named" (a list of named templates in tokenizer_config.json)."""
    tokenizer_json(name, folder / "tokenizer.json")
    text = template if template is not None else template_text(name)
    cfg = {k: v for k, v in TEMPLATES[name][2].items() if v is not None}
    cfg.update({"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 131072})
    if how == "config":
        cfg["chat_template"] = text
    elif how == "named":
        cfg["chat_template"] = [{"name": "default", "template": text},
                                {"name": "tool_use", "template": text}]
    elif how == "jinja":
        (folder / "chat_template.jinja").write_text(text, encoding="utf-8")
    elif how == "json":
        (folder / "chat_template.json").write_text(json.dumps({"chat_template": text}), encoding="utf-8")
    else:
        raise ValueError(how)
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    return folder


def saved_by_transformers(name: str, folder: Path, work: Path) -> Path:
    """The folder as `save_pretrained` of current transformers writes it (the template in
    chat_template.jinja, none in tokenizer_config.json)."""
    from transformers import AutoTokenizer

    src = model_folder(name, work / f"{name}-src")
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(str(folder))
    shutil.rmtree(src)
    return folder


def hf_count(folder: Path, messages: list[dict], tools: list[dict] | None = None) -> int:
    """What a trainer sees: len(apply_chat_template(..., tokenize=True)) with transformers."""
    return len(hf_ids(folder, messages, tools))


_TOKENIZERS: dict[str, object] = {}


def hf_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    key = str(folder)
    if key not in _TOKENIZERS:
        tok = AutoTokenizer.from_pretrained(key)
        legacy = folder / "chat_template.json"
        if tok.chat_template is None and legacy.is_file():
            # AutoTokenizer does not read it; a processor (AutoProcessor) hands it to its tokenizer
            tok.chat_template = json.loads(legacy.read_text(encoding="utf-8"))["chat_template"]
        _TOKENIZERS[key] = tok
    return _TOKENIZERS[key]


def as_transformers_sees(messages: list[dict]) -> list[dict]:
    """The messages as current transformers renders them: it drops None-valued keys first
    (`_normalize_chat_messages`). Older releases render them as given (5.20.2, the newest for
    Python 3.10, does), so the reference is made the same on every Python (docs/platforms.md)."""
    return [{k: v for k, v in m.items() if v is not None} if isinstance(m, dict) else m for m in messages]


def hf_ids(folder: Path, messages: list[dict], tools: list[dict] | None = None) -> list[int]:
    tok = hf_tokenizer(folder)
    return list(tok.apply_chat_template(as_transformers_sees(messages), tools=tools, tokenize=True,
                                        return_dict=False))
