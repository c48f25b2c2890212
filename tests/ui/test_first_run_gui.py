"""The first run in the window (the welcome panel, shown until dismissed), the dataset's folder in
the title bar, the Help menu (About, Manual, Report a problem, Welcome) and the empty states of
the stats board and the Problems panel."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import pytest

from lima_tk.first_run import EXAMPLE_NAME, WELCOME_KEY, prepare_start
from lima_tk.logs import log_path
from lima_tk.settings import load_user_settings, user_config_path
from lima_tk.ui.help_links import AboutDialog
from lima_tk.ui.problems import NO_CHATS
from lima_tk.ui.status_bar import window_title
from tests.ui.app_helpers import app_factory, fire, seed, settle
from tests.ui.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path)


def first_start(make_app):
    """What `lima-tk` does without --db: prepare the start, then open the window on it with the
    settings as saved (App reads them from the config file itself)."""
    path = prepare_start(load_user_settings())
    app = make_app(path, user_settings=None)
    settle(app)
    return app


def test_the_welcome_panel_shows_on_the_first_run_until_dismissed(make_app) -> None:
    app = first_start(make_app)
    panel = app.help.welcome
    assert panel is not None and panel.frame.winfo_ismapped()
    assert [app.chat_list.row_at(0).name] == [EXAMPLE_NAME]  # the example under it
    texts = " ".join(str(w.cget("text")) for w in panel.labels)
    assert "Ctrl+N" in texts and "Assistant" in texts and str(Path(os.environ["XDG_DATA_HOME"]) / "lima-tk") in texts
    app.close()

    # Not dismissed: the next start shows it again (the default dataset is not made again).
    app = first_start(make_app)
    assert app.help.welcome is not None and app.help.welcome.frame.winfo_ismapped()
    assert app.chat_list.total == 1
    app.help.welcome.dismiss_button.invoke()
    app.root.update()
    assert not app.help.welcome.frame.winfo_ismapped()
    assert json.loads(user_config_path().read_text())[WELCOME_KEY] is False  # remembered at once
    app.close()

    app = first_start(make_app)
    assert app.help.welcome is None  # never again
    fire(app, "<<Welcome>>")  # unless asked for: Help > Welcome panel
    assert app.help.welcome is not None and app.help.welcome.frame.winfo_ismapped()


def test_no_welcome_panel_for_a_dataset_that_was_there(make_app, db_path: Path) -> None:
    seed(db_path, 2)
    app = make_app(user_settings=None)
    settle(app)
    assert app.help.welcome is None


def test_the_title_bar_shows_the_dataset_and_its_folder(make_app, db_path: Path, tmp_path: Path) -> None:
    app = make_app()
    assert app.root.title() == f"test.lima.db - {tmp_path} - lima-tk"
    other = tmp_path / "sub" / "other.lima.db"
    other.parent.mkdir()
    assert app.open_dataset(other)
    assert app.root.title() == f"other.lima.db - {other.parent} - lima-tk"
    home = Path.home() / "x" / "d.lima.db"
    assert window_title(home, readonly=True) == "d.lima.db (read-only) - ~/x - lima-tk"


def test_help_menu_has_manual_report_and_about(make_app) -> None:
    app = make_app()
    labels = [app.menus["Help"].entrycget(i, "label") for i in range(app.menus["Help"].index("end") + 1)
              if app.menus["Help"].type(i) == "command"]
    assert labels == ["Keyboard shortcuts", "Manual", "Welcome panel", "Report a problem (copy diagnostics)",
                      "About lima-tk"]


def test_about_shows_version_dataset_python_and_tk(make_app, db_path: Path) -> None:
    from lima_tk import __version__

    app = make_app()
    fire(app, "<<About>>")
    dlg = next(w for w in app.root.winfo_children() if isinstance(w, AboutDialog))
    assert dlg.title() == "About lima-tk" and dlg.info["lima-tk"] == __version__
    assert dlg.values["dataset"] == str(db_path)
    assert dlg.values["python"].startswith(platform.python_version())
    assert dlg.values["tk"] == str(app.root.tk.call("info", "patchlevel"))
    dlg.destroy()


def test_report_a_problem_copies_diagnostics_but_never_a_key(make_app, db_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    settings_key = "my-settings-secret-2718281828"  # not key-shaped: only knowing it redacts it
    env_key = "my-environment-secret-3141592653"
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    app = make_app(user_settings={"api_key": settings_key, "base_url": "http://user:pw@127.0.0.1:8080/v1"})
    # The log's tail goes into the report: a line that carried both keys (the log redacts them
    # itself; the report must not rely on that).
    log_path().parent.mkdir(parents=True, exist_ok=True)
    log_path().write_text(f"request with {settings_key} and {env_key}\nlast line\n", encoding="utf-8")
    fire(app, "<<ReportProblem>>")
    text = app.root.clipboard_get()
    assert "lima-tk problem report" in text and f"dataset: {db_path}" in text
    assert f"tk: {app.root.tk.call('info', 'patchlevel')}" in text and "python: " in text
    assert "api key: $OPENAI_API_KEY" in text and "last line" in text
    assert settings_key not in text and env_key not in text and "pw@" not in text
    assert "Copied the diagnostic information" in app.status_text


def test_manual_opens_docs_manual_md(make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    opened: list[Path] = []
    monkeypatch.setattr(app.help, "opener", lambda p: opened.append(p) or True)
    fire(app, "<<Manual>>")
    assert opened == [ROOT / "docs" / "manual.md"]
    # No viewer for .md files: the manual is shown in a window of its own.
    monkeypatch.setattr(app.help, "opener", lambda p: False)
    report = app.help.open_manual()
    assert report.title() == "lima-tk manual" and report.lines[0] == "# lima-tk manual"
    report.destroy()


def test_empty_stats_board_says_what_to_do(make_app) -> None:
    app = make_app()
    board = app.open_stats_board()
    wait_until(lambda: board.state == "done" and board.stats is not None, board, timeout=20)
    board.update()
    texts = [board.canvas.itemcget(i, "text") for i in board.canvas.find_withtag("empty")]
    assert texts[0] == "No chats to count yet" and "Ctrl+N" in texts[1]
    board.close()


def test_empty_problems_panel_says_what_to_do(make_app) -> None:
    app = make_app()
    panel = app.open_problems_panel()
    wait_until(lambda: panel.state == "done", panel, timeout=20)
    panel.update()
    assert panel.empty.cget("text") == NO_CHATS and panel.empty.winfo_ismapped()
    panel.close()
