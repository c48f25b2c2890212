"""The log file: one rotating file in the user log directory, for the GUI and the CLI alike.

`setup_logging(debug)` is called once per process by the `lima-tk` command. lima-tk's own loggers
(`lima_tk.*`) write INFO and up (DEBUG with `--debug`); other libraries only WARNING and up.
Nothing secret reaches the file: `SecretFilter` redacts the configured API key, $OPENAI_API_KEY,
and anything shaped like a key (`sk-...`, `hf_...`, `Bearer ...`) in messages and tracebacks.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from lima_tk.paths import user_log_dir

LOG_NAME = "lima-tk.log"
MAX_BYTES = 1_000_000  # a few weeks of normal use; the whole history stays under 4 MB
BACKUPS = 3
REDACTED = "[redacted]"

# Key-shaped strings: OpenAI-style (sk-..., sk-proj-...), Hugging Face tokens, bearer headers.
_KEY_RE = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}|\bhf_[A-Za-z0-9]{16,}|(?<=Bearer )[A-Za-z0-9._~+/=\-]{8,}")
_MIN_SECRET = 6  # shorter configured "keys" are placeholders (or typos), and would redact words

_handler: logging.Handler | None = None


_SECRET_ENV = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD)$")


def configured_secrets() -> list[str]:
    """The keys lima-tk knows of right now: the user settings' `api_key`, and the value of every
    environment variable named like a secret ($OPENAI_API_KEY, `generate --api-key-env` ones, $HF_TOKEN)."""
    out = [v for k, v in os.environ.items() if _SECRET_ENV.search(k.upper())]
    try:
        from lima_tk.settings import load_user_settings, user_config_path

        out.append(str(_cached_settings_key(user_config_path(), load_user_settings)))
    except Exception:  # noqa: BLE001 - a broken config must never stop logging
        pass
    return [s.strip() for s in out if s and len(s.strip()) >= _MIN_SECRET]


_settings_cache: tuple[object, str] = (None, "")


def _cached_settings_key(path: Path, load: Callable[[Path], dict]) -> str:
    """The settings file's key, re-read only when the file changed (a stat per log record)."""
    global _settings_cache
    try:
        st = path.stat()
        stamp: object = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    if stamp != _settings_cache[0]:
        key = load(path).get("api_key") if stamp is not None else ""
        _settings_cache = (stamp, key if isinstance(key, str) else "")
    return _settings_cache[1]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret and every key-shaped string replaced by [redacted]."""
    for s in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(s, REDACTED)
    return _KEY_RE.sub(REDACTED, text)


class SecretFilter(logging.Filter):
    """Redacts secrets from a record before any handler formats it: the message with its
    arguments, and the exception text (formatted here, then cleared from the record)."""

    def __init__(self, secrets: Callable[[], Iterable[str]] = configured_secrets) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        known = list(self.secrets())
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: log it as it is
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message, known), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text, known)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, known)
        return True


class _Levels(logging.Filter):
    """lima-tk's records at the chosen level; other libraries' only from WARNING up."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "lima_tk" or record.name.startswith("lima_tk."):
            return record.levelno >= self.level
        return record.levelno >= logging.WARNING


def log_path(log_dir: Path | None = None) -> Path:
    return (log_dir or user_log_dir()) / LOG_NAME


def setup_logging(debug: bool = False, log_dir: Path | None = None, max_bytes: int = MAX_BYTES,
                  backups: int = BACKUPS) -> Path | None:
    """Send log records to the rotating file; returns its path, or None when the folder cannot be
    made (a read-only home: lima-tk still runs, without a log). Calling it again replaces the
    previous file handler (tests, or a CLI invoked twice in one process)."""
    global _handler
    path = log_path(log_dir)
    close_logging()
    # Without any handler, Python's "last resort" would print every error record with its
    # traceback on stderr, doubling the CLI's one-line errors: a null handler keeps it quiet.
    ours = logging.getLogger("lima_tk")
    if not any(isinstance(h, logging.NullHandler) for h in ours.handlers):
        ours.addHandler(logging.NullHandler())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _QuietFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True)
    except OSError:
        return None
    level = logging.DEBUG if debug else logging.INFO
    handler.setLevel(logging.DEBUG)
    handler.addFilter(_Levels(level))
    handler.addFilter(SecretFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    if ours.level == logging.NOTSET or ours.level > level:
        ours.setLevel(level)
    _handler = handler
    return path


class _QuietFileHandler(logging.handlers.RotatingFileHandler):
    """A log file that cannot be written (full disk, a folder we may not write) is skipped
    silently: the log must never break a command or print tracebacks on the terminal."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        pass


def close_logging() -> None:
    """Take the log file handler away again (tests; a process that is done)."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None
