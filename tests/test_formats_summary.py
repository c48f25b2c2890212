"""What an import or an export says it did (issue 17): the CLI's lines, the status line, the
report window's heading and text, word for word, for every case they distinguish."""

from __future__ import annotations

from lima_tk.formats import summary
from lima_tk.formats.base import ExportReport, ImportReport


def _imp(**kw) -> ImportReport:
    return ImportReport(path="in.jsonl", format="openai", **kw)


def _exp(**kw) -> ExportReport:
    return ExportReport(path="out.jsonl", format="openai", **kw)


def test_plural() -> None:
    assert [summary.plural(n, "chat") for n in (0, 1, 2, 1200)] == ["0 chats", "1 chat", "2 chats", "1,200 chats"]


def test_import_lines_and_status() -> None:
    plain = _imp(chats=1, messages=2)
    assert summary.import_cli_lines(plain) == (["in.jsonl: imported 1 chats, 2 messages (openai)"], [])
    assert summary.import_status(plain, "in.jsonl") == "Imported 1 chat (2 messages) from in.jsonl - Ctrl+Z to undo"
    assert summary.import_heading(plain, "in.jsonl", "OpenAI JSONL") == \
        "in.jsonl (OpenAI JSONL): imported 1 chat (2 messages)."
    busy = _imp(chats=1200, messages=5000, skipped=4, skipped_reasons={"duplicate of a chat in the dataset": 3,
                                                                         "no messages": 1},
                warnings=["line 3: odd", "line 9: odd"], settings_changed=["languages", "tags"])
    out, err = summary.import_cli_lines(busy)
    assert out == ["in.jsonl: imported 1200 chats, 5000 messages (openai), 4 skipped "
                   "(3 duplicate of a chat in the dataset, 1 no messages)", "  settings updated: languages, tags"]
    assert err == ["  warning: line 3: odd", "  warning: line 9: odd"]
    assert summary.import_status(busy, "x.json") == (
        "Imported 1,200 chats (5,000 messages) from x.json, skipped 4 (3 duplicates); settings: languages, tags"
        " - 2 warnings - Ctrl+Z to undo")
    nothing = _imp(skipped=2, skipped_reasons={"no messages": 2})
    assert summary.import_status(nothing, "x.json") == "Imported 0 chats (0 messages) from x.json, skipped 2"


def test_export_lines_and_status() -> None:
    plain = _exp(chats=2, messages=5, rows=2)
    assert summary.export_cli_lines(plain) == (["out.jsonl: wrote 2 chats, 5 messages (openai)"], [])
    assert summary.export_status(plain, "out.jsonl", preference=False) == "Exported 2 chats (5 messages) to out.jsonl"
    assert summary.export_heading(plain, "out.jsonl", preference=False) == \
        "out.jsonl: exported 2 chats (5 messages)."
    folder = _exp(chats=1, messages=1200, rows=1, files=["README.md", "data/train.jsonl"], skipped=1300,
                  skipped_reasons={"has linter errors": 1300}, warnings=["w"], lossy=["weights", "notes"])
    out, err = summary.export_cli_lines(folder)
    assert out == ["out.jsonl: wrote 1 chats, 1200 messages (openai), 1300 skipped (1300 has linter errors)",
                   "  files: README.md, data/train.jsonl"]
    assert err == ["  warning: w", "  not in this format: weights; notes"]
    assert summary.export_where(folder, "ds") == "folder ds" and summary.export_where(plain, "ds") == "ds"
    assert summary.export_status(folder, "ds", preference=False, uploaded="me/ds") == (
        "Exported 1 chat (1,200 messages) to folder ds (README.md, data/train.jsonl); skipped 1,300 "
        "(1,300 has linter errors) - 1 warning; uploaded to me/ds")
    pairs = _exp(chats=3, messages=9, rows=1)
    assert summary.export_cli_lines(pairs)[0] == ["out.jsonl: wrote 3 chats, 9 messages in 1 rows (openai)"]
    assert summary.export_status(pairs, "p.jsonl", preference=True) == \
        "Exported 1 preference pair from 3 chats to p.jsonl"
    assert summary.export_heading(pairs, "p.jsonl", preference=True) == "p.jsonl: 1 preference pair from 3 chats."
    one = _exp(chats=1, messages=2, rows=2)
    assert summary.export_heading(one, "p.jsonl", preference=True) == "p.jsonl: 2 preference pairs from 1 chat."
    assert summary.export_status(_exp(skipped=2), "o", preference=False) == \
        "Exported 0 chats (0 messages) to o; skipped 2"


def test_report_window_text() -> None:
    assert summary.report_lines(_imp(chats=3), imported=True) == []
    imp = _imp(skipped=5, skipped_reasons={"no messages": 1, "duplicate of a chat in the dataset": 3},
               warnings=["line 2: x"])
    assert summary.report_lines(imp, imported=True) == [
        "Skipped 5 chats:",
        "    • 3 × duplicate of a chat in the dataset",
        "    • 1 × no messages",
        "    • 1 × other reasons (see the warnings)",
        "    Duplicates are chats whose messages equal a chat's already in the dataset (or earlier in the file). "
        "To import them anyway: File > Import with options… > Import duplicates too.",
        "",
        "1 warning:",
        "    line 2: x"]
    exp = _exp(skipped=1, skipped_reasons={"has linter errors": 1}, lossy=["weights"])
    assert summary.report_lines(exp, imported=False) == [
        "Skipped 1 chat:", "    • 1 × has linter errors", "    View > Problems (F8) lists the problems of those chats.",
        "", "Not in this format:", "    • weights"]
    rej = _exp(skipped=2, skipped_reasons={"all replies rejected": 2})
    assert summary.report_lines(rej, imported=False)[-1] == (
        "    Mark a reply version as rejected in the chat editor: click its “2/3” and tick “Version N rejected”.")
    assert summary.report_lines(_exp(lossy=["weights"]), imported=False) == []  # only beside other lines
    assert summary.report_lines(_exp(warnings=["a", "b"]), imported=False) == ["2 warnings:", "    a", "    b"]


def test_the_way_out_for_replies_marked_no_train() -> None:
    from lima_tk.formats.weights import way_out

    assert way_out("hf") == ("-O weight0=drop (leave such chats out), -O weight0=cut (end the chat before it) or "
                             "--training-flag")
    assert way_out("sharegpt") == ("-O weight0=drop (leave such chats out), -O weight0=cut (end the chat before it) "
                                   "or the hf format with --training-flag, or openai")
