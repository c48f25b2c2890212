"""The look: ttk `clam` with a small soft palette, named fonts at the user's size, 4 px spacing.

Tk thread only. Everything visual is decided here so the windows only name styles
("Toolbar.TButton", "Status.TLabel", ...), never colours.
"""

from __future__ import annotations

import tkinter as tk
import weakref
from tkinter import font as tkfont
from tkinter import ttk

from lima_tk.ui.dialog_keys import install_select_all
from lima_tk.ui.platform import current

# Spacing unit: every padding is a multiple of it.
PAD = 4

PALETTE = {
    "bg": "#f3f4f6",  # window background
    "surface": "#ffffff",  # list and fields
    "alt": "#f8f9fb",  # zebra rows
    "border": "#cfd4dc",
    "border_dark": "#b4bbc6",
    "text": "#1f2328",
    "muted": "#667085",
    "accent": "#3367d6",  # focus ring, default buttons
    "accent_text": "#ffffff",
    "select": "#d3e3fd",  # selected rows
    "select_text": "#0b1f44",
    "cursor": "#eef3fc",  # the keyboard row when it is not selected
    "heading": "#e9ecf1",
    "status": "#e9ecf1",
    "notice": "#fff4d1",  # read-only notice
    "notice_text": "#5c4400",
    "danger": "#b42318",
    "button": "#fbfbfc",
    "button_active": "#eef1f5",
    "thumb": "#c5ccd6",
    "thumb_active": "#a3acb9",
}

# The fonts Tk widgets use by default; they all follow the user's size.
_NAMED = ("TkDefaultFont", "TkTextFont", "TkMenuFont", "TkHeadingFont", "TkCaptionFont", "TkTooltipFont",
          "TkFixedFont", "TkIconFont", "TkSmallCaptionFont")


