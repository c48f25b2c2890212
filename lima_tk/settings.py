"""Dataset settings (inside the dataset file) and user settings (in the user config dir).

Dataset settings travel with the data: languages, tag vocabulary, tokenizer, context limit,
journal cap. User settings hold machine-local things: API base URL and key, model, window
geometry, recent files. Secrets never go into a dataset file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lima_tk.errors import ValidationError
from lima_tk.fileio import atomic_write
from lima_tk.paths import user_config_dir

DATASET_DEFAULTS: dict[str, Any] = {
    "languages": ["en"],
    "tags": [],
    "tokenizer": "",
    "context_limit": 4096,
    "journal_cap": 500,
}


def parse_dataset_setting(key: str, value: Any) -> Any:
    """Check and normalise a dataset setting; strings from the CLI are accepted too."""
    if key not in DATASET_DEFAULTS:
        raise ValidationError(f"unknown setting {key!r} (known: {', '.join(DATASET_DEFAULTS)})")
    if key in ("languages", "tags"):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",")]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError(f"{key} must be a list of strings")
        out: list[str] = []
        for v in value:
            v = v.strip()
            if v and v not in out:
                out.append(v)
        return out
    if key == "tokenizer":
        if not isinstance(value, str):
            raise ValidationError("tokenizer must be a string (hub id, tokenizer.json or folder)")
        return value.strip()
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{key} must be a whole number, got {value!r}") from None
    if n < 0:
        raise ValidationError(f"{key} must not be negative")
    return n


# -- user settings ---------------------------------------------------------------------------

USER_DEFAULTS: dict[str, Any] = {
    "base_url": "https://api.openai.com/v1",
    "api_key": "",
    "use_env_key": True,
    "model": "gpt-4o-mini",
    "temperature": 0.7,
    "max_tokens": 1024,
    # AI assist (issue 5; see lima_tk/assist.py AssistConfig.from_settings)
    "top_p": None,
    "stop": [],
    "timeout": 60,
    "continue_method": "completions",  # or "chat"
    "font_size": 11,
    "recent_files": [],
    "last_dataset": "",
    "geometry": "",
    "column_widths": {},
}


def user_config_path() -> Path:
    env = os.environ.get("LIMA_TK_CONFIG")
    return Path(env) if env else user_config_dir() / "config.json"


def load_user_settings(path: Path | None = None) -> dict[str, Any]:
    """Defaults overlaid with the config file; a broken file falls back to defaults."""
    path = path or user_config_path()
    data = dict(USER_DEFAULTS)
    try:
        with open(path, encoding="utf-8") as f:
            stored = json.load(f)
        if isinstance(stored, dict):
            data.update(stored)
    except (OSError, ValueError):
        pass
    return data


def save_user_settings(values: dict[str, Any], path: Path | None = None) -> None:
    """Write atomically with owner-only permissions (the file may hold an API key)."""
    path = path or user_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, private=True) as f:
        json.dump(values, f, indent=2, ensure_ascii=False)
    os.chmod(path, 0o600)  # an older file may have had wider permissions
