"""What Help > About and "Report a problem" show: versions, paths and optional packages.

No tkinter here: the UI passes its Tk version in. Never the API key: only whether one is set and
where it comes from, and the server URL without credentials.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from pathlib import Path
from typing import Any

from lima_tk import __version__


def gather(dataset_path: str | Path | None = None, tk_version: str | None = None,
           settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Diagnostics as plain data. `tk_version`: the running Tk's patch level (the UI knows it;
    None from the CLI). `settings`: the user settings (default: read from the config file)."""
    from lima_tk.assist_errors import safe_url
    from lima_tk.deps import versions
    from lima_tk.logs import log_path
    from lima_tk.paths import default_dataset_path, user_data_dir
    from lima_tk.settings import load_user_settings, user_config_path

    s = settings if settings is not None else load_user_settings()
    env_key = bool(os.environ.get("OPENAI_API_KEY")) and s.get("use_env_key", True)
    key = "$OPENAI_API_KEY" if env_key else "settings" if s.get("api_key") else "none"
    return {
        "lima-tk": __version__,
        "dataset": str(Path(dataset_path) if dataset_path else default_dataset_path()),
        "python": f"{platform.python_version()} ({platform.python_implementation()}, {sys.executable})",
        "tk": tk_version or ("not loaded" if _tk_installed() else "not installed (no tkinter module)"),
        "sqlite": sqlite3.sqlite_version,
        "platform": f"{platform.platform()} ({platform.machine()})",
        "packages": {name: v or "not installed" for name, v in versions().items()},
        "assist server": safe_url(str(s.get("base_url") or "")),
        "assist model": str(s.get("model") or ""),
        "api key": key,
        "data dir": str(user_data_dir()),
        "config": str(user_config_path()),
        "log": str(log_path()),
    }


def _tk_installed() -> bool:
    from lima_tk.deps import available

    return available("_tkinter")


def format_report(info: dict[str, Any]) -> str:
    """The diagnostics as text to paste into a bug report (one `key: value` per line)."""
    lines = []
    for k, v in info.items():
        if isinstance(v, dict):
            lines.append(f"{k}: " + ", ".join(f"{name} {ver}" for name, ver in v.items()))
        else:
            lines.append(f"{k}: {v}")
    return "\n".join(lines)


def manual_path() -> Path | None:
    """docs/manual.md beside the package (a source checkout or the launcher's editable install);
    None for an installed wheel, which carries no docs."""
    path = Path(__file__).resolve().parents[1] / "docs" / "manual.md"
    return path if path.is_file() else None


def problem_report(info: dict[str, Any], settings: dict[str, Any] | None = None, log_lines: int = 30) -> str:
    """What Help > Report a problem copies: the diagnostics and the log's last lines, with every
    secret lima-tk knows of (the settings' key, secret-named environment variables, key-shaped
    strings) replaced by [redacted], so the text can be pasted anywhere."""
    from lima_tk.logs import configured_secrets, redact

    text = "lima-tk problem report\n\n" + format_report(info)
    tail = _log_tail(Path(str(info.get("log") or "")), log_lines)
    if tail:
        text += f"\n\nlast {len(tail)} lines of the log:\n" + "\n".join(tail)
    secrets = configured_secrets()
    key = (settings or {}).get("api_key")
    if isinstance(key, str) and key.strip():
        secrets.append(key.strip())
    return redact(text, secrets)


def _log_tail(path: Path, n: int) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n") for line in f.readlines()[-n:]]
    except OSError:
        return []
