"""scripts/screenshot.py regenerates the manual's pictures: its quick mode runs here (the main
window's pictures from a few chats, on the tests' display) and writes real PNGs."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICK = ("main_window.png", "main_filtered.png", "settings_assistant.png", "shortcuts.png", "first_run.png",
         "about.png")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.skipif(shutil.which("import") is None and not os.environ.get("CI"),
                    reason="needs ImageMagick's `import` (apt-get install imagemagick)")
def test_the_screenshot_script_writes_pngs(tmp_path: Path) -> None:
    out = tmp_path / "shots"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot.py"), "--quick", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in QUICK:
        w, h = png_size(out / name)
        assert w > 300 and h > 100, (name, w, h)
    assert png_size(out / "first_run.png") == png_size(out / "main_window.png")  # the same window size
