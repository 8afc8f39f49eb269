"""Every colour Ponder uses, one table per theme: the one place a colour is written.

The Qt palette, the style sheet (resources/themes/ponder.qss names these fields as ``@field``),
the Markdown HTML of answers, the code boxes' Pygments style and the colours set in code all
come from the active table. Qt-free: the Markdown renderer reads it too. desktop/common/theme.py
chooses the table and applies it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Colours:
    """One theme's colours, as ``#rrggbb``. Text colours are named for what they sit on."""

    name: str
    dark: bool
    window: str  # the window, the chat page, dialogs
    text: str  # body text
    secondary: str  # subtitles, advice
    muted: str  # notes, figures, the thinking text, group headings
    base: str  # inputs, lists, tables, chips
    raised: str  # the thinking pane, alternate rows
    hover: str
    button: str
    shadow: str  # the darkest edge of Fusion's bevels
    border: str
    border_strong: str
    accent: str  # the primary buttons, the selection, progress
    on_accent: str
    accent_soft: str  # the user's bubble, selected rows, badges
    accent_border: str
    focus: str
    accent_disabled: str
    on_accent_disabled: str
    info_bg: str
    on_info: str
    link: str
    error: str  # on window
    error_bg: str
    error_border: str
    on_error: str  # on error_bg
    warning: str  # on window
    warning_bg: str
    warning_border: str
    on_warning: str  # on warning_bg
    success: str
    success_bg: str
    track: str  # an empty bar
    over: str  # a memory bar past what is available
    disabled_bg: str
    disabled_text: str
    code_bg: str
    code_header: str
    code_border: str
    code_muted: str
    pygments: str  # the Pygments style of code boxes, chosen for its contrast on code_bg


LIGHT = Colours(
    name="light",
    dark=False,
    window="#fafafa",
    text="#1b1f27",
    secondary="#444b57",
    muted="#595f69",
    base="#ffffff",
    raised="#f1f3f6",
    hover="#eceff3",
    button="#f3f4f6",
    shadow="#767676",
    border="#e3e5e8",
    border_strong="#c4cad2",
    accent="#3c64d6",
    on_accent="#ffffff",
    accent_soft="#e8eefc",
    accent_border="#c9d6f5",
    focus="#5b7fdb",
    accent_disabled="#b8c3de",
    on_accent_disabled="#f4f6fb",
    info_bg="#eef2fb",
    on_info="#2b3a5c",
    link="#0860c8",
    error="#b3261e",
    error_bg="#fdecea",
    error_border="#f3c1bb",
    on_error="#7a1c15",
    warning="#8f4a00",
    warning_bg="#fff4e0",
    warning_border="#e0a030",
    on_warning="#6e3d00",
    success="#1b6e2c",
    success_bg="#e6f4ea",
    track="#e2e6ec",
    over="#d93025",
    disabled_bg="#e3e5e8",
    disabled_text="#8a9099",
    code_bg="#f6f8fa",
    code_header="#eaeef2",
    code_border="#d0d7de",
    code_muted="#525a64",
    pygments="default",
)

DARK = Colours(
    name="dark",
    dark=True,
    window="#1c1d21",
    text="#e6e7ea",
    secondary="#c9ccd3",
    muted="#aab0b9",
    base="#26282d",
    raised="#24262b",
    hover="#2e3137",
    button="#2c2f35",
    shadow="#000000",
    border="#363940",
    border_strong="#4a4e57",
    accent="#3d63cf",
    on_accent="#ffffff",
    accent_soft="#26345a",
    accent_border="#3a4d80",
    focus="#6d8fe8",
    accent_disabled="#34405e",
    on_accent_disabled="#8c95a8",
    info_bg="#232c42",
    on_info="#c8d6f5",
    link="#6ea8fe",
    error="#ff8a80",
    error_bg="#3d2022",
    error_border="#6b3035",
    on_error="#ffc9c4",
    warning="#f0b35a",
    warning_bg="#3a2d17",
    warning_border="#8a6420",
    on_warning="#ffd9a0",
    success="#7ccf8a",
    success_bg="#1d3324",
    track="#3a3d45",
    over="#e5534b",
    disabled_bg="#2c2e33",
    disabled_text="#7d828c",
    code_bg="#161b22",
    code_header="#21262d",
    code_border="#30363d",
    code_muted="#9ba4ae",
    pygments="github-dark",
)

THEMES: dict[str, Colours] = {LIGHT.name: LIGHT, DARK.name: DARK}
NAMES = tuple(f.name for f in fields(Colours) if f.type == "str" and f.name not in ("name",))
"""The colour fields (what ``@name`` may say in the style sheet); ``pygments`` is a style name."""

_current = LIGHT


def current() -> Colours:
    """The active theme's colours (the light ones until a theme is applied)."""
    return _current


def set_current(colours: Colours) -> None:
    """Make a table the active one; desktop/common/theme.py calls this, then tells the views."""
    global _current
    _current = colours
