"""Think harder's widgets: the button beside Send, the thoughts' lanes while they run, the tally.

The button asks the model for several thoughts on the question at once (its menu sets how
many, and remembers it); it shows only while the loaded model's plan leaves memory for them.
While they run, each thought has a compact lane: its tokens so far, whether it thinks or
answers, its last words. When they are done, every thought is a version of the answer
(◀ 1/8 ▶) and the tally sits under each: its groups are links to their first thought.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.common.throttle import Throttle
from model_runtime.chat.answer import Answer
from model_runtime.chat.boxed import last_boxed
from model_runtime.chat.think_harder import CHOICES, load_default_votes, save_default_votes
from model_runtime.chat.thinking import ThinkingEnded
from model_runtime.chat.vote import Tally
from model_runtime.conversations.records import StoredMessage

PAINT_MS = 100  # the lanes repaint at most this often
PREVIEW_CHARS = 90  # a lane's last words
ENDED_WORDS = {"asked": "asked", "budget_tokens": "budget", "budget_seconds": "time's up",
               "loop": "loop broken"}  # fmt: skip


class ThinkHarderButton(QToolButton):
    """ "Think harder ×8": a click asks that many thoughts; the menu chooses the number."""

    chosen = Signal(int)  # how many thoughts

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thinkHarderButton")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.default = load_default_votes()  # the number chosen in the menu (saved)
        self.votes = self.default  # what a click asks for: the default, or the most that fit
        self.most = 0  # what the loaded model's plan leaves memory for
        menu = QMenu(self)
        heading = menu.addAction("Thoughts at once (remembered):")
        heading.setEnabled(False)
        group = QActionGroup(self)
        for n in CHOICES:
            action = menu.addAction(f"×{n} — {n} thoughts, then a vote")
            action.setData(n)
            action.setCheckable(True)
            action.setChecked(n == self.default)
            action.triggered.connect(lambda _checked=False, n=n: self._choose(n))
            group.addAction(action)
        self.setMenu(menu)
        self.clicked.connect(lambda: self.chosen.emit(self.votes))
        self._refresh()

    @property
    def choices(self) -> dict[int, QAction]:
        """The menu's choices by their number of thoughts, looked up in the menu each time
        (wrappers kept from addAction were seen to go stale while their actions lived on)."""
        return {a.data(): a for a in self.menu().actions() if isinstance(a.data(), int)}

    @property
    def available(self) -> bool:
        """Whether the model can think harder at all (the fewest thoughts offered fit)."""
        return self.most >= min(CHOICES)

    def set_most(self, most: int) -> None:
        """The most thoughts at once the loaded model's plan allows (0: none, or remote)."""
        self.most = most
        self._refresh()

    def _choose(self, n: int) -> None:
        save_default_votes(n)
        self.default = n
        self._refresh()

    def _refresh(self) -> None:
        for n, action in self.choices.items():
            action.setEnabled(n <= self.most)
            action.setToolTip("" if n <= self.most else f"The plan leaves memory for {self.most}")
        fitting = [n for n in CHOICES if n <= self.most]
        votes = self.default if self.default <= self.most else max(fitting, default=self.default)
        self.votes = votes
        self.setText(f"Think harder ×{votes}")
        self.setToolTip(
            f"Ask for {votes} thoughts on this question at once, then vote on their boxed "
            f"answers: the answer most thoughts reach is shown, every thought is kept as a "
            f"version (this model's plan leaves memory for {self.most} at once)."
        )


class _Lane:
    """One thought's row: its number, a bar of its tokens, the count, and its last words."""

    def __init__(self, grid: QGridLayout, seq: int, max_tokens: int, parent: QWidget) -> None:
        self.title = QLabel(f"Thought {seq + 1}", parent)
        self.title.setObjectName("laneTitle")
        self.bar = QProgressBar(parent)
        self.bar.setObjectName("laneBar")
        self.bar.setRange(0, max(1, max_tokens))
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.count = QLabel("waiting", parent)
        self.count.setObjectName("laneCount")
        self.preview = QLabel(parent)
        self.preview.setObjectName("lanePreview")
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row = 2 * seq
        grid.addWidget(self.title, row, 0)
        grid.addWidget(self.bar, row, 1)
        grid.addWidget(self.count, row, 2)
        grid.addWidget(self.preview, row + 1, 1, 1, 2)
        self.tokens = 0
        self.kind = ""
        self.tail = ""
        self.state = ""  # said once the thought ended, or its thinking was ended
        self.done = False

    def paint(self) -> None:
        self.bar.setValue(min(self.tokens, self.bar.maximum()))
        doing = self.state or ("thinking…" if self.kind == "thinking" else "answering…")
        self.count.setText(f"{self.tokens:,} tokens · {doing}" if self.tokens else "waiting")
        line = " ".join(self.tail.split())
        self.preview.setText(line[-PREVIEW_CHARS:])


