"""Where the person types: Enter sends, Shift+Enter adds a line, the button turns into Stop.

Files come with the question as chips above the box: from the paperclip, dropped on the window
or pasted; a long pasted text is offered as a file instead of flooding the box.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QIcon,
    QKeyEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.chat.attachments import AttachmentStrip, Counter, local_paths
from desktop.chat.think_harder import ThinkHarderButton
from desktop.common.colours import current
from desktop.common.theme import theme_manager
from model_runtime.attachments.reading import attach_text

MAX_LINES = 8
LONG_PASTE_CHARS = 4000  # a pasted text longer than this is offered as a file
FILE_FILTER = (
    "Text, PDF, Word and HTML (*.txt *.md *.markdown *.rst *.csv *.tsv *.json *.jsonl *.yaml "
    "*.yml *.toml *.xml *.log *.ini *.cfg *.py *.js *.ts *.tsx *.jsx *.c *.h *.cpp *.hpp *.cc "
    "*.rs *.go *.java *.kt *.swift *.rb *.php *.sh *.sql *.tex *.pdf *.docx *.html *.htm);;"
    "All files (*)"
)


def paperclip_icon(color: str | None = None, size: int = 20) -> QIcon:
    """A paperclip drawn with a pen: two straight sides joined by round ends, leaning right
    (in the theme's colour for secondary text unless told)."""
    pixmap = QPixmap(size * 2, size * 2)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size * 2 / 24, size * 2 / 24)
    painter.translate(12, 12)
    painter.rotate(40)
    painter.translate(-12, -12)
    path = QPainterPath(QPointF(10, 8))
    path.lineTo(10, 17)
    path.arcTo(QRectF(10, 14.5, 5, 5), 180, 180)  # bottom, to x = 15
    path.lineTo(15, 5)
    path.arcTo(QRectF(7.5, 1.5, 7.5, 7), 0, 180)  # top, to x = 7.5
    path.lineTo(7.5, 17.5)
    pen = QPen(QColor(color or current().secondary))
    pen.setWidthF(1.7)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.drawPath(path)
    painter.end()
    return QIcon(pixmap)


