"""The conversation list: grouped by date, full-text search, rename, delete with undo, export."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.chat.rename_dialog import RenameDialog
from desktop.chat.sidebar_rows import (
    DETAIL_ROLE,
    ID_ROLE,
    MESSAGE_ROLE,
    ConversationDelegate,
    conversation_runs,
    date_group,
    hit_runs,
    plain_text,
)
from desktop.common.undo_bar import UNDO_SECONDS, UndoBar
from model_runtime.conversations.records import Conversation, SearchHit
from model_runtime.conversations.store import ConversationStore
from model_runtime.errors import StorageError

__all__ = ["ID_ROLE", "MESSAGE_ROLE", "UNDO_SECONDS", "Sidebar", "date_group"]

SEARCH_DELAY_MS = 200


class ConversationList(QListWidget):
    """The rows. The highlight is the open chat: arrow keys open the chat they move to, and a
    right-click opens the row's menu without moving the highlight away from the open chat."""

    moved_to = Signal(object)  # QListWidgetItem the keyboard moved to

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conversationList")
        self.setItemDelegate(ConversationDelegate(self))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            event.accept()  # the menu comes from the context-menu event; the highlight stays
            return
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        before = self.currentItem()
        super().keyPressEvent(event)
        current = self.currentItem()
        if current is not before and current is not None and current.data(ID_ROLE) is not None:
            self.moved_to.emit(current)


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
        self.menu: QMenu | None = None  # the last row menu shown
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
        self.list = ConversationList(self)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemClicked.connect(self._activate)
        self.list.itemActivated.connect(self._activate)
        self.list.moved_to.connect(self._activate)
        self.undo_bar = UndoBar(self)  # cut to the sidebar's width: it never widens it
        self.undo_label = self.undo_bar.label
        self.undo_button = self.undo_bar.button
        self.undo_bar.undo_requested.connect(self.undo_delete)
        self.undo_bar.expired.connect(self._forget_deleted)
        self._undo_timer = self.undo_bar.timer
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
            self._list_hits(self.store.search(query, in_files=self.in_files.isChecked()))
            return
        group = None
        for conversation in self.store.conversations():
            heading = date_group(conversation.updated)
            if heading != group:
                group = heading
                self._heading(heading)
            self._add(conversation)

    def _list_hits(self, hits: list[SearchHit]) -> None:
        """One row per chat, at its best match; how many more it has is said."""
        if not hits:
            self._heading("No matches")
        best: dict[int, SearchHit] = {}
        counts: dict[int, int] = {}
        for hit in hits:
            best.setdefault(hit.conversation_id, hit)
            counts[hit.conversation_id] = counts.get(hit.conversation_id, 0) + 1
        for conversation_id, hit in best.items():
            title = hit.title or "Untitled"
            runs = hit_runs(hit, counts[conversation_id] - 1)
            item = QListWidgetItem(title)
            item.setData(ID_ROLE, conversation_id)
            item.setData(MESSAGE_ROLE, hit.message_id)
            item.setData(DETAIL_ROLE, runs)
            item.setToolTip(f"{title}\n{plain_text(runs)}")
            self.list.addItem(item)
            if conversation_id == self.current_id:
                self.list.setCurrentItem(item)

    def _heading(self, text: str) -> None:
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        font = item.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 0.85)
        item.setFont(font)
        self.list.addItem(item)

    def _add(self, conversation: Conversation) -> None:
        title = conversation.title or "New chat"
        runs = conversation_runs(conversation)
        item = QListWidgetItem(title)
        item.setData(ID_ROLE, conversation.id)
        item.setData(DETAIL_ROLE, runs)
        item.setToolTip(f"{title}\n{plain_text(runs)}")
        self.list.addItem(item)
        if conversation.id == self.current_id:
            self.list.setCurrentItem(item)

    def items(self) -> list[QListWidgetItem]:
        """The selectable rows (not the date headings)."""
        rows = (self.list.item(i) for i in range(self.list.count()))
        return [item for item in rows if item.data(ID_ROLE) is not None]

    def set_current(self, conversation_id: int | None) -> None:
        """Highlight the open chat (and only it): the keyboard moves on from there."""
        self.current_id = conversation_id
        for item in self.items():
            if item.data(ID_ROLE) == conversation_id:
                self.list.setCurrentItem(item)
                return
        self.list.setCurrentRow(-1)
        self.list.clearSelection()

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
        """The row's menu, shown without waiting for it (the highlight stays on the open chat)."""
        item = self.list.itemAt(position)
        if item is None or item.data(ID_ROLE) is None:
            return
        conversation_id = int(item.data(ID_ROLE))
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
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
        self.menu = menu
        menu.popup(self.list.viewport().mapToGlobal(position))

    def rename(self, conversation_id: int, title: str | None = None) -> None:
        if title is None:
            dialog = RenameDialog(self.store.conversation(conversation_id).title, self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            title = dialog.title()
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
        self.undo_bar.offer(f"Deleted “{title}”")
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
        self.undo_bar.dismiss()
        self.refresh()
        self.conversation_selected.emit(restored)

    def _forget_deleted(self) -> None:
        """Past the undo window: the conversation is removed for good."""
        if self._deleted is not None:
            self._deleted = None
            with contextlib.suppress(StorageError):  # then the next start removes it
                self.store.purge_deleted()
        self.undo_bar.dismiss()

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
