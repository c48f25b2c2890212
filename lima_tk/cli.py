"""The `lima-tk` command line. With no command it opens the GUI.

Errors are one line on stderr and exit code 2 (`--debug` shows the traceback). Commands that
print data take `--json`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lima_tk import __version__
from lima_tk.errors import FormatError, LimaError
from lima_tk.paths import default_dataset_path

log = logging.getLogger("lima_tk.cli")

DB_HELP = "Dataset file (default: $LIMA_TK_DB or dataset.lima.db in the user data directory)."


class LimaGroup(click.Group):
    """Turns every error into one stderr line and exit code 2, unless --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("lima-tk: interrupted", err=True)
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 - the whole point is a one-line message
            log.error("%s failed: %s", ctx.invoked_subcommand or "lima-tk", e, exc_info=True)
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"lima-tk: error: {_one_line(ctx, e)}", err=True)
            sys.exit(2)


def _one_line(ctx: click.Context, e: Exception) -> str:
    """The error as one plain line. An SQLite failure the store did not translate still names
    the dataset file and says what to do (issue 10)."""
    if isinstance(e, LimaError):
        return str(e)
    import sqlite3

    if isinstance(e, sqlite3.Error):
        from lima_tk.store.sqlerrors import plain_error

        db = (ctx.obj or {}).get("db_used") or (ctx.obj or {}).get("db") or default_dataset_path()
        err = plain_error(e, db)
        return str(err) if err is not None else f"{db}: the dataset could not be used ({e}); nothing was changed"
    return f"{type(e).__name__}: {e}"


def db_option(fn: Callable) -> Callable:
    """`--db` on every subcommand too (it overrides the group's)."""
    return click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), help=DB_HELP)(fn)


def _db_path(ctx: click.Context, db: Path | None) -> Path:
    path = db or ctx.obj.get("db") or default_dataset_path()
    ctx.obj["db_used"] = path
    return path


def _open(ctx: click.Context, db: Path | None):
    """The dataset of a command. Only a new (empty) file or a lima-tk dataset is written; another
    program's SQLite file is refused untouched and a newer lima-tk's dataset opens read-only."""
    from lima_tk.store import DatasetStore

    return DatasetStore(_db_path(ctx, db))


@click.group(cls=LimaGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), help=DB_HELP)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__, prog_name="lima-tk")
@click.pass_context
def cli(ctx: click.Context, db: Path | None, debug: bool) -> None:
    """lima-tk: hand-craft a multi-turn chat dataset. Without a command, opens the GUI."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    ctx.obj["debug"] = debug
    from lima_tk.logs import setup_logging

    setup_logging(debug)
    log.info("lima-tk %s: %s", __version__, ctx.invoked_subcommand or "gui")
    log.debug("python %s at %s on %s", sys.version.split()[0], sys.executable, sys.platform)
    if ctx.invoked_subcommand is None:
        # No --db: the window picks $LIMA_TK_DB, else the last dataset, else the default one.
        _run_gui(db)


def _run_gui(db: Path | None) -> None:
    from lima_tk.deps import missing

    try:
        from lima_tk.ui.app import main as gui_main
    except ImportError as e:
        raise LimaError(f"the GUI is not available ({e}); use the subcommands, see lima-tk --help") from e
    for dep in missing():
        log.warning("reduced features: %s is not installed: %s", dep.package, dep.without)
    if db is None:
        from lima_tk.first_run import prepare_start
        from lima_tk.settings import load_user_settings

        prepare_start(load_user_settings())  # first run: the default dataset with an example chat
    gui_main(db)


def _progress_printer(label: str) -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        pct = 100 * done // total if total else 100
        click.echo(f"\r{label} {pct:3d}%", err=True, nl=False)

    return show


def _options(pairs: tuple[str, ...], **named: Any) -> dict[str, Any]:
    """Format options from `-O KEY=VALUE` (true/false and numbers parsed) plus the named flags."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise LimaError(f"--option needs KEY=VALUE, got {pair!r}")
        v: Any = value.strip()
        if v.lower() in ("true", "false"):
            v = v.lower() == "true"
        else:
            try:
                v = int(v)
            except ValueError:
                try:
                    v = float(v)
                except ValueError:
                    pass
        out[key.strip()] = v
    out.update({k: v for k, v in named.items() if v is not None})
    return out


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", default="auto", show_default=True,
              help="auto, openai, lima, limagui, limagui-csv, limagui-config, chatgpt, sharegpt, alpaca.")
