"""Per-platform user directories and the default dataset location (no third-party deps)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "lima-tk"
DATASET_SUFFIX = ".lima.db"


def user_data_dir() -> Path:
    """Where datasets live by default: XDG data dir, ~/Library/Application Support, or %APPDATA%."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP


def user_config_dir() -> Path:
    """Where user settings (API key, window geometry, recent files) live; never inside a dataset."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / APP


def user_log_dir() -> Path:
    """Where the rotating log (and the launcher's install log) go: $XDG_STATE_HOME/lima-tk,
    ~/Library/Logs/lima-tk, or %LOCALAPPDATA%\\lima-tk\\Logs."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / APP / "Logs"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Logs" / APP
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / APP


def default_dataset_path() -> Path:
    """`LIMA_TK_DB` if set, else `dataset.lima.db` in the user data directory."""
    env = os.environ.get("LIMA_TK_DB")
    if env:
        return Path(env).expanduser()
    return user_data_dir() / f"dataset{DATASET_SUFFIX}"