def apply_theme(root: tk.Tk, font_size: int = 11, scale: float | None = None) -> ttk.Style:
    """Install the theme on `root`. Call again (e.g. after a font-size change) to update it."""
    if scale:
        root.tk.call("tk", "scaling", float(scale))
    set_font_size(root, font_size)
    install_select_all(root)
    p = PALETTE
    style = ttk.Style(root)
    if style.theme_use() != "clam":
        style.theme_use("clam")
    root.configure(background=p["bg"])
    # Classic Tk widgets (menus, listboxes, Text) read these.
    root.option_add("*Menu.background", p["surface"])
    root.option_add("*Menu.activeBackground", p["select"])
    root.option_add("*Menu.activeForeground", p["select_text"])
    root.option_add("*Menu.relief", "flat")
    root.option_add("*Menu.activeBorderWidth", 0)
    root.option_add("*Menu.borderWidth", 1)
    root.option_add("*Listbox.background", p["surface"])
    root.option_add("*Listbox.selectBackground", p["select"])
    root.option_add("*Listbox.selectForeground", p["select_text"])
    root.option_add("*Listbox.highlightColor", p["accent"])
    root.option_add("*Listbox.highlightThickness", 1)
    root.option_add("*Listbox.highlightBackground", p["border_dark"])
    root.option_add("*Listbox.relief", "flat")
    root.option_add("*Listbox.borderWidth", PAD)
    root.option_add("*Toplevel.background", p["bg"])

    style.configure(
        ".", background=p["bg"], foreground=p["text"], bordercolor=p["border"], darkcolor=p["bg"],
        lightcolor=p["bg"], troughcolor=p["heading"], focuscolor=p["accent"], selectbackground=p["select"],
        selectforeground=p["select_text"], fieldbackground=p["surface"], insertcolor=p["text"],
        font="TkDefaultFont",
    )
    style.map(".", foreground=[("disabled", p["muted"])])
    style.configure("TFrame", background=p["bg"])
    style.configure("Card.TFrame", background=p["surface"])
    style.configure("Toolbar.TFrame", background=p["bg"])
    style.configure("TLabel", background=p["bg"], foreground=p["text"])
    style.configure("Muted.TLabel", foreground=p["muted"])
    style.configure("Count.TLabel", foreground=p["muted"])
    style.configure("Title.TLabel", font="TkHeadingFont")
    style.configure("Empty.TLabel", background=p["surface"], foreground=p["muted"], justify="center")
    style.configure("EmptyTitle.TLabel", background=p["surface"], foreground=p["text"], font="LimaEmptyFont")
    style.configure("Status.TFrame", background=p["status"])
    style.configure("Status.TLabel", background=p["status"], foreground=p["text"], padding=(2 * PAD, PAD))
    style.configure("StatusMuted.TLabel", background=p["status"], foreground=p["muted"], padding=(2 * PAD, PAD))
    style.configure("Notice.TFrame", background=p["notice"])
    style.configure("Notice.TLabel", background=p["notice"], foreground=p["notice_text"],
                    padding=(3 * PAD, 2 * PAD))

    # Buttons: light, flat-ish, an accent ring on keyboard focus.
    style.configure("TButton", padding=(3 * PAD, PAD), width=-8, background=p["button"], bordercolor=p["border_dark"],
                    lightcolor=p["button"], darkcolor=p["button"], focuscolor=p["accent"], focusthickness=1)
    style.map("TButton",
              background=[("pressed", p["heading"]), ("active", p["button_active"])],
              lightcolor=[("pressed", p["heading"]), ("active", p["button_active"])],
              darkcolor=[("pressed", p["heading"]), ("active", p["button_active"])],
              bordercolor=[("focus", p["accent"])])
    style.configure("Accent.TButton", background=p["accent"], foreground=p["accent_text"],
                    lightcolor=p["accent"], darkcolor=p["accent"], bordercolor=p["accent"],
                    focuscolor=p["accent_text"])
    style.map("Accent.TButton",
              background=[("disabled", p["border"]), ("pressed", "#2a56b3"), ("active", "#3d73e0")],
              lightcolor=[("pressed", "#2a56b3"), ("active", "#3d73e0")],
              darkcolor=[("pressed", "#2a56b3"), ("active", "#3d73e0")],
              foreground=[("disabled", p["muted"])])
    style.configure("Toolbar.TButton", padding=(3 * PAD, PAD), width=-4)
    style.configure("Link.TButton", padding=(PAD, 0), background=p["bg"], bordercolor=p["bg"],
                    lightcolor=p["bg"], darkcolor=p["bg"], foreground=p["accent"])

    # Fields: a visible accent border when focused.
    for name in ("TEntry", "TCombobox", "TSpinbox"):
        style.configure(name, padding=(PAD, PAD // 2 + 1), fieldbackground=p["surface"],
                        bordercolor=p["border_dark"], lightcolor=p["surface"], darkcolor=p["surface"],
                        arrowcolor=p["muted"], background=p["button"], arrowsize=3 * PAD)
        style.map(name,
                  bordercolor=[("focus", p["accent"])],
                  lightcolor=[("focus", p["accent"])],
                  fieldbackground=[("readonly", p["surface"]), ("disabled", p["bg"])],
                  foreground=[("disabled", p["muted"])],
                  selectbackground=[("!focus", p["heading"])],
                  selectforeground=[("!focus", p["text"])])
    root.option_add("*TCombobox*Listbox.font", "TkDefaultFont")
    root.option_add("*TCombobox*Listbox.selectBackground", p["select"])
    root.option_add("*TCombobox*Listbox.selectForeground", p["select_text"])
    style.configure("TCheckbutton", background=p["bg"], focuscolor=p["accent"], padding=(0, PAD // 2))
    style.map("TCheckbutton", background=[("disabled", p["bg"]), ("active", p["bg"])])
    style.configure("Card.TCheckbutton", background=p["surface"])
    style.map("Card.TCheckbutton", background=[("active", p["cursor"])])
    style.configure("TRadiobutton", background=p["bg"], focuscolor=p["accent"], padding=(0, PAD // 2))
    style.map("TRadiobutton", background=[("disabled", p["bg"]), ("active", p["bg"])])
    style.configure("TNotebook", background=p["bg"], bordercolor=p["border"], tabmargins=(2 * PAD, PAD, 0, 0))
    style.configure("TNotebook.Tab", padding=(3 * PAD, PAD), background=p["heading"], bordercolor=p["border"],
                    lightcolor=p["heading"])
    style.map("TNotebook.Tab", background=[("selected", p["bg"])], lightcolor=[("selected", p["bg"])],
              focuscolor=[("focus", p["accent"])])
    style.configure("TLabelframe", background=p["bg"], bordercolor=p["border"], padding=2 * PAD)
    style.configure("TLabelframe.Label", background=p["bg"], foreground=p["muted"])
    style.configure("Horizontal.TProgressbar", background=p["accent"], troughcolor=p["heading"],
                    bordercolor=p["border"], lightcolor=p["accent"], darkcolor=p["accent"], thickness=12)
    # Scrollbars without arrows: a plain thumb in a light trough.
    style.layout("Vertical.TScrollbar", [("Vertical.Scrollbar.trough", {"sticky": "ns", "children": [
        ("Vertical.Scrollbar.thumb", {"expand": "1", "sticky": "nswe"})]})])
    style.layout("Horizontal.TScrollbar", [("Horizontal.Scrollbar.trough", {"sticky": "ew", "children": [
        ("Horizontal.Scrollbar.thumb", {"expand": "1", "sticky": "nswe"})]})])
    style.configure("TScrollbar", background=p["thumb"], troughcolor=p["alt"], bordercolor=p["alt"],
                    lightcolor=p["thumb"], darkcolor=p["thumb"], arrowsize=3 * PAD,
                    **current(root).scrollbar_no_grip())  # Tk 9 renamed gripcount to gripsize
    style.map("TScrollbar", background=[("pressed", p["thumb_active"]), ("active", p["thumb_active"])],
              lightcolor=[("pressed", p["thumb_active"]), ("active", p["thumb_active"])],
              darkcolor=[("pressed", p["thumb_active"]), ("active", p["thumb_active"])])
    style.configure("TSeparator", background=p["border"])

    # The chat list.
    rowheight = row_height(root)
    style.configure("Treeview", background=p["surface"], fieldbackground=p["surface"], foreground=p["text"],
                    bordercolor=p["border"], lightcolor=p["surface"], darkcolor=p["surface"],
                    rowheight=rowheight, font="TkDefaultFont")
    style.map("Treeview",
              background=[("selected", "focus", p["select"]), ("selected", p["select"])],
              foreground=[("selected", p["select_text"])],
              bordercolor=[("focus", p["accent"])],
              lightcolor=[("focus", p["accent"])])
    style.configure("Treeview.Heading", background=p["heading"], foreground=p["text"], bordercolor=p["border"],
                    lightcolor=p["heading"], darkcolor=p["heading"], relief="flat", padding=(PAD, PAD),
                    font="TkHeadingFont")
    style.map("Treeview.Heading", background=[("active", p["border"])])
    style.configure("Treeview.Item", padding=(PAD, 0))
    return style


def set_font_size(root: tk.Misc, size: int) -> None:
    """Resize the named fonts (every widget follows). Size in points, clamped to 8..28."""
    size = max(8, min(28, int(size)))
    for name in _NAMED:
        try:
            f = tkfont.nametofont(name, root=root)
        except tk.TclError:
            continue
        f.configure(size=size if name != "TkFixedFont" else size)
    tkfont.nametofont("TkHeadingFont", root=root).configure(weight="bold")
    tkfont.nametofont("TkSmallCaptionFont", root=root).configure(size=max(8, size - 2))
    try:
        empty = tkfont.nametofont("LimaEmptyFont", root=root)
    except tk.TclError:
        empty = tkfont.Font(root=root, name="LimaEmptyFont", exists=False)
    empty.configure(family=tkfont.nametofont("TkDefaultFont", root=root).cget("family"), size=size + 4)
    style = ttk.Style(root)
    if style.theme_use() == "clam":
        style.configure("Treeview", rowheight=row_height(root))


def row_height(root: tk.Misc) -> int:
    """A Treeview row height with air around the text, rounded up to a multiple of 4 px."""
    line = tkfont.nametofont("TkDefaultFont", root=root).metrics("linespace")
    h = line + 2 * PAD + 2
    return (h + PAD - 1) // PAD * PAD


_INDICATORS: weakref.WeakKeyDictionary[tk.Misc, dict] = weakref.WeakKeyDictionary()


def indicator_images(root: tk.Misc) -> dict:
    """The check/radio indicator images drawn for `root` ({} before the first dialog)."""
    return _INDICATORS.get(root, {})


def ensure_indicators(root: tk.Misc) -> None:
    """Check and radio indicators drawn as small anti-aliased images (clam's are tiny crosses).

    Made on first use (the first dialog), not at start-up: the main window has no checkbuttons."""
    style = ttk.Style(root)
    if "Lima.Checkbutton.indicator" in style.element_names():
        return
    size = max(14, round(float(root.tk.call("tk", "scaling")) * 11))
    imgs = {}
    for shape in ("check", "radio"):
        for state in ("off", "on", "mixed", "off_dis", "on_dis"):
            imgs[shape, state] = _indicator_image(root, size, shape, state)
    _INDICATORS[root] = imgs  # keep references alive as long as the root
    style.element_create(
        "Lima.Checkbutton.indicator", "image", imgs["check", "off"],
        ("disabled", "selected", imgs["check", "on_dis"]), ("disabled", imgs["check", "off_dis"]),
        ("alternate", imgs["check", "mixed"]), ("selected", imgs["check", "on"]),
        border=0, sticky="w", width=size + 2 * PAD,
    )
    style.element_create(
        "Lima.Radiobutton.indicator", "image", imgs["radio", "off"],
        ("disabled", "selected", imgs["radio", "on_dis"]), ("disabled", imgs["radio", "off_dis"]),
        ("selected", imgs["radio", "on"]),
        border=0, sticky="w", width=size + 2 * PAD,
    )
    for kind in ("Checkbutton", "Radiobutton"):
        style.layout(f"T{kind}", [(f"{kind}.padding", {"sticky": "nswe", "children": [
            (f"Lima.{kind}.indicator", {"side": "left", "sticky": ""}),
            (f"{kind}.focus", {"side": "left", "sticky": "w", "children": [
                (f"{kind}.label", {"sticky": "nswe"})]})]})])


def _indicator_image(root: tk.Misc, size: int, shape: str, state: str) -> tk.PhotoImage:
    """Rasterise one indicator with 4x4 supersampling; outside pixels are transparent."""
    p = PALETTE
    disabled = state.endswith("_dis")
    filled = state.startswith("on") or state == "mixed"
    fill = _rgb(p["border"] if disabled else p["accent"]) if filled else _rgb(p["surface"])
    edge = _rgb(p["border"] if disabled else (p["accent"] if filled else p["border_dark"]))
    mark = _rgb(p["surface"])
    img = tk.PhotoImage(master=root, width=size, height=size)
    r_box = size * 0.22 if shape == "check" else size / 2
    inset = 0.5
    lo, hi = inset, size - inset
    c = size / 2
    line_w = max(1.6, size / 8)
    check_pts = [(size * 0.26, size * 0.52), (size * 0.43, size * 0.69), (size * 0.75, size * 0.33)]
    rows = []
    for y in range(size):
        row = []
        for x in range(size):
            cover = border = mk = 0.0
            for sy in range(4):
                for sx in range(4):
                    px, py = x + (sx + 0.5) / 4, y + (sy + 0.5) / 4
                    d = _rounded_box_dist(px, py, lo, hi, r_box)
                    if d <= 0:
                        cover += 1
                        if d > -1.2:
                            border += 1
                        elif filled:
                            if shape == "radio" and (px - c) ** 2 + (py - c) ** 2 <= (size * 0.2) ** 2:
                                mk += 1
                            elif shape == "check" and state == "mixed" and abs(py - c) <= line_w / 2 \
                                    and size * 0.27 <= px <= size * 0.73:
                                mk += 1
                            elif shape == "check" and state != "mixed" and \
                                    _polyline_dist(px, py, check_pts) <= line_w / 2:
                                mk += 1
            n = 16.0
            if cover / n < 0.5:
                row.append(None)
                continue
            inner = 1 - border / cover
            m = mk / cover
            col = [edge[i] * (1 - inner) + fill[i] * inner for i in range(3)]
            if shape == "radio" and filled:
                col = [edge[i] * (1 - inner) + fill[i] * inner for i in range(3)]
            col = [col[i] * (1 - m) + mark[i] * m for i in range(3)]
            row.append("#{:02x}{:02x}{:02x}".format(*tuple(int(round(v)) for v in col)))
        rows.append(row)
    for y, row in enumerate(rows):
        for x, col in enumerate(row):
            if col is None:
                img.transparency_set(x, y, True)
            else:
                img.put(col, (x, y))
    return img


def _rounded_box_dist(x: float, y: float, lo: float, hi: float, r: float) -> float:
    """Signed distance to a rounded square [lo, hi]^2 with corner radius r (negative inside)."""
    c = (lo + hi) / 2
    half = (hi - lo) / 2 - r
    qx, qy = abs(x - c) - half, abs(y - c) - half
    outside = (max(qx, 0) ** 2 + max(qy, 0) ** 2) ** 0.5
    return outside + min(max(qx, qy), 0) - r


def _polyline_dist(x: float, y: float, pts: list[tuple[float, float]]) -> float:
    best = 1e9
    for (ax, ay), (bx, by) in zip(pts, pts[1:], strict=False):
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
        best = min(best, ((x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2) ** 0.5)
    return best


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def palette() -> dict[str, str]:
    return dict(PALETTE)


def wrap_to_width(label: ttk.Label, margin: int = 32) -> None:
    """A status label whose text wraps to the width it gets, rather than being cut (issue 13: a cut
    status read "Stopped: the text so far is kep")."""

    def on_configure(event: tk.Event) -> None:
        width = max(80, event.width - margin)
        if int(str(label.cget("wraplength") or 0)) != width:
            label.configure(wraplength=width)

    label.bind("<Configure>", on_configure, add="+")
