"""The main window's Help menu beyond the shortcuts: About (version, dataset, Python/Tk), Manual
(docs/manual.md in the default app, else shown here), Report a problem (diagnostics on the
clipboard, never a key) and Welcome (the first-run panel again). Tk thread only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from lima_tk import diagnostics
from lima_tk.first_run import WELCOME_KEY
from lima_tk.ui.dataset_files import short_path
from lima_tk.ui.dialogs import Dialog, TextReport
from lima_tk.ui.theme import PAD, PALETTE
from lima_tk.ui.welcome import WelcomePanel

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import FilesHost

ABOUT_KEYS = {"dataset": "Dataset", "python": "Python", "tk": "Tk", "sqlite": "SQLite", "platform": "System",
              "data dir": "Data folder", "config": "Settings file", "log": "Log file"}


def open_with_system(path: Path) -> bool:
    """Open a file in the desktop's default application; False when there is none to ask."""
    try:
        if sys.platform == "win32":
            os.startfile(str(path))  # type: ignore[attr-defined]  # noqa: S606 - Windows only
        else:
            cmd = "open" if sys.platform == "darwin" else "xdg-open"
            subprocess.Popen([cmd, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        return True
    except OSError:
        return False


class AboutDialog(Dialog):
    """Help > About: the figures a bug report needs, with Copy (the same text as Report a problem)."""

    def __init__(self, help_actions: HelpActions) -> None:
        super().__init__(help_actions.app.root, "About lima-tk")
        self.info = help_actions.info()
        ttk.Label(self.body, text=f"lima-tk {self.info['lima-tk']}", font="LimaEmptyFont").grid(
            row=0, column=0, columnspan=2, sticky="w")
        ttk.Label(self.body, text="Hand-craft multi-turn chat datasets for fine-tuning. Apache-2.0.").grid(
            row=1, column=0, columnspan=2, sticky="w", pady=(PAD, 3 * PAD))
        self.values: dict[str, str] = {}
        for i, (key, label) in enumerate(ABOUT_KEYS.items(), start=2):
            value = str(self.info.get(key, ""))
            if key in ("dataset", "data dir", "config", "log"):
                value = short_path(value)
            self.values[key] = value
            ttk.Label(self.body, text=label, foreground=PALETTE["muted"]).grid(row=i, column=0, sticky="nw",
                                                                                   padx=(0, 3 * PAD))
            ttk.Label(self.body, text=value, wraplength=560, justify="left").grid(row=i, column=1, sticky="w")
        self.add_button("Close", self.cancel, default=True)
        self.add_button("Copy for a bug report", help_actions.report_problem)
        self.show()


class HelpActions:
    """Help > About, Manual, Report a problem, Welcome, and the welcome panel itself."""

    def __init__(self, app: FilesHost) -> None:
        self.app = app
        self.welcome: WelcomePanel | None = None
        self.opener = open_with_system  # tests replace it

    def info(self) -> dict[str, Any]:
        app = self.app
        path = app.store.path if app.store is not None else None
        return diagnostics.gather(path, str(app.root.tk.call("info", "patchlevel")), app.user_settings)

    def about(self) -> AboutDialog:
        return AboutDialog(self)

    def report_problem(self) -> str:
        """Put the diagnostics (and the log's last lines) on the clipboard; returns the text."""
        text = diagnostics.problem_report(self.info(), self.app.user_settings)
        root = self.app.root
        root.clipboard_clear()
        root.clipboard_append(text)
        self.app.status("Copied the diagnostic information (no API key) - paste it into your report")
        return text

    def open_manual(self) -> Any:
        """The manual in the desktop's viewer for .md files; shown here when there is none."""
        path = diagnostics.manual_path()
        if path is None:
            self.app.status("The manual is docs/manual.md in the lima-tk source folder", error=True)
            return None
        if self.opener(path):
            self.app.status(f"Opened the manual: {path}")
            return path
        return TextReport(self.app.root, "lima-tk manual", str(path),
                          path.read_text(encoding="utf-8").splitlines())

    # -- the welcome panel ---------------------------------------------------------------------

    def start(self) -> None:
        """On opening the window: the welcome panel when the first run asked for it."""
        if self.app.user_settings.get(WELCOME_KEY):
            self.show_welcome()

    def show_welcome(self) -> WelcomePanel:
        app = self.app
        if self.welcome is None:
            gen = app.root.event_generate
            actions = [("New chat", lambda: gen("<<NewChat>>")),
                       ("Connect a model…", lambda: gen("<<Settings>>")),
                       ("Import a file…", lambda: gen("<<Import>>")),
                       ("Open the manual", lambda: gen("<<Manual>>"))]
            from lima_tk.paths import user_data_dir

            self.welcome = WelcomePanel(app.root, app.user_settings, app.save_settings, actions,
                                        short_path(str(user_data_dir())))
        self.welcome.show(before=app.chat_list)
        return self.welcome


__all__ = ["AboutDialog", "HelpActions", "open_with_system"]
