"""The conversation list: grouped by date, full-text search, rename, delete with undo, export."""

from __future__ import annotations

import contextlib
import json
from datetime import date, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from model_runtime.conversations.records import Conversation
from model_runtime.conversations.store import ConversationStore
from model_runtime.errors import StorageError

UNDO_SECONDS = 10
SEARCH_DELAY_MS = 200
ID_ROLE = Qt.ItemDataRole.UserRole
MESSAGE_ROLE = Qt.ItemDataRole.UserRole + 1


def date_group(updated: float, today: date | None = None) -> str:
    """The heading a conversation is listed under."""
    today = today or date.today()
    day = datetime.fromtimestamp(updated).date()
    if day >= today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day > today - timedelta(days=7):
        return "Previous 7 days"
    if day > today - timedelta(days=30):
        return "Previous 30 days"
    return "Older"


class Sidebar(QWidget):
    """Lists the store's conversations; selecting one opens it."""

    conversation_selected = Signal(int)
    search_hit_selected = Signal(int, int)  # conversation id, message id
    conversation_deleted = Signal(int)
    new_chat_requested = Signal()
    save_failed = Signal(object, str)  # a StorageError, and what it was ("rename", "delete", …)

    def __init__(self, store: ConversationStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.store = store
        self.current_id: int | None = None
        self._deleted: int | None = None
        self.new_button = QPushButton("+  New chat", self)
        self.new_button.setObjectName("newChatButton")
        self.new_button.clicked.connect(self.new_chat_requested)
        self.search = QLineEdit(self)
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText("Search chats and reasoning (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.in_files = QCheckBox("Also search inside attached files", self)
        self.in_files.setObjectName("searchInFiles")
        self.in_files.setToolTip("File names are always searched; this adds the files' text")
        self.in_files.hide()
        self.in_files.toggled.connect(self.refresh)
        self.list = QListWidget(self)
        self.list.setObjectName("conversationList")
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemClicked.connect(self._activate)
        self.list.itemActivated.connect(self._activate)
        self.undo_bar = QWidget(self)
        self.undo_bar.setObjectName("undoBar")
        self.undo_label = QLabel(self.undo_bar)
        self.undo_button = QPushButton("Undo", self.undo_bar)
        self.undo_button.clicked.connect(self.undo_delete)
        undo_layout = QHBoxLayout(self.undo_bar)
        undo_layout.setContentsMargins(8, 4, 8, 4)
        undo_layout.addWidget(self.undo_label, 1)
        undo_layout.addWidget(self.undo_button)
        self.undo_bar.hide()
        self._undo_timer = QTimer(self)
        self._undo_timer.setSingleShot(True)
        self._undo_timer.setInterval(UNDO_SECONDS * 1000)
        self._undo_timer.timeout.connect(self._forget_deleted)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._search_timer.start)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.in_files)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.undo_bar)
        self.refresh()

    # -- listing ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Rebuild the list from the store (conversations, or search hits)."""
        self.list.clear()
        query = self.search.text().strip()
        self.in_files.setVisible(bool(query))
        if query:
            hits = self.store.search(query, in_files=self.in_files.isChecked())
            if not hits:
                self._heading("No matches")
            for hit in hits:
                where = "reasoning" if hit.in_reasoning else "chat"
                where = f"file {hit.in_file}" if hit.in_file else where
                excerpt = " ".join(hit.excerpt.split())  # one line, whatever the text's breaks
                item = QListWidgetItem(f"{hit.title or 'Untitled'}\n{where}: {excerpt}")
                item.setData(ID_ROLE, hit.conversation_id)
                item.setData(MESSAGE_ROLE, hit.message_id)
                item.setToolTip(hit.excerpt)
                self.list.addItem(item)
            return
        group = None
        for conversation in self.store.conversations():
            heading = date_group(conversation.updated)
            if heading != group:
                group = heading
                self._heading(heading)
            self._add(conversation)

    def _heading(self, text: str) -> None:
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        font = item.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 0.85)
        item.setFont(font)
        self.list.addItem(item)

    def _add(self, conversation: Conversation) -> None:
        item = QListWidgetItem(conversation.title or "New chat")
        item.setData(ID_ROLE, conversation.id)
        item.setToolTip(conversation.model)
        self.list.addItem(item)
        if conversation.id == self.current_id:
            item.setSelected(True)

    def items(self) -> list[QListWidgetItem]:
        """The selectable rows (not the date headings)."""
        rows = (self.list.item(i) for i in range(self.list.count()))
        return [item for item in rows if item.data(ID_ROLE) is not None]

    def set_current(self, conversation_id: int | None) -> None:
        self.current_id = conversation_id
        for item in self.items():
            item.setSelected(item.data(ID_ROLE) == conversation_id)

    def _activate(self, item: QListWidgetItem) -> None:
        conversation_id = item.data(ID_ROLE)
        if conversation_id is None:
            return
        message_id = item.data(MESSAGE_ROLE)
        if message_id is not None:
            self.search_hit_selected.emit(conversation_id, message_id)
        else:
            self.conversation_selected.emit(conversation_id)

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    # -- actions ---------------------------------------------------------------------------

    def _menu(self, position: QPoint) -> None:
        item = self.list.itemAt(position)
        if item is None or item.data(ID_ROLE) is None:
            return
        conversation_id = int(item.data(ID_ROLE))
        menu = QMenu(self)
        entries = [
            ("Rename…", lambda: self.rename(conversation_id)),
            ("Export as Markdown…", lambda: self.export(conversation_id, "md")),
            ("Export as Markdown without reasoning…", lambda: self.export(conversation_id, "txt")),
            ("Export as JSON…", lambda: self.export(conversation_id, "json")),
            ("Delete", lambda: self.delete(conversation_id)),
        ]
        for text, slot in entries:
            action = QAction(text, menu)
            action.triggered.connect(slot)
            menu.addAction(action)
        menu.exec(self.list.viewport().mapToGlobal(position))

    def rename(self, conversation_id: int, title: str | None = None) -> None:
        if title is None:
            current = self.store.conversation(conversation_id).title
            title, ok = QInputDialog.getText(self, "Rename chat", "Title:", text=current)
            if not ok:
                return
        if title.strip():
            try:
                self.store.rename(conversation_id, title)
            except StorageError as exc:
                self.save_failed.emit(exc, "rename")
                return
            self.refresh()

    def delete(self, conversation_id: int) -> None:
        """Delete at once; Undo brings it back for UNDO_SECONDS."""
        self._forget_deleted()
        title = self.store.conversation(conversation_id).title or "chat"
        try:
            self.store.delete(conversation_id)
        except StorageError as exc:
            self.save_failed.emit(exc, "delete")
            return
        self._deleted = conversation_id
        self.undo_label.setText(f"Deleted “{title}”")
        self.undo_bar.show()
        self._undo_timer.start()
        self.refresh()
        self.conversation_deleted.emit(conversation_id)

    def undo_delete(self) -> None:
        if self._deleted is None:
            return
        try:
            self.store.undo_delete(self._deleted)
        except StorageError as exc:
            self.save_failed.emit(exc, "undo")
            return
        restored = self._deleted
        self._deleted = None
        self.undo_bar.hide()
        self._undo_timer.stop()
        self.refresh()
        self.conversation_selected.emit(restored)

    def _forget_deleted(self) -> None:
        """Past the undo window: the conversation is removed for good."""
        if self._deleted is not None:
            self._deleted = None
            with contextlib.suppress(StorageError):  # then the next start removes it
                self.store.purge_deleted()
        self.undo_bar.hide()

    def export(self, conversation_id: int, kind: str, path: str | None = None) -> Path | None:
        """Write the conversation to a file: md (with reasoning), txt (md without), json."""
        title = self.store.conversation(conversation_id).title or "chat"
        if path is None:
            suffix = "json" if kind == "json" else "md"
            safe = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip()
            path, _ = QFileDialog.getSaveFileName(
                self, "Export chat", f"{safe or 'chat'}.{suffix}", f"*.{suffix}"
            )
            if not path:
                return None
        if kind == "json":
            text = json.dumps(self.store.export_json(conversation_id), indent=2, ensure_ascii=False)
        else:
            text = self.store.export_markdown(conversation_id, reasoning=kind == "md")
        target = Path(path)
        target.write_text(text, encoding="utf-8")
        return target