class ThoughtLanes(QFrame):
    """While the thoughts run: a lane each, with its live token count; the run's words on top."""

    def __init__(self, n: int, max_tokens: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thoughtLanes")
        self.heading = QLabel(f"Thinking harder: {n} thoughts at once", self)
        self.heading.setObjectName("lanesHeading")
        self.note = QLabel(self)
        self.note.setObjectName("lanesNote")
        self.note.setWordWrap(True)
        self.note.hide()
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(1)
        grid.setColumnStretch(1, 1)
        self.lanes = [_Lane(grid, seq, max_tokens, self) for seq in range(n)]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self.heading)
        layout.addLayout(grid)
        layout.addWidget(self.note)
        self._paint = Throttle(self.paint, PAINT_MS, self)

    def add(self, seq: int, kind: str, text: str) -> None:
        lane = self.lanes[seq]
        lane.tokens += 1  # a chunk is a token, or nearly
        if kind != lane.kind:
            lane.tail = ""
        lane.kind = kind
        lane.tail = (lane.tail + text)[-4 * PREVIEW_CHARS :]
        self._paint()

    @property
    def thinking(self) -> bool:
        """Whether any thought still thinks."""
        return any(lane.kind == "thinking" and not lane.done for lane in self.lanes)

    def thinking_ended(self, seq: int, ended: ThinkingEnded) -> None:
        """Ponder ended this thought's thinking: say why, shortly (the whole in its tip)."""
        lane = self.lanes[seq]
        lane.kind, lane.tail = "answer", ""  # its closing words came first; the answer follows
        lane.state = f"answering ({ENDED_WORDS[ended.reason]})…"
        lane.count.setToolTip(f"Thinking ended: {ended.describe()}")
        self._paint()

    def finished(self, seq: int, answer: Answer) -> None:
        """A thought ended: say how, and its boxed answer when it gave one."""
        lane = self.lanes[seq]
        lane.done = True
        reason = answer.stats.finish_reason if answer.stats else ""
        boxed = last_boxed(answer.answer)
        if reason == "cancelled":
            lane.state = "stopped"
        elif boxed is not None:
            lane.state = f"done: {boxed}"
        else:
            lane.state = "done" if answer.answer.strip() else "done, no answer"
        self._paint()
        done = sum(lane.done for lane in self.lanes)
        self.heading.setText(f"Thinking harder: {done} of {len(self.lanes)} thoughts done")

    def fail(self, title: str, message: str) -> None:
        self._paint.flush()
        self.note.setText(f"⚠ {title}: {message}")
        self.note.setObjectName("messageError")
        self.note.show()

    def paint(self) -> None:
        for lane in self.lanes:
            lane.paint()


class TallyBar(QLabel):
    """The vote under each of its thoughts: groups as links to their first thought."""

    branch_requested = Signal(int)  # the thought to show

    def __init__(
        self, tally: Tally, members: Sequence[StoredMessage], message_id: int, parent=None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("tallyBar")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.tally = tally
        ids = [m.id for m in members]
        here = ids.index(message_id) if message_id in ids else -1
        parts = []
        for group in tally.groups:
            shown = html.escape(group.shown)
            first = ids[group.sequences[0]]
            answer = (
                f"<b>{shown}</b>" if here in group.sequences else f'<a href="{first}">{shown}</a>'
            )
            parts.append(f"{answer} — {group.count} of {tally.n}")
        if tally.unanswered:
            none = "no answer" if tally.on_text else "no boxed answer"
            parts.append(f"{none} — {len(tally.unanswered)} of {tally.n}")
        reading = f"You are reading thought {here + 1} of {tally.n}"
        reading += "." if tally.group_of(here) else ", which gave no answer to count."
        self.setText(
            f"Vote of {tally.n} thoughts: {' · '.join(parts)}<br>"
            f"{html.escape(tally.verdict())} {reading}"
        )
        self.linkActivated.connect(lambda link: self.branch_requested.emit(int(link)))