@click.option("--tag", "tags", multiple=True, help="Add this tag to every imported chat (repeatable).")
@click.option("--allow-duplicates", is_flag=True, help="Also import chats whose messages are already in the dataset.")
@click.option("--placeholder", default=None, help="ChatGPT: text for images and files, {kind} = image, file... "
              "(default [{kind}]; '' drops them).")
@click.option("--code-turns", type=click.Choice(["tools", "drop"]), default=None,
              help="ChatGPT: code runs and tool use as tool calls (default) or dropped.")
@click.option("--no-custom-instructions", "custom_instructions", flag_value=False, default=None,
              help="ChatGPT: leave out the custom instructions (default: kept as the system message).")
@click.option("--regenerations", type=click.Choice(["alternatives", "drop"]), default=None,
              help="ChatGPT: other versions of a reply as alternatives (default) or dropped.")
@click.option("--sharegpt-tags", default=None,
              help="ShareGPT key/role names, e.g. messages=conversations,role=from,content=value,user=human,"
                   "assistant=gpt,system=system,function=function_call,observation=observation.")
@click.option("-O", "--option", "option_pairs", multiple=True, metavar="KEY=VALUE",
              help="Any reader option (see docs/formats.md), repeatable.")
@db_option
@click.pass_context
def import_cmd(ctx: click.Context, files: tuple[Path, ...], fmt: str, tags: tuple[str, ...], allow_duplicates: bool,
               placeholder: str | None, code_turns: str | None, custom_instructions: bool | None,
               regenerations: str | None, sharegpt_tags: str | None, option_pairs: tuple[str, ...],
               db: Path | None) -> None:
    """Import chats from FILES into the dataset, all or nothing (one undo step)."""
    from lima_tk.formats import import_files

    options = _options(option_pairs, placeholder=placeholder, code_turns=code_turns,
                       custom_instructions=custom_instructions, regenerations=regenerations,
                       sharegpt_tags=sharegpt_tags)
    with _open(ctx, db) as store:
        reports = import_files(store, list(files), fmt=fmt, tags=tags, progress=_progress_printer("importing"),
                               options=options, allow_duplicates=allow_duplicates)
    if sys.stderr.isatty():
        click.echo("", err=True)
    from lima_tk.formats.summary import import_cli_lines

    for r in reports:
        out, err = import_cli_lines(r)
        for line in out:
            click.echo(line)
        for line in err:
            click.echo(line, err=True)


@cli.command("export")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--format", "fmt", default="openai", show_default=True,
              help="openai, lima, sharegpt, alpaca, hf (a folder), pref-trl, pref-openai.")
@click.option("--tag", default=None, help="Only chats with this tag.")
@click.option("--lang", default=None, help="Only chats in this language.")
@click.option("--search", default="", help="Only chats matching this full-text query.")
@click.option("--ids", default=None, help="Only these chat ids (comma-separated).")
@click.option("--no-problems", is_flag=True, help="Leave out chats with linter errors (see lima-tk validate).")
@click.option("--test-ratio", type=float, default=None, help="hf: put this share of the chats in a test split.")
@click.option("--seed", type=int, default=None, help="hf: seed of the --test-ratio draw (default 0).")
@click.option("--test-tag", default=None, help="hf: the chats with this tag form the test split.")
@click.option("--training-flag", is_flag=True, default=None,
              help="hf: a per-message `training` flag (assistant messages with weight 1 or unset).")
@click.option("--push", "push_repo", default=None, metavar="REPO_ID",
              help="hf: upload the folder to this Hugging Face dataset repo (needs lima-tk[hub] and a login).")
@click.option("--private", is_flag=True, help="hf --push: create the repository private.")
@click.option("-O", "--option", "option_pairs", multiple=True, metavar="KEY=VALUE",
              help="Any writer option (see docs/formats.md), repeatable. hf: -O tool_args=string writes tool-call "
                   "arguments as JSON strings, for datasets older than 4.7 (it cannot load them as objects).")
