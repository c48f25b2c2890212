"""Windows specifics: crisp text on high-DPI screens and lima-tk's own taskbar button.

`prepare_process()` runs before the first Tk window: it makes the process per-monitor DPI aware
(otherwise Windows draws the window at 96 DPI and stretches the bitmap: blurry text), and gives
it its own AppUserModelID (so the taskbar shows lima-tk's icon, not pythonw's). `apply_dpi_scaling`
then sets `tk scaling` from the real DPI of the monitor the window is on (points -> pixels), unless
the user chose a scale in Settings. `windll` is injectable: tests pass a recorder on Linux
(docs/platforms.md). Tk thread only.
"""

from __future__ import annotations

import sys
import tkinter as tk
from typing import Any

APP_ID = "lima-tk.lima-tk"
PER_MONITOR_AWARE_V2 = -4  # DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2
PROCESS_PER_MONITOR_DPI_AWARE = 2


def _windll() -> Any:
    if sys.platform != "win32":
        return None
    import ctypes

    return ctypes.windll  # type: ignore[attr-defined]


def prepare_process(windll: Any = None) -> str:
    """DPI awareness and the taskbar identity of this process; returns the awareness reached
    ("per-monitor-v2", "per-monitor", "system", or "none" off Windows / when refused)."""
    windll = windll if windll is not None else _windll()
    if windll is None:
        return "none"
    try:  # the taskbar groups lima-tk's windows under its own icon
        windll.shell32.SetCurrentProcessExplicitAppUserModelID(APP_ID)
    except (AttributeError, OSError):
        pass
    attempts = (
        ("per-monitor-v2", lambda: windll.user32.SetProcessDpiAwarenessContext(PER_MONITOR_AWARE_V2)),  # Win 10 1703+
        ("per-monitor", lambda: windll.shcore.SetProcessDpiAwareness(PROCESS_PER_MONITOR_DPI_AWARE) == 0),  # 8.1+
        ("system", lambda: windll.user32.SetProcessDPIAware()),  # Vista+
    )
    for name, attempt in attempts:
        try:
            if attempt():
                return name
        except (AttributeError, OSError):
            continue
    return "none"


def window_dpi(root: tk.Misc, windll: Any = None) -> int | None:
    """The DPI of the monitor `root` is on (None off Windows or when Windows cannot say)."""
    windll = windll if windll is not None else _windll()
    if windll is None:
        return None
    try:
        hwnd = int(root.wm_frame(), 16) if hasattr(root, "wm_frame") else root.winfo_id()
        dpi = int(windll.user32.GetDpiForWindow(hwnd))
    except (AttributeError, OSError, ValueError, tk.TclError):
        return None
    return dpi if dpi > 0 else None


def apply_dpi_scaling(root: tk.Misc, windll: Any = None) -> float | None:
    """Set `tk scaling` (pixels per point) from the monitor's real DPI; returns it (None: unchanged)."""
    dpi = window_dpi(root, windll)
    if dpi is None:
        return None
    scaling = dpi / 72.0
    root.tk.call("tk", "scaling", scaling)
    return scaling
