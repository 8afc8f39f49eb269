"""The files the next question takes: a chip per file above the composer (name, kind, size, tokens
for the loaded model), read and counted off the GUI thread, each with what is wrong with it or
the choice a file too long for the context needs; and files dropped anywhere on the window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.common.background import Task, Tasks
from desktop.common.error_messages import describe
from desktop.common.style_state import set_state
from model_runtime.attachments.budget import (
    FILE_OVERHEAD,
    MIN_PASSAGE_ROOM,
    ContextRoom,
    cost,
    estimate_tokens,
)
from model_runtime.attachments.files import AttachedFile, check_unchanged, same_file_key
from model_runtime.attachments.limits import Limits
from model_runtime.attachments.prompt import Included, Mode
from model_runtime.attachments.reading import read_attachment
from model_runtime.errors import AttachmentError

Counter = Callable[[str], int | None]  # None: the engine can't count (estimate instead)
BADGES = {"text": "TXT", "pdf": "PDF", "docx": "DOCX", "html": "HTML"}


def local_paths(mime) -> list[str]:
    """The local files among a drag's or a paste's URLs."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


class AttachmentChip(QFrame):
    """One file: reading → counting → ready (or failed), with its problem or choices."""

    remove_requested = Signal(object)  # this chip
    passages_chosen = Signal(object)  # this chip
    larger_requested = Signal(int)  # a context size

    def __init__(self, name: str, key: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentChip")
        self.key = key  # the file's path, made comparable; "" for pasted text
        self.state = "reading"
        self.file: AttachedFile | None = None
        self.tokens: int | None = None
        self.estimated = False
        self.mode: Mode = "whole"
        self.fits = True
        self.error = ""
        self.badge = QLabel(Path(name).suffix.lstrip(".").upper()[:5] or "…", self)
        self.badge.setObjectName("attachmentBadge")
        self.name = QLabel(name, self)
        self.name.setObjectName("attachmentName")
        self.details = QLabel(self)
        self.details.setObjectName("attachmentDetails")
        self.remove = QPushButton("×", self)
        self.remove.setObjectName("attachmentRemove")
        self.remove.setToolTip("Remove this file (while it is read: stop reading it)")
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))
        self.status = QLabel(self)
        self.status.setObjectName("attachmentStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.larger = QPushButton(self)
        self.larger.setObjectName("attachmentChoice")
        self.larger.clicked.connect(lambda: self.larger_requested.emit(self.larger.property("ctx")))
        self.passages = QPushButton("Use the relevant passages", self)
        self.passages.setObjectName("attachmentChoice")
        self.passages.setToolTip(
            "Cut the file into passages and send those that best match your question"
        )
        self.passages.clicked.connect(lambda: self.passages_chosen.emit(self))
        self.larger.hide()  # the choices of a file too long for the context
        self.passages.hide()
        self._layout(name)
        self.show_progress("bytes", 0, 0)

    def _layout(self, name: str) -> None:
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setSpacing(6)
        top.addWidget(self.badge)
        top.addWidget(self.name)
        top.addWidget(self.details, 1)
        top.addWidget(self.remove)
        choices = QHBoxLayout()
        choices.setContentsMargins(0, 0, 0, 0)
        choices.addWidget(self.status, 1)
        choices.addWidget(self.larger)
        choices.addWidget(self.passages)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(choices)
        self.name.setToolTip(name)

    # -- what the chip shows -----------------------------------------------------------------

    def show_progress(self, unit: str, done: int, total: int) -> None:
        if unit == "pages" and total:
            self._say(f"Reading page {done:,} of {total:,}…")
        elif total:
            self._say(f"Reading… {100 * done // total}%")
        else:
            self._say("Reading…")

    def set_file(self, file: AttachedFile) -> None:
        self.file = file
        self.state = "counting"
        self.badge.setText(BADGES.get(file.kind, file.kind.upper()))
        self._describe()
        self._say("")

    def set_tokens(self, tokens: int | None) -> None:
        """The count for the loaded model, or None: an estimate until a model can count."""
        assert self.file is not None
        self.estimated = tokens is None
        self.tokens = estimate_tokens(self.file.text) if tokens is None else tokens
        self.state = "ready"
        self._describe()

    def fail(self, exc: BaseException) -> None:
        self.state = "failed"
        title, message = describe(exc)
        self.error = message if isinstance(exc, AttachmentError) else f"{title}: {message}"
        set_state(self, "failed", True)
        self.larger.hide()
        self.passages.hide()
        self._say(self.error)

    def _describe(self) -> None:
        if self.file is None:
            return
        parts = [self.file.describe()]
        if self.state == "counting":
            parts.append("counting tokens…")
        elif self.tokens is not None:
            parts.append(f"{'≈ ' if self.estimated else ''}{self.tokens:,} tokens")
        if self.mode == "passages":
            parts.append("relevant passages")
        self.details.setText(" · ".join(parts))

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def judge(self, room: ContextRoom | None, before: int) -> None:
        """Whether the file fits whole after `before` tokens of other files; if not, say so and
        offer what can be done: a larger context that fits this computer, or passages."""
        if self.state != "ready":
            return
        needed = cost(self.included())
        self.fits = room is None or self.mode == "passages" or before + needed <= room.free
        set_state(self, "tooLong", not self.fits)
        self.larger.hide()
        self.passages.hide()
        self._describe()
        if self.fits or room is None:
            self._say("")
            return
        larger = room.larger(before + needed)
        free = max(0, room.free - before)
        self._say(
            f"Too long for the context: it needs {needed:,} tokens and {free:,} are free."
            + ("" if larger or free >= MIN_PASSAGE_ROOM else " Start a new chat to make room.")
        )
        if larger:
            self.larger.setText(f"Reload with a {larger:,}-token context")
            self.larger.setToolTip(
                f"A context of {larger:,} tokens fits this computer; the model loads again"
            )
            self.larger.setProperty("ctx", larger)
            self.larger.show()
        self.passages.setVisible(free - FILE_OVERHEAD >= MIN_PASSAGE_ROOM)

    def included(self) -> Included:
        assert self.file is not None
        return Included(self.file, self.mode, (), 0 if self.estimated else self.tokens or 0)


class AttachmentStrip(QWidget):
    """The chips of the next question; tells the composer whether it may send."""

    changed = Signal()  # chips came, went, were read, counted or judged
    larger_context_requested = Signal(int)

    def __init__(
        self,
        count: Counter | None = None,
        limits: Limits | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentStrip")
        self.count = count or (lambda _text: None)
        self.limits = limits
        self.room: ContextRoom | None = None
        self.chips: list[AttachmentChip] = []
        self.tasks = Tasks(self)
        self._tasks: dict[AttachmentChip, Task] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(16, 8, 16, 0)
        self._layout.setSpacing(4)
        self.hide()

    # -- adding and removing -------------------------------------------------------------------

    def attach_paths(self, paths: Sequence[str]) -> None:
        """Read each file in the background (one chip each; a file already here is skipped)."""
        for path in paths:
            key = same_file_key(path)
            if any(chip.key == key for chip in self.chips):
                continue
            self._read(self._add(AttachmentChip(Path(path).name, key)), path)

    def _read(self, chip: AttachmentChip, path: str) -> None:
        def work(task: Task) -> AttachedFile:
            return read_attachment(
                path,
                limits=self.limits,
                cancel=task.cancel,
                progress=lambda *step: task.report(step),
            )

        def progressed(step: tuple[str, int, int]) -> None:
            if chip in self.chips:  # a page may arrive after the chip was removed
                chip.show_progress(*step)

        self._tasks[chip] = self.tasks.start(
            work,
            on_result=lambda file: self._on_read(chip, file),
            on_error=lambda exc: self._on_failed(chip, exc),
            on_progress=progressed,
        )

    def attach_file(self, file: AttachedFile) -> None:
        """A file already read (pasted text): count it."""
        self._on_read(self._add(AttachmentChip(file.name)), file)

    def restore(self, items: Sequence[Included]) -> None:
        """Files of a question that went back to the composer, as they were."""
        for item in items:
            key = same_file_key(item.file.path) if item.file.path else ""
            chip = self._add(AttachmentChip(item.file.name, key))
            chip.set_file(item.file)
            chip.mode = item.mode
            chip.set_tokens(item.tokens or None)
        self._judge()

    def _add(self, chip: AttachmentChip) -> AttachmentChip:
        chip.remove_requested.connect(self.remove)
        chip.passages_chosen.connect(self._use_passages)
        chip.larger_requested.connect(self.larger_context_requested)
        self._layout.addWidget(chip)
        self.chips.append(chip)
        self.show()
        self.changed.emit()
        return chip

    def remove(self, chip: AttachmentChip) -> None:
        """Take a chip away; a file still being read stops being read."""
        task = self._tasks.pop(chip, None)
        if task is not None:
            task.cancel.set()
        if chip in self.chips:
            self.chips.remove(chip)
            self._layout.removeWidget(chip)
            chip.deleteLater()
        self.setVisible(bool(self.chips))
        self._judge()

    def clear(self) -> None:
        for chip in list(self.chips):
            self.remove(chip)

    # -- reading and counting ------------------------------------------------------------------

    def _on_read(self, chip: AttachmentChip, file: AttachedFile) -> None:
        self._tasks.pop(chip, None)
        if chip not in self.chips:
            return
        chip.set_file(file)
        self._count(chip)

    def _on_failed(self, chip: AttachmentChip, exc: BaseException) -> None:
        self._tasks.pop(chip, None)
        if chip in self.chips:
            chip.fail(exc)
            self.changed.emit()

    def _count(self, chip: AttachmentChip) -> None:
        assert chip.file is not None
        text = chip.file.text
        count = self.count

        def work(_task: Task) -> int | None:
            return count(text)

        self._tasks[chip] = self.tasks.start(
            work,
            on_result=lambda tokens: self._on_counted(chip, tokens),
            on_error=lambda _exc: self._on_counted(chip, None),  # no model: estimate
        )

    def _on_counted(self, chip: AttachmentChip, tokens: int | None) -> None:
        self._tasks.pop(chip, None)
        if chip in self.chips and chip.file is not None:
            chip.set_tokens(tokens)
            self._judge()

    def recount(self) -> None:
        """Count again for the model that is loaded now."""
        for chip in self.chips:
            if chip.state == "ready":
                chip.state = "counting"
                chip._describe()
                self._count(chip)
        self.changed.emit()

    # -- does it fit? --------------------------------------------------------------------------

    def set_context(self, room: ContextRoom | None) -> None:
        """The context the files must fit in (None: unknown, everything goes whole)."""
        self.room = room
        self._judge()

    def _use_passages(self, chip: AttachmentChip) -> None:
        chip.mode = "passages"
        self._judge()

    def _judge(self) -> None:
        before = 0  # whole files ahead of this one take their room first
        for chip in self.chips:
            if chip.state != "ready":
                continue
            chip.judge(self.room, before)
            if chip.mode == "whole" and chip.fits:
                before += cost(chip.included())
        self.changed.emit()

    def blocker(self) -> str | None:
        """Why the question can't be sent with these files yet (None: it can)."""
        for chip in self.chips:
            name = chip.name.text()
            if chip.state == "failed":
                return f"Remove {name}: it can't be sent"
            if chip.state != "ready":
                return f"Wait: {name} is still being read"
            if not chip.fits:
                return f"{name} is too long for the context: choose what to do"
        return None

    # -- sending -------------------------------------------------------------------------------

    def verify(self, done: Callable[[bool], None]) -> None:
        """Check in the background that no file changed or went away since it was read; a
        chip whose file did says so. done(True) when all are as read."""
        files = [(chip, chip.file) for chip in self.chips if chip.file is not None]

        def check(_task: Task) -> list[tuple[AttachmentChip, AttachmentError]]:
            problems = []
            for chip, file in files:
                try:
                    check_unchanged(file)
                except AttachmentError as exc:
                    problems.append((chip, exc))
            return problems

        def checked(problems: list[tuple[AttachmentChip, AttachmentError]]) -> None:
            for chip, exc in problems:
                if chip in self.chips:
                    chip.fail(exc)
            self.changed.emit()
            done(not problems)

        self.tasks.start(check, on_result=checked, key="verify")

    def take(self) -> list[Included]:
        """The files, as they go with the question; the strip is empty after."""
        items = [chip.included() for chip in self.chips]
        self.clear()
        return items


class FileDrops(QObject):
    """Files dropped anywhere on a window are attached (an event filter on it)."""

    def __init__(self, window: QWidget, attach: Callable[[list[str]], None]) -> None:
        super().__init__(window)
        self._attach = attach
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, QDropEvent)  # QDragEnterEvent and QDragMoveEvent are ones
            if local_paths(event.mimeData()):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            paths = local_paths(event.mimeData())
            if paths:
                event.acceptProposedAction()
                self._attach(paths)
                return True
        return super().eventFilter(watched, event)
