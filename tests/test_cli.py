"""The `lima-tk` command line, run as a user would (subprocess for exit codes and stderr)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lima_tk.cli import cli
from lima_tk.model import Message, Tool
from lima_tk.store import DatasetStore

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lima_tk", *args], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=60,
    )


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


GOOD = [
    {"messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi\tthere"},
                  {"role": "assistant", "content": "Hello!", "weight": 1}]},
    {"messages": [{"role": "user", "content": "Weather?"},
                  {"role": "assistant", "content": None, "tool_calls": [
                      {"id": "c1", "type": "function",
                       "function": {"name": "weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
                  {"role": "tool", "content": "-3C", "tool_call_id": "c1"},
                  {"role": "assistant", "content": "Cold: -3C."}],
     "tools": [{"type": "function", "function": {"name": "weather", "description": "now",
                                                  "parameters": {"type": "object", "properties": {}}}}]},
]


def test_import_export_round_trip_and_stats(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", GOOD)
    db = tmp_path / "d.lima.db"
    r = run("--db", str(db), "import", str(src), "--tag", "seed")
    assert r.returncode == 0, r.stderr
    assert "imported 2 chats" in r.stdout
    out = tmp_path / "data.jsonl"
    r = run("export", str(out), "--db", str(db))
    assert r.returncode == 0, r.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == GOOD
    r = run("stats", "--json", "--db", str(db))
    s = json.loads(r.stdout)
    assert s["chats"] == 2 and s["messages"] == 7
    assert s["messages_by_role"] == {"assistant": 3, "system": 1, "tool": 1, "user": 2}
    assert s["chats_per_tag"] == {"seed": 2}
    assert s["trainable_assistant_messages"] == 3 and s["chats_with_tools"] == 1
    r = run("list", "--db", str(db), "--search", "weather")
    assert "1 of 1 chats" in r.stdout


def test_export_filters_by_tag_and_lang(tmp_path):
    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("a", "en", ["x"], messages=[Message("user", "q"), Message("assistant", "a1")])
        s.create_chat("b", "ru", ["y"], messages=[Message("user", "q"), Message("assistant", "a2")])
    out = tmp_path / "o.jsonl"
    assert invoke("--db", str(db), "export", str(out), "--tag", "y").exit_code == 0
    assert [json.loads(x)["messages"][1]["content"] for x in out.read_text().splitlines()] == ["a2"]
    assert invoke("--db", str(db), "export", str(out), "--lang", "en").exit_code == 0
    assert [json.loads(x)["messages"][1]["content"] for x in out.read_text().splitlines()] == ["a1"]


def test_bad_file_is_one_line_exit_2_and_dataset_untouched(tmp_path):
    db = tmp_path / "d.lima.db"
    good = write_jsonl(tmp_path / "good.jsonl", GOOD)
    run("--db", str(db), "import", str(good))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(GOOD[0]) + "\n{\"messages\": [oops\n", encoding="utf-8")
    r = run("--db", str(db), "import", str(bad))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "bad.jsonl:2" in r.stderr
    with DatasetStore(db) as s:
        assert s.count_chats() == 2
    r = run("--debug", "--db", str(db), "import", str(bad))
    assert r.returncode == 2 and "Traceback" in r.stderr


def test_config_show_and_set(tmp_path):
    db = str(tmp_path / "d.lima.db")
    assert "languages = en" in invoke("--db", db, "config").output
    assert invoke("--db", db, "config", "languages", "en,ru,de").output.strip() == "languages = en,ru,de"
    assert invoke("--db", db, "config", "languages").output.strip() == "en,ru,de"
    assert json.loads(invoke("--db", db, "config", "--json").output)["languages"] == ["en", "ru", "de"]
    r = run("--db", db, "config", "context_limit", "many")
    assert r.returncode == 2 and "whole number" in r.stderr
    r = run("--db", db, "config", "colour", "red")
    assert r.returncode == 2 and "unknown setting" in r.stderr


def test_undo_redo_commands(tmp_path):
    db = str(tmp_path / "d.lima.db")
    invoke("--db", db, "config", "languages", "en,fr")
    assert "undid: Set languages" in invoke("undo", "--db", db).output
    assert invoke("--db", db, "config", "languages").output.strip() == "en"
    assert "redid: Set languages" in invoke("redo", "--db", db).output
    assert invoke("--db", db, "config", "languages").output.strip() == "en,fr"
    invoke("undo", "--db", db)
    invoke("undo", "--db", db)
    assert invoke("undo", "--db", db).output.strip() == "nothing to undo"


def test_validate_dataset_and_file(tmp_path):
    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("ok", messages=[Message("user", "q"), Message("assistant", "a")])
    r = run("validate", "--db", str(db))
    assert r.returncode == 0 and "1 chats checked: 0 errors, 0 warnings" in r.stdout
    with DatasetStore(db) as s:
        s.create_chat("bad", messages=[
            Message("user", "q"), Message("user", "  "),
            Message("assistant", None, tool_calls=[{"id": "c1", "type": "function",
                                                    "function": {"name": "f", "arguments": "{not json"}}]),
            Message("tool", "r", tool_call_id="c9"),
        ], tools=[Tool("f")])
        s.create_chat("no reply", messages=[Message("user", "q")])
    r = run("validate", "--db", str(db), "--json")
    assert r.returncode == 1
    codes = {(p["chat_name"], p["code"]) for p in json.loads(r.stdout)["problems"]}
    assert ("bad", "same-role-twice") in codes
    assert ("bad", "empty-message") in codes
    assert ("bad", "bad-arguments") in codes
    assert ("bad", "dangling-tool-call-id") in codes
    assert ("bad", "no-final-reply") in codes
    assert ("no reply", "no-assistant") in codes
    assert ("ok", "no-assistant") not in codes
    # a file: readable and clean, then one with an unknown role
    good = write_jsonl(tmp_path / "g.jsonl", GOOD)
    assert run("validate", str(good)).returncode == 0
    bad = write_jsonl(tmp_path / "b.jsonl", [{"messages": [{"role": "robot", "content": "x"}]}])
    r = run("validate", str(bad))
    assert r.returncode == 1 and "b.jsonl:1" in r.stdout and "robot" in r.stdout


def test_validate_exit_code_is_for_errors_only(tmp_path):
    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("warned", messages=[Message("user", "q"), Message("user", "q again  "),
                                          Message("assistant", "a")])
        s.create_chat("warned", messages=[Message("user", "q"), Message("user", "q again  "),
                                          Message("assistant", "a")])
    r = run("validate", "--db", str(db), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert (out["errors"], out["warnings"]) == (0, 5)
    assert {p["code"] for p in out["problems"]} == {"same-role-twice", "trailing-whitespace", "duplicate-chat"}
    with DatasetStore(db) as s:
        s.create_chat("broken", messages=[Message("user", "q"), Message("assistant", "")])
    r = run("validate", "--db", str(db))
    assert r.returncode == 1 and "1 errors, 5 warnings" in r.stdout
    assert "chat 3 'broken' message 2: error: the message is empty [empty-message]" in r.stdout


def test_import_options_and_skip_reasons(tmp_path):
    db = str(tmp_path / "d.lima.db")
    src = ROOT / "tests" / "data" / "chatgpt_conversations.json"
    r = invoke("--db", db, "import", str(src), "--placeholder", "(pic)", "--code-turns", "drop",
               "--no-custom-instructions", "--regenerations", "drop")
    assert "imported 4 chats, 10 messages (chatgpt), 1 skipped (1 no messages)" in r.output
    with DatasetStore(Path(db)) as s:
        chats = list(s.iter_chats())
    assert chats[1].messages[0].content.startswith("(pic)\n")
    assert chats[0].messages[0].role == "user" and chats[3].tools == []
    r = invoke("--db", db, "import", str(src), "--code-turns", "drop", "--no-custom-instructions")
    assert "imported 1 chats" in r.output and "3 duplicate of a chat in the dataset" in r.output  # [image]
    r = invoke("--db", db, "import", str(src), "--allow-duplicates", "-O", "code_turns=drop")
    assert "imported 4 chats" in r.output
    r = invoke("--db", db, "export", str(tmp_path / "a.json"), "--format", "alpaca", "-O", "multi_turn=skip")
    assert "skipped" in r.output and "multi-turn (multi_turn=skip)" in r.output
    r = run("--db", db, "import", str(src), "-O", "novalue")
    assert r.returncode == 2 and "KEY=VALUE" in r.stderr


def test_default_db_from_env(tmp_path):
    db = tmp_path / "env.lima.db"
    r = run("config", "languages", "en,it", env={"LIMA_TK_DB": str(db)})
    assert r.returncode == 0 and db.exists()


def test_default_db_in_user_data_dir(tmp_path):
    r = run("stats", env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "xdg" / "lima-tk" / "dataset.lima.db").exists()


def test_not_a_dataset_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.lima.db"
    junk.write_text("hello")
    r = run("stats", "--db", str(junk))
    assert r.returncode == 2 and "not a lima-tk dataset" in r.stderr and "Traceback" not in r.stderr


def test_cli_does_not_import_openai_or_tokenizers(tmp_path):
    code = ("import sys; from lima_tk.cli import cli; "
            "from click.testing import CliRunner; CliRunner().invoke(cli, ['--db', sys.argv[1], 'stats']); "
            "print('openai' in sys.modules, 'tokenizers' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d.lima.db")], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.stdout.strip() == "False False", r.stderr


@pytest.mark.parametrize("args", [["--help"], ["import", "--help"], ["export", "--help"], ["--version"]])
def test_help_and_version(args):
    assert invoke(*args).exit_code == 0


def test_non_ascii_user_folder_and_file_names(tmp_path):
    """A Windows user "Zoë Łukasz" or a Mac user "José": the paths go through the CLI as they are."""
    home = tmp_path / "Zoë Łukasz" / "Données 数据"
    home.mkdir(parents=True)
    src = write_jsonl(home / "entrée é.jsonl", GOOD)
    db = home / "jeu de données ü.lima.db"
    r = run("--db", str(db), "import", str(src), env={"PYTHONIOENCODING": "utf-8"})
    assert r.returncode == 0, r.stderr
    out = home / "export ñ.jsonl"
    r = run("export", str(out), "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()] == GOOD
    r = run("--db", str(home / "missing ß" / "x.lima.db"), "import", str(home / "nope ä.jsonl"))
    assert r.returncode == 2 and "nope ä.jsonl" in r.stderr  # the name as given, in one line
