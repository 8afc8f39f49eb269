"""The model picker's drop-down: the models used lately, those on this computer, the remote
engines, then "Open a file…" and "Manage models…".

A model whose file has gone is a greyed row marked missing, with Remove beside it: it has no
action that could load it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QToolButton, QWidget, QWidgetAction

from model_runtime.models.choices import ModelChoice
from model_runtime.serving.endpoints import Endpoint
from model_runtime.units import size_text


def choice_text(choice: ModelChoice) -> str:
    """'DeepSeek R1 Distill Qwen 7B · Q4_K_M · 4.4 GiB'."""
    parts = [choice.name, choice.quant, size_text(choice.size) if choice.size else ""]
    return " · ".join(part for part in parts if part)


def endpoint_text(endpoint: Endpoint) -> str:
    """'lab server · deepseek-r1 · another computer'."""
    where = "another computer" if endpoint.leaves_this_computer else "this computer"
    return " · ".join(part for part in (endpoint.name, endpoint.model or "", where) if part)


def add_heading(menu: QMenu, text: str) -> None:
    """A section's title: words, not something to choose."""
    label = QLabel(text, menu)
    label.setObjectName("pickerSection")
    label.setContentsMargins(10, 6, 10, 2)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    heading = QWidgetAction(menu)
    heading.setDefaultWidget(label)
    menu.addAction(heading)


def add_choice(
    menu: QMenu, choice: ModelChoice, current: bool, choose: Callable[[ModelChoice], None]
) -> QAction:
    """A model to load; checked when it is the one in use."""
    action = QAction(choice_text(choice), menu)
    action.setCheckable(True)
    action.setChecked(current)
    action.setToolTip(str(choice.path))
    action.triggered.connect(lambda _checked=False: choose(choice))
    menu.addAction(action)
    return action


def add_missing(
    menu: QMenu, choice: ModelChoice, remove: Callable[[ModelChoice], None]
) -> QWidgetAction:
    """A model whose file has gone: greyed, "missing", and a Remove button (nothing loads it)."""
    row = QWidget(menu)
    row.setObjectName("missingRow")
    label = QLabel(f"{choice.name} — missing", row)
    label.setObjectName("missingModel")
    label.setEnabled(False)
    where = choice.listed_as or choice.ref.value
    label.setToolTip(f"{where}\nThe file is gone (moved or deleted).")
    button = QToolButton(row)
    button.setObjectName("removeMissing")
    button.setText("Remove")
    button.setToolTip("Take it off the list (no file is touched)")
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 4, 0)
    layout.addWidget(label, 1)
    layout.addWidget(button)
    action = QWidgetAction(menu)
    action.setDefaultWidget(row)
    action.setData("missing")

    def removed() -> None:
        remove(choice)
        menu.removeAction(action)

    button.clicked.connect(removed)
    menu.addAction(action)
    return action