@db_option
@click.pass_context
def export_cmd(ctx: click.Context, out: Path, fmt: str, tag: str | None, lang: str | None, search: str,
               ids: str | None, no_problems: bool, test_ratio: float | None, seed: int | None, test_tag: str | None,
               training_flag: bool | None, push_repo: str | None, private: bool, option_pairs: tuple[str, ...],
               db: Path | None) -> None:
    """Export the dataset (or a filtered part) to OUT; written to a temp file, then renamed."""
    from lima_tk.formats import export_file
    from lima_tk.store import ChatFilter

    id_list = None
    if ids:
        try:
            id_list = [int(x) for x in ids.split(",") if x.strip()]
        except ValueError:
            raise LimaError(f"--ids must be comma-separated numbers, got {ids!r}") from None
    flt = ChatFilter(text=search, tag=tag, language=lang, ids=id_list)
    if push_repo and fmt != "hf":
        raise LimaError("--push uploads a Hugging Face dataset folder: use it with --format hf")
    options = _options(option_pairs, test_ratio=test_ratio, seed=seed, test_tag=test_tag,
                       training_flag=training_flag)
    with _open(ctx, db) as store:
        r = export_file(store, out, fmt=fmt, chat_filter=flt, progress=_progress_printer("exporting"),
                        options=options, skip_problems=no_problems)
    if sys.stderr.isatty():
        click.echo("", err=True)
    from lima_tk.formats.summary import export_cli_lines

    out_lines, err_lines = export_cli_lines(r)
    for line in out_lines:
        click.echo(line)
    for line in err_lines:
        click.echo(line, err=True)
    if push_repo:
        from lima_tk.formats.hf import push_folder

        click.echo(f"uploaded to {push_folder(out, push_repo, private)}")


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--tag", default=None, help="Only chats with this tag.")
@click.option("--lang", default=None, help="Only chats in this language.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the stats as CSV.")
@click.option("--no-count", is_flag=True, help="Do not count uncounted messages first (cached counts only).")
@db_option
@click.pass_context
def stats_cmd(ctx: click.Context, as_json: bool, tag: str | None, lang: str | None, csv_out: Path | None,
              no_count: bool, db: Path | None) -> None:
    """Chats, messages and tokens by role, per tag and per language, chats over the context limit."""
    from lima_tk.stats import dataset_stats, format_stats, write_stats_csv
    from lima_tk.store import ChatFilter

    if csv_out is not None:
        from lima_tk.fileio import check_target

        check_target(csv_out, _db_path(ctx, db))  # never over the dataset (issue 10)
    with _open(ctx, db) as store:
        if not no_count:
            from lima_tk.tokens import ensure_counted

            ensure_counted(store, progress=_progress_printer("counting tokens"))
        s = dataset_stats(store, ChatFilter(tag=tag, language=lang))
    if csv_out is not None:
        write_stats_csv(s, csv_out, dataset=_db_path(ctx, db))
    click.echo(json.dumps(s, indent=2, ensure_ascii=False) if as_json else format_stats(s))


@cli.command("tokens")
@click.option("--tokenizer", default=None,
              help="Set the dataset's tokenizer first: a Hugging Face id, a tokenizer.json, a model folder or "
                   "'estimate' (empty: the default).")
