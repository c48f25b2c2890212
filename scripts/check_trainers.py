#!/usr/bin/env python3
"""Do lima-tk's exports train as written? (issue 11; not in CI: it installs TRL and torch.)

    python3 scripts/check_trainers.py                 # makes ~/.cache/lima-tk-trainers/venv once
    python3 scripts/check_trainers.py --venv DIR      # another venv folder
    python3 scripts/check_trainers.py --inner         # run here (TRL, torch, datasets importable)

Exports a sample dataset (plain chats, a system prompt, a tool call, a reply marked "no train",
unicode, preference pairs with tools) in every format, then with each of the real Qwen2.5, Qwen3
and Llama-3.1 chat templates (tests/data/templates, around a tiny BPE trained here) runs 2 steps of
TRL's SFTTrainer on the openai file and on both configurations of the hf folder (with
assistant_only_loss), and 2 steps of DPOTrainer on the pref-trl file, on a tiny random model built
from a config (no downloads). Before training it checks that TRL tokenizes each row to exactly
lima-tk's rendered count. Prints a Markdown table (docs/trainers.md).

The venv gets `torch==2.13.0` (a CPU wheel; see docs/trainers.md) and trl, transformers, datasets,
accelerate, plus lima-tk's own dependencies.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["trl", "transformers", "datasets", "accelerate", "sqlite-utils", "openai", "tokenizers", "jinja2",
            "click"]


def outer(venv: Path, extra: list[str]) -> int:
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"making {venv} (torch CPU + TRL; a few minutes)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "torch==2.13.0"], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    return subprocess.run([str(py), __file__, "--inner", *extra]).returncode


# -- the sample dataset ------------------------------------------------------------------------


def sample(store) -> None:
    from lima_tk.model import Message, Tool

    weather = Tool("get_weather", "The weather at a place, now.", {
        "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]})
    for i in range(6):
        store.create_chat(f"plain {i}", "en", ["sample"], messages=[
            Message("user", f"What is {i} + {i}?"), Message("assistant", f"It is {2 * i}.")])
    store.create_chat("system", "en", [], messages=[
        Message("system", "You are terse."), Message("user", "Hi!"), Message("assistant", "Hello.")])
    store.create_chat("no train", "en", [], messages=[
        Message("user", "2 + 2?"), Message("assistant", "5", weight=0), Message("user", "Again."),
        Message("assistant", "4")])
    store.create_chat("unicode", "ru", [], messages=[
        Message("user", "Привет! 数据 café 🙂"), Message("assistant", "Привет, всё хорошо ✅")])
    for i in range(2):
        call = {"id": f"call_{i}", "type": "function",
                "function": {"name": "get_weather", "arguments": f'{{"location": "City {i}"}}'}}
        store.create_chat(f"tool {i}", "en", ["tools"], messages=[
            Message("user", f"Weather in City {i}?"), Message("assistant", "", tool_calls=[call]),
            Message("tool", '{"temp": 21}', tool_call_id=f"call_{i}"), Message("assistant", "21 degrees.")],
            tools=[weather])
    # preference pairs: a reply with a rejected version, one of them after a tool call
    for cid in store.chat_ids():
        chat = store.get_chat(cid)
        last = chat.messages[-1]
        if last.role == "assistant" and last.id is not None:
            store.add_alternative(last.id, "I do not know.")
            store.show_alternative(last.id, 0)
            store.set_alternative_rejected(last.id, 1, True)


# -- one run -----------------------------------------------------------------------------------


def tiny_model(template: str, vocab: int):
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    torch.manual_seed(0)
    kw = dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=2048)
    cfg = LlamaConfig(**kw) if template.startswith("llama") else Qwen2Config(**kw)
    return AutoModelForCausalLM.from_config(cfg)


def check_counts(tok, ds, counts: dict[str, int], order: list[str]) -> str:
    """TRL-side tokens of each row (apply_chat_template, as SFTTrainer calls it) vs lima-tk's
    rendered count of the chat (rows without a name are in list order: the openai file)."""
    same = differ = 0
    for i, row in enumerate(ds):
        ids = tok.apply_chat_template(row["messages"], tools=row.get("tools"), tokenize=True, return_dict=False)
        name = row.get("name") or order[i]
        if len(ids) == counts[name]:
            same += 1
        else:
            differ += 1
    return f"{same} of {same + differ} equal" + (f" ({differ} differ)" if differ else "")


def run_one(template: str, work: Path) -> list[tuple[str, str, str, str, str]]:
    import datasets
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    from lima_tk import tokens
    from lima_tk.formats import EXPORT_FORMATS, export_file
    from lima_tk.store import DatasetStore
    from tests.real_templates import model_folder

    folder = model_folder(template, work / "tokenizer", "jinja")
    db = work / "sample.lima.db"
    rows: list[tuple[str, str, str, str, str]] = []
    with DatasetStore(db) as store:
        sample(store)
        store.set_setting("tokenizer", str(folder))
        tokens.ensure_counted(store)
        counts = {store.get_chat(i).name: t.total for i, t in store.chat_token_totals(store.chat_ids()).items()}
        order = [store.get_chat(i).name for i in store.chat_ids()]
        for fmt in EXPORT_FORMATS:
            out = work / ("hf" if fmt == "hf" else f"{fmt}.jsonl")
            export_file(store, out, fmt)
    def fresh_tokenizer():
        t = AutoTokenizer.from_pretrained(str(folder))
        t.pad_token = t.pad_token or t.eos_token
        return t

    tok = fresh_tokenizer()

    def train(label: str, make) -> None:
        t = time.perf_counter()
        try:
            note = make()
            rows.append((template, label, "ok", f"{time.perf_counter() - t:.1f} s", note))
        except Exception as e:  # noqa: BLE001 - the table says what failed
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
            rows.append((template, label, "FAILED", f"{time.perf_counter() - t:.1f} s", f"{type(e).__name__}: {first}"))
            if os.environ.get("LIMA_TK_DEBUG"):
                traceback.print_exc()

    trl_name = {"qwen2.5": "qwen2_5", "qwen3": "qwen3", "llama3.1": "llama3_1"}[template]

    def sft(ds, name: str) -> str:
        nonlocal tok
        tok = fresh_tokenizer()
        same = check_counts(tok, ds, counts, order)
        note = ""
        only_assistant = True
        from trl import chat_template_utils as ctu

        if ctu.get_training_chat_template.__module__ and not ctu.has_generation_markers(tok.chat_template):
            try:
                ctu.get_training_chat_template(tok)
            except ValueError:
                # TRL knows this model's template only byte for byte (its copy ends with a newline,
                # the one the model ships does not): hand it TRL's own training template.
                training = getattr(ctu, f"{trl_name}_training_chat_template", None)
                if training is not None:
                    tok.chat_template = training
                    note = f"; TRL's {trl_name}_training template (TRL did not recognise the shipped one)"
                else:
                    only_assistant = False
                    note = (f"; TRL {__import__('trl').__version__} has no training template for {template}: "
                            "assistant_only_loss impossible, trained on the whole sequence")
        args = SFTConfig(output_dir=str(work / f"out-{name}"), max_steps=2, per_device_train_batch_size=2,
                         assistant_only_loss=only_assistant, report_to=[], logging_steps=1, save_strategy="no",
                         use_cpu=True, dataset_num_proc=None, max_length=2048)
        trainer = SFTTrainer(model=tiny_model(template, len(tok)), args=args, train_dataset=ds, processing_class=tok)
        out = trainer.train()
        flag = "" if only_assistant else " (assistant_only_loss off)"
        return f"loss {out.training_loss:.2f}{flag}; tokens per row vs lima-tk: {same}{note}"

    cache = str(work / "cache")
    openai_ds = datasets.load_dataset("json", data_files=str(work / "openai.jsonl"), cache_dir=cache)["train"]
    train("SFT openai.jsonl (assistant_only_loss)", lambda: sft(openai_ds, "openai"))
    hf_plain = datasets.load_dataset(str(work / "hf"), "default", cache_dir=cache)["train"]
    train("SFT hf default (assistant_only_loss)", lambda: sft(hf_plain, "hf"))
    hf_tools = datasets.load_dataset(str(work / "hf"), "tools", cache_dir=cache)["train"]
    train("SFT hf tools (assistant_only_loss)", lambda: sft(hf_tools, "hf-tools"))

    def dpo() -> str:
        nonlocal tok
        tok = fresh_tokenizer()
        ds = datasets.load_dataset("json", data_files=str(work / "pref-trl.jsonl"), cache_dir=cache)["train"]
        args = DPOConfig(output_dir=str(work / "out-dpo"), max_steps=2, per_device_train_batch_size=2,
                         report_to=[], logging_steps=1, save_strategy="no", use_cpu=True, max_length=2048)
        model = tiny_model(template, len(tok))
        trainer = DPOTrainer(model=model, ref_model=tiny_model(template, len(tok)), args=args, train_dataset=ds,
                             processing_class=tok)
        out = trainer.train()
        with_tools = sum(1 for r in ds if r.get("tools"))
        return f"loss {out.training_loss:.2f}; {ds.num_rows} pairs, {with_tools} with tools"

    train("DPO pref-trl.jsonl", dpo)
    return rows


def inner(templates: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import torch
    import transformers
    import trl

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    rows = []
    for template in templates:
        with tempfile.TemporaryDirectory(prefix=f"lima-trainers-{template}-") as d:
            rows += run_one(template, Path(d))
    print(f"trl {trl.__version__}, transformers {transformers.__version__}, datasets {datasets.__version__}, "
          f"torch {torch.__version__}, Python {sys.version.split()[0]}\n")
    print("| template | run | result | time | notes |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(x.replace("|", "/") for x in r) + " |")
    return 0 if all(r[2] == "ok" for r in rows) else 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, default=Path.home() / ".cache" / "lima-tk-trainers" / "venv")
    ap.add_argument("--inner", action="store_true", help="run in this interpreter")
    ap.add_argument("--templates", default="qwen2.5,qwen3,llama3.1")
    args = ap.parse_args()
    if args.inner:
        sys.exit(inner(args.templates.split(",")))
    sys.exit(outer(args.venv, ["--templates", args.templates]))


if __name__ == "__main__":
    main()