class PromptEdit(QPlainTextEdit):
    """A text box that submits on Enter and grows with its text up to MAX_LINES; pasted or
    dropped files, and long pasted texts, go to whoever listens instead of into the text."""

    submitted = Signal()
    files_given = Signal(list)  # local paths, pasted or dropped
    long_text_pasted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("promptEdit")
        self.setPlaceholderText("Ask anything…  (Shift+Enter: a new line)")  # one line, narrow too
        self.setTabChangesFocus(True)
        self.document().contentsChanged.connect(self._fit_height)
        self._fit_height()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return bool(local_paths(source)) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        paths = local_paths(source)
        if paths:
            self.files_given.emit(paths)
        elif source.hasText() and len(source.text()) > LONG_PASTE_CHARS:
            self.long_text_pasted.emit(source.text())
        else:
            super().insertFromMimeData(source)

    def _fit_height(self) -> None:
        needed = max(1, int(self.document().size().height()))
        lines = min(MAX_LINES, needed)
        policy = (
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if needed > MAX_LINES
            else (Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        )
        self.setVerticalScrollBarPolicy(policy)
        self.setFixedHeight(lines * QFontMetrics(self.font()).lineSpacing() + 26)


class PasteOffer(QFrame):
    """A long pasted text waits here: attach it as a file, or paste it into the box after all."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pasteOffer")
        self.text = ""
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.attach_button = QPushButton("Attach it as a file", self)
        self.paste_button = QPushButton("Paste it into the box", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 6, 16, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.attach_button)
        layout.addWidget(self.paste_button)
        self.hide()

    def offer(self, text: str) -> None:
        self.text = text
        lines = text.count("\n") + 1
        self.label.setText(
            f"You pasted a long text ({len(text):,} characters, {lines:,} lines). "
            "As a file it stays out of the way and goes with your question."
        )
        self.show()

    def take(self) -> str:
        text, self.text = self.text, ""
        self.hide()
        return text


class Composer(QWidget):
    """The prompt box, its files, and its Send / Stop button."""

    send_requested = Signal(str, list)  # the question, and its files (list[Included])
    votes_requested = Signal(str, list, int)  # Think harder: question, files, how many thoughts
    stop_requested = Signal()
    answer_now_requested = Signal()

    def __init__(self, count: Counter | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.attachments = AttachmentStrip(count, parent=self)
        self.attachments.changed.connect(self._update)
        self.edit = PromptEdit(self)
        self.edit.submitted.connect(self._submit)
        self.edit.files_given.connect(self.attach_paths)
        self.paste_offer = PasteOffer(self)
        self.paste_offer.attach_button.clicked.connect(self._attach_pasted)
        self.paste_offer.paste_button.clicked.connect(
            lambda: self.edit.insertPlainText(self.paste_offer.take())
        )
        self.edit.long_text_pasted.connect(self.paste_offer.offer)
        self.attach_button = QToolButton(self)
        self.attach_button.setObjectName("attachButton")
        self.attach_button.setIcon(paperclip_icon())
        theme_manager().theme_changed.connect(self._restyle)
        theme_manager().chat.add(self.edit, 1.15)  # the chat's text size
        self.attach_button.setIconSize(QSize(22, 22))
        self.attach_button.setToolTip("Attach files: text, code, PDF, Word, HTML")
        self.attach_button.setAutoRaise(True)
        self.attach_button.clicked.connect(self.choose_files)
        self.button = QPushButton("Send", self)
        self.button.setObjectName("sendButton")
        self.button.clicked.connect(self._on_button)
        self.answer_now = QPushButton("Answer now", self)
        self.answer_now.setObjectName("answerNowButton")
        self.answer_now.setToolTip("End the thinking here and let the model answer (Ctrl+Enter)")
        self.answer_now.clicked.connect(self.answer_now_requested)
        self.answer_now.hide()
        self.notice = QLabel(self)  # why it can't send now, and what to do: always in sight
        self.notice.setObjectName("composerNotice")
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.think_harder = ThinkHarderButton(self)  # beside Send (think_harder.py)
        self.think_harder.chosen.connect(self._submit)
        self._busy = False
        self._can_send = False
        self._checking = False  # the files are being checked before sending
        self._reason = ""
        self._layout()
        self._update()

    def _restyle(self) -> None:
        """The paperclip in the new theme's colour."""
        self.attach_button.setIcon(paperclip_icon())

    def _layout(self) -> None:
        row = QHBoxLayout()
        row.setContentsMargins(16, 8, 16, 12)
        row.addWidget(self.attach_button, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.edit, 1)
        row.addWidget(self.answer_now, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.think_harder, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.attachments)
        layout.addWidget(self.paste_offer)
        notice = QHBoxLayout()
        notice.setContentsMargins(16, 8, 16, 0)
        notice.addWidget(self.notice)
        layout.addLayout(notice)
        layout.addLayout(row)

    # -- files ---------------------------------------------------------------------------------

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Attach files", "", FILE_FILTER)
        if paths:
            self.attach_paths(paths)

    def attach_paths(self, paths: list[str]) -> None:
        self.attachments.attach_paths(paths)

    def _attach_pasted(self) -> None:
        self.attachments.attach_file(attach_text(self.paste_offer.take()))

    # -- sending -------------------------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        """While an answer streams, the button stops it; Enter does not send."""
        self._busy = busy
        if not busy:
            self.answer_now.hide()
        self._update()

    def set_thinking(self, thinking: bool) -> None:
        """While the model thinks, offer to end its reasoning."""
        self.answer_now.setVisible(thinking and self._busy)

    def set_votes(self, most: int) -> None:
        """The most thoughts at once the model's plan allows: Think harder shows if enough do."""
        self.think_harder.set_most(most)
        self._update()

    def set_can_send(self, can_send: bool, reason: str = "") -> None:
        """reason: why it can't, in words that say what to do (shown above the prompt)."""
        self._can_send = can_send
        self._reason = reason
        self._update()

    def _blocker(self) -> str | None:
        if not self._can_send:
            return self._reason
        if self._checking:
            return "Checking the files…"
        return self.attachments.blocker()

    def _update(self) -> None:
        blocker = self._blocker()
        self.button.setText("Stop" if self._busy else "Send")
        self.button.setToolTip("Stop the answer (Esc)" if self._busy else blocker or "")
        self.button.setEnabled(self._busy or blocker is None)
        blocked = not self._busy and not self._can_send and bool(self._reason)
        self.notice.setText(f"⚠ {self._reason}" if blocked else "")
        self.notice.setVisible(blocked)
        self.think_harder.setVisible(self.think_harder.available and not self._busy)
        self.think_harder.setEnabled(blocker is None)

    def _on_button(self) -> None:
        if self._busy:
            self.stop_requested.emit()
        else:
            self._submit()

    def _submit(self, votes: int = 0) -> None:
        """Send the question (votes: as that many thoughts at once, Think harder)."""
        text = self.edit.toPlainText().strip()
        if self._busy or self._blocker() is not None or not text:
            return
        if not self.attachments.chips:
            self.edit.clear()
            self._send(text, [], votes)
            return
        self._checking = True
        self._update()
        self.attachments.verify(lambda ok: self._checked(ok, text, votes))

    def _checked(self, ok: bool, text: str, votes: int = 0) -> None:
        """The files are as they were read (send them), or a chip says what changed."""
        self._checking = False
        if ok and not self._busy and self._blocker() is None:
            self.edit.clear()
            self._send(text, self.attachments.take(), votes)
        self._update()

    def _send(self, text: str, files: list, votes: int) -> None:
        if votes:
            self.votes_requested.emit(text, files, votes)
        else:
            self.send_requested.emit(text, files)

    def return_question(self, text: str, files: list | None = None) -> None:
        """A question that got no answer comes back, with its files."""
        self.edit.setPlainText(text)
        if files:
            self.attachments.restore(files)