@click.option("--offline", is_flag=True, help="Never download; use the local cache or an estimate.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@click.pass_context
def tokens_cmd(ctx: click.Context, tokenizer: str | None, offline: bool, as_json: bool, db: Path | None) -> None:
    """Count (or recount) the tokens of every message with the dataset's tokenizer (cached)."""
    from lima_tk.stats import dataset_stats
    from lima_tk.tokens import count_dataset, load_counter, parse_spec

    with _open(ctx, db) as store:
        base = store.path.parent
        if tokenizer is not None:
            spec = parse_spec(tokenizer, base)  # a clear error for a bad path, before anything is stored
            counter = load_counter(tokenizer, base_dir=base, download=not offline, strict=True)
            if spec.kind in ("file", "folder") and not (base / tokenizer).exists():
                tokenizer = spec.value  # found from the working directory: store it absolute
            store.set_setting("tokenizer", tokenizer)
            counter.setting = tokenizer
        else:
            counter = load_counter(store.get_setting("tokenizer"), base_dir=base, download=not offline)
        progress = _progress_printer("counting tokens")
        r = count_dataset(store, counter, progress)
        if progress:
            click.echo("", err=True)
        t = dataset_stats(store)["tokens"]
    if as_json:
        click.echo(json.dumps({"tokenizer": counter.name, "estimate": counter.estimate, "reason": counter.reason,
                               "template": counter.template_source or None,
                               "template_note": r.note or counter.template_note,
                               "counted": r.messages, "encoded": r.encoded, "chats": r.chats,
                               "rendered": r.rendered, **{k: t[k] for k in (
                                   "total", "trainable", "trainable_assistant", "context_limit", "over_limit")}},
                              indent=2, ensure_ascii=False))
        return
    if counter.estimate:
        click.echo(f"estimates (~): {counter.reason}", err=True)
    if r.note or counter.template_note:  # no template, or it failed on some chats (issue 11)
        click.echo(f"note: {r.note or counter.template_note}", err=True)
    mark = "~" if t["estimate"] else ""
    click.echo(f"{counter.name}: {r.messages} messages and {r.chats} chats counted now ({r.encoded} texts and "
               f"{r.rendered} rendered chats encoded, the rest from the cache); {mark}{t['total']} tokens "
               f"({mark}{t['trainable']} trainable), {t['over_limit']} chats over {t['context_limit']}")


@cli.command("validate")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--format", "fmt", default="auto", show_default=True, help="Format of FILE.")
@click.option("--no-count", is_flag=True, help="Do not count uncounted messages first (context limit: cached counts).")
@db_option
@click.pass_context
def validate_cmd(ctx: click.Context, file: Path | None, as_json: bool, fmt: str, no_count: bool,
                 db: Path | None) -> None:
    """Check FILE (any importable format) or the dataset for problems (codes: docs/formats.md).
    Exit 1 if there are errors (warnings alone exit 0)."""
    from lima_tk.validate import ERROR, Finding, lint_store

    findings: list[Finding] = []
    checked = 0

    def lint(store: Any) -> list[Finding]:
        if not no_count:
            from lima_tk.tokens import ensure_counted

            ensure_counted(store, progress=_progress_printer("counting tokens"))
        return list(lint_store(store))

    if file is not None:
        from lima_tk.formats import import_file
        from lima_tk.store import DatasetStore

        with tempfile.TemporaryDirectory(prefix="lima-validate-") as tmp:
            with DatasetStore(Path(tmp) / "check.lima.db") as store:
                try:
                    import_file(store, file, fmt=fmt, allow_duplicates=True)
                except FormatError as e:  # "file:line" and the reason, each once (issue 10)
                    where = f"{e.path}:{e.line}" if e.line else e.path
                    findings.append(Finding("unreadable", ERROR, e.reason, source=where))
                else:
                    checked = store.count_chats()
                    findings = lint(store)
    else:
        with _open(ctx, db) as store:
            checked = store.count_chats()
            findings = lint(store)
    n_err = sum(f.severity == ERROR for f in findings)
    if as_json:
        click.echo(json.dumps({"checked_chats": checked, "errors": n_err, "warnings": len(findings) - n_err,
                               "problems": [f.to_dict() for f in findings]}, indent=2, ensure_ascii=False))
    else:
        for f in findings:
            click.echo(f"{f.where()}: {f.severity}: {f.message} [{f.code}]")
        click.echo(f"{checked} chats checked: {n_err} errors, {len(findings) - n_err} warnings")
    if n_err:
        sys.exit(1)


@cli.command("config")
@click.argument("key", required=False)
@click.argument("value", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@click.pass_context
def config_cmd(ctx: click.Context, key: str | None, value: str | None, as_json: bool, db: Path | None) -> None:
    """Show or set dataset settings: languages, tags, tokenizer, context_limit, journal_cap.

    Lists are comma-separated: lima-tk config languages en,ru,de
    """
    with _open(ctx, db) as store:
        if key is None:
            settings = store.get_settings()
            if as_json:
                click.echo(json.dumps(settings, indent=2, ensure_ascii=False))
            else:
                for k, v in settings.items():
                    click.echo(f"{k} = {_show(v)}")
            return
        if value is None:
            v = store.get_setting(key)
            click.echo(json.dumps(v, ensure_ascii=False) if as_json else _show(v))
            return
        stored = store.set_setting(key, value)
        click.echo(f"{key} = {_show(stored)}")


def _show(v: Any) -> str:
    return ",".join(v) if isinstance(v, list) else str(v)


@cli.command("undo")
@db_option
@click.pass_context
def undo_cmd(ctx: click.Context, db: Path | None) -> None:
    """Undo the last change to the dataset (the journal is stored in the dataset)."""
    with _open(ctx, db) as store:
        step = store.undo()
    click.echo(f"undid: {step.label}" if step else "nothing to undo")


@cli.command("redo")
@db_option
@click.pass_context
def redo_cmd(ctx: click.Context, db: Path | None) -> None:
    """Redo the last undone change."""
    with _open(ctx, db) as store:
        step = store.redo()
    click.echo(f"redid: {step.label}" if step else "nothing to redo")


@cli.command("list")
@click.option("--search", default="", help="Full-text query over names and messages.")
@click.option("--tag", default=None)
@click.option("--lang", default=None)
@click.option("--sort", default="position", show_default=True,
              type=click.Choice(["position", "name", "language", "messages", "tokens", "updated", "created"]))
@click.option("--desc", is_flag=True, help="Sort descending.")
@click.option("--limit", default=50, show_default=True)
@click.option("--over-limit", is_flag=True, help="Only chats over the context limit (as last counted: lima-tk tokens).")
@click.option("--json", "as_json", is_flag=True)
@db_option
@click.pass_context
def list_cmd(ctx: click.Context, search: str, tag: str | None, lang: str | None, sort: str, desc: bool, limit: int,
             over_limit: bool, as_json: bool, db: Path | None) -> None:
    """List chats (id, messages, tokens, trainable tokens, language, tags, name). Tokens are the
    rendered counts as last counted (`lima-tk tokens`); "~" marks an estimate or a chat not
    counted yet, and the JSON has `tokens`/`trainable_tokens` null then with `tokens_estimate`."""
    from dataclasses import asdict

    from lima_tk.store import ChatFilter

    with _open(ctx, db) as store:
        flt = ChatFilter(text=search, tag=tag, language=lang, over_limit=over_limit)
        rows = store.list_chats(flt, sort=sort, descending=desc, limit=limit)
        total = store.count_chats(flt)
        key = store.active_token_key()
        counts = store.chat_token_totals([r.id for r in rows], key) if key else {}
    if as_json:
        chats = []
        for r in rows:
            t = counts.get(r.id)
            exact = t is not None and not t.uncounted
            chats.append({**asdict(r), "tokens": t.total if exact else None,
                          "trainable_tokens": t.trainable if exact else None,
                          "tokens_estimate": bool(key is None or key.estimate or t is None or t.uncounted)
                          if r.n_messages else False})
        click.echo(json.dumps({"total": total, "tokenizer": key.setting if key else None,
                               "chats": chats}, indent=2, ensure_ascii=False))
        return
    from lima_tk.tokens import format_count

    for r in rows:
        t = counts.get(r.id)
        est = bool(key is None or key.estimate or (t is not None and t.uncounted))
        tok = format_count(t.total, est) if t else "-"
        tr = format_count(t.trainable, est) if t else "-"
        click.echo(f"{r.id:>7}  {r.n_messages:>4} msgs  {tok:>8} tok  {tr:>8} train  {(r.language or '-'):<5} "
                   f"{','.join(r.tags)[:24]:<24}  {r.name}")
    click.echo(f"{len(rows)} of {total} chats")


@cli.command("about")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def about_cmd(ctx: click.Context, as_json: bool) -> None:
    """Version, paths and installed packages, for a bug report (never the API key)."""
    from lima_tk.diagnostics import format_report, gather
    from lima_tk.first_run import start_dataset
    from lima_tk.settings import load_user_settings

    info = gather(ctx.obj.get("db") or start_dataset(load_user_settings()))
    click.echo(json.dumps(info, indent=2, ensure_ascii=False) if as_json else format_report(info))


from lima_tk.cli_generate import generate_cmd  # noqa: E402 - a command in its own module (AI assist)

cli.add_command(generate_cmd)


def main() -> None:
    """Console-script entry point."""
    # Keep start-up light: nothing heavy is imported before a command needs it.
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    cli(prog_name="lima-tk")
