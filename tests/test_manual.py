"""docs/manual.md stays true to the code: every shortcut of the action tables is in its table,
every picture it shows exists, and scripts/screenshot.py makes each of them."""

from __future__ import annotations

import re
from pathlib import Path

from lima_tk.ui.actions import ACTIONS, EDITOR_ACTIONS

ROOT = Path(__file__).resolve().parents[1]
MANUAL = (ROOT / "docs" / "manual.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = MANUAL.index(f"\n## {title}\n")
    end = MANUAL.find("\n## ", start + 1)
    return MANUAL[start:end if end > 0 else None]


def test_every_shortcut_is_in_the_manual() -> None:
    table = section("Keyboard shortcuts")
    missing = [(a.label, key) for a in (*ACTIONS, *EDITOR_ACTIONS) if a.accel
               for key in a.accel.split(" / ") if key not in table]
    assert missing == []


def test_every_picture_of_the_manual_and_readme_is_made_by_the_screenshot_scripts() -> None:
    shown = set(re.findall(r"screenshots/([\w-]+\.png)", MANUAL))
    shown |= set(re.findall(r"docs/screenshots/([\w-]+\.png)", (ROOT / "README.md").read_text(encoding="utf-8")))
    assert {"first_run.png", "main_window.png", "editor_tools.png", "assist_streaming.png", "settings_assistant.png",
            "stats_board.png", "problems.png"} <= shown
    scripts = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "scripts").glob("screenshot*.py"))
    for name in sorted(shown):
        assert (ROOT / "docs" / "screenshots" / name).is_file(), name
        assert name in scripts, f"{name}: no screenshot script writes it"
