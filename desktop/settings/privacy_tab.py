"""Settings → Privacy: the offline switch, and every connection Ponder has made — when, to which
host, why, whether it was answered, and how many bytes went each way."""

from __future__ import annotations

import os
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.common.colours import current
from model_runtime import netlog
from model_runtime.units import size_text

OFFLINE_NOTE = (
    "Chatting and loading models never use the network. Ponder connects only for what you do "
    "with the internet: the model manager reads the recommended models' sizes from the "
    "Hugging Face Hub when it opens, and asks the Hub again when you search, download or save "
    "a token; remote engines and RPC workers you add are reached at their addresses. Offline "
    "mode refuses every one of those connections."
)
COLUMNS = ("When", "Host", "Why", "Request", "Result", "Sent", "Received")
RESULT, SENT, RECEIVED = 4, 5, 6
NOT_RECORDED = (
    "No outcome logged: still open, cut off when Ponder stopped, or logged by an older Ponder."
)


def local_time(iso: str) -> str:
    """An ISO 8601 UTC time from the log, in this computer's time zone."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def env_forces_offline() -> bool:
    """True when PONDER_OFFLINE=1 (or true/yes/on) holds Ponder offline whatever the setting."""
    return os.environ.get(netlog.OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def result_text(event: netlog.NetworkEvent) -> str:
    """How a connection ended, in a word or two ('HTTP 200 OK', 'No network', 'Dropped',
    'Failed'), or '—' when not known; the whole story is in the cell's tooltip."""
    if event.succeeded is None:
        return "—"
    if event.succeeded:
        return event.detail or "Answered"
    for start, words in (("no network", "No network"), ("dropped", "Dropped")):
        if event.detail.startswith(start):
            return words
    return "Failed"


def result_tip(event: netlog.NetworkEvent) -> str:
    if event.succeeded is None:
        return NOT_RECORDED
    if event.succeeded:
        return f"Answered: {event.detail}" if event.detail else "Answered"
    return f"Failed: {event.detail}" if event.detail else "Failed"


def bytes_text(n: int | None) -> str:
    return "—" if n is None else size_text(n)


def summary_text(events: list[netlog.NetworkEvent]) -> str:
    """The log in one or two sentences (events newest first)."""
    if not events:
        return "No connection logged: Ponder has not used the network."
    last = events[0]
    text = (
        f"{len(events)} connection{'s' if len(events) != 1 else ''} logged; the last "
        f"on {local_time(last.time)} to {last.host} ({last.purpose})."
    )
    failed = sum(1 for e in events if e.succeeded is False)
    if failed:
        text += f" {failed} failed."
    sent = sum(e.sent or 0 for e in events)
    received = sum(e.received or 0 for e in events)
    if any(e.succeeded is not None for e in events):
        text += f" In all {size_text(sent)} sent, {size_text(received)} received."
    return text


def _label(text: str, parent: QWidget, name: str = "") -> QLabel:
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


class PrivacyTab(QWidget):
    """The offline switch, and every connection Ponder has made: when, to which host, and why."""

    offline_changed = Signal(bool)  # the switch was turned (the model manager follows at once)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.offline = QCheckBox("Offline mode: make no network connection at all", self)
        self.offline.setObjectName("offlineSwitch")
        note = _label(OFFLINE_NOTE, self, "settingsNote")
        self.forced_note = _label(
            f"{netlog.OFFLINE_ENV}=1 is set, so Ponder is offline whatever this says.",
            self,
            "settingsNote",
        )
        self.summary = _label("", self)
        self.table = self._make_table()
        self.refresh_button = QPushButton("Refresh", self)
        self.clear_button = QPushButton("Clear log", self)
        buttons = QHBoxLayout()
        buttons.addWidget(_label(f"Kept in {netlog.log_path()}", self, "settingsNote"), 1)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.offline)
        layout.addWidget(note)
        layout.addWidget(self.forced_note)
        layout.addSpacing(8)
        title = QLabel("Network log", self)
        title.setObjectName("sectionTitle")
        layout.addWidget(title)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

        self.offline.toggled.connect(self._on_offline_toggled)
        self.refresh_button.clicked.connect(self.refresh)
        self.clear_button.clicked.connect(self._clear)
        self.refresh()

    def _make_table(self) -> QTableWidget:
        table = QTableWidget(0, len(COLUMNS), self)
        table.setObjectName("networkLog")
        table.setHorizontalHeaderLabels(COLUMNS)
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)  # the request's path
        return table

    def refresh(self) -> None:
        """Read the offline state and the log again."""
        forced = env_forces_offline()
        self.offline.blockSignals(True)
        self.offline.setChecked(netlog.is_offline())
        self.offline.blockSignals(False)
        self.offline.setEnabled(not forced)
        self.forced_note.setVisible(forced)
        events = list(reversed(netlog.read_log()))  # newest first
        self.table.setRowCount(len(events))
        for row, event in enumerate(events):
            self._show_event(row, event)
        self.summary.setText(summary_text(events))

    def _show_event(self, row: int, event: netlog.NetworkEvent) -> None:
        cells = (
            local_time(event.time),
            event.host,
            event.purpose,
            f"{event.method} {event.target}",
            result_text(event),
            bytes_text(event.sent),
            bytes_text(event.received),
        )
        items = [QTableWidgetItem(text) for text in cells]
        for column, item in enumerate(items):
            item.setToolTip(item.text())
            self.table.setItem(row, column, item)
        items[RESULT].setToolTip(result_tip(event))
        if event.succeeded is False:
            items[RESULT].setForeground(QBrush(QColor(current().error)))
        for column, count in ((SENT, event.sent), (RECEIVED, event.received)):
            items[column].setTextAlignment(
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
            if count is not None:
                items[column].setToolTip(f"{count:,} bytes (HTTP headers and body)")

    def _on_offline_toggled(self, offline: bool) -> None:
        netlog.set_offline_setting(offline)
        self.refresh()
        self.offline_changed.emit(offline)

    def _clear(self) -> None:
        netlog.clear_log()
        self.refresh()
