"""Ponder's name, icon and promise, as every window shows them."""

from __future__ import annotations

from PySide6.QtGui import QIcon, QPixmap

from model_runtime.paths import resources_dir

RESOURCES = resources_dir()
ICONS = RESOURCES / "icons"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

TAGLINE = "Private, offline chat with reasoning models, on llama.cpp."
PRIVACY_TITLE = "Your conversations stay on this computer"
PRIVACY_PROMISE = (
    "Ponder runs models here, on your own hardware: no account, no telemetry, no cloud. What "
    "you write and what the model answers stay on this computer, unless you choose a remote "
    "engine or RPC workers of your own. Ponder goes online to the Hugging Face Hub only from "
    "the model manager: its catalog and searches read model lists and sizes, and downloads "
    "you start fetch the files. Offline mode (Settings → Privacy) stops all of that; the "
    "network log there lists every connection."
)


def app_icon() -> QIcon:
    """The app icon: the rendered PNG sizes, or the SVG where they are missing."""
    icon = QIcon()
    for size in ICON_SIZES:
        png = ICONS / f"ponder-{size}.png"
        if png.is_file():
            icon.addFile(str(png))
    if icon.isNull() and (ICONS / "ponder.svg").is_file():
        icon = QIcon(str(ICONS / "ponder.svg"))
    return icon


def icon_pixmap(size: int) -> QPixmap:
    """The icon at `size` logical pixels (sharp on high-DPI screens)."""
    return app_icon().pixmap(size, size)
