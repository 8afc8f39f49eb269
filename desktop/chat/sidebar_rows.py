"""How the sidebar's rows read: date headings, and two lines per chat — its title, cut to the
width with the whole title in the tooltip, over when it was last used and with which model (a
search hit: the excerpt, its matches in bold). Painted by ConversationDelegate."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from model_runtime.conversations.records import Conversation, SearchHit
from model_runtime.models.model_ref import ModelRef
from model_runtime.models.starter import STARTER_NAME

STARTER_REF = str(ModelRef("starter", ""))

ID_ROLE = Qt.ItemDataRole.UserRole
MESSAGE_ROLE = Qt.ItemDataRole.UserRole + 1
DETAIL_ROLE = Qt.ItemDataRole.UserRole + 2  # the second line: list[Run]
PAD = 6
HEADING_GAP = 8  # room above a date heading, so that each group starts visibly
LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


@dataclass(frozen=True)
class Run:
    """A piece of the second line; a search match is bold."""

    text: str
    bold: bool = False


def date_group(updated: float, today: date | None = None) -> str:
    """The heading a conversation is listed under: Today, Yesterday, Previous 7 days,
    Previous 30 days, then its month."""
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
    return f"{day:%B} {day.year}"


def when_text(updated: float, today: date | None = None) -> str:
    """When a chat was last used, as precisely as its heading leaves unsaid."""
    today = today or date.today()
    moment = datetime.fromtimestamp(updated)
    day = moment.date()
    if day >= today - timedelta(days=1):
        return f"{moment:%H:%M}"
    if day > today - timedelta(days=7):
        return f"{moment:%a} {moment:%H:%M}"
    return f"{day.day} {day:%b} {day.year}"


def conversation_runs(conversation: Conversation, today: date | None = None) -> list[Run]:
    """The second line of a chat's row: when, and the model it was started with."""
    parts = [when_text(conversation.updated, today)]
    starter = conversation.model_ref == STARTER_REF  # older chats: its file's name
    if conversation.model or starter:
        parts.append(STARTER_NAME if starter else conversation.model)
    return [Run(" · ".join(parts))]


LEAD = 10  # characters kept before the first match, so that it shows in a narrow sidebar


def hit_runs(hit: SearchHit, more: int) -> list[Run]:
    """The second line of a search hit: where it matched, unless in a message (the common case
    needs no label), and how many matches the chat has, then the excerpt from just before its
    first match, the matches bold."""
    text, marks = (hit.plain, hit.marks) if hit.plain else (hit.excerpt, ())
    where = f"file {hit.in_file}" if hit.in_file else "reasoning" if hit.in_reasoning else ""
    count = f"{more + 1} matches" if more else ""
    label = ", ".join(part for part in (where, count) if part)
    if hit.in_file and not marks:  # the file's name matched: its name says it all
        return [Run(label)]
    runs = [Run(f"{label}: " if label else "")]
    position = 0
    for start, end in marks:
        lead = _one_line(text[position:start])
        if position == 0:
            lead = _shortened(lead.lstrip())
        runs += [Run(lead), Run(_one_line(text[start:end]), True)]
        position = end
    runs.append(Run(_one_line(text[position:]) if marks else _one_line(text).strip()))
    return [run for run in runs if run.text]


def _shortened(lead: str) -> str:
    """The words before the first match, at most LEAD characters of them, cut at a word."""
    if len(lead) <= LEAD:
        return lead
    tail = lead[-LEAD:]
    space = tail.find(" ")
    return "…" + (tail[space + 1 :] if 0 <= space < len(tail) - 1 else tail)


def _one_line(text: str) -> str:
    """Line breaks and runs of spaces as one space: a row is one line, whatever the text."""
    return re.sub(r"\s+", " ", text)


def plain_text(runs: list[Run]) -> str:
    return "".join(run.text for run in runs)


class ConversationDelegate(QStyledItemDelegate):
    """Two lines per chat, each cut with "…" at the row's width (never a sideways scroll)."""

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        if index.data(ID_ROLE) is None:  # a heading
            return super().sizeHint(option, index) + QSize(0, HEADING_GAP)
        lines = QFontMetrics(option.font).lineSpacing() * 2
        return QSize(40, lines + 2 * PAD)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        if index.data(ID_ROLE) is None:  # a heading: its words at the bottom of its row
            below_gap = QStyleOptionViewItem(option)
            below_gap.rect = option.rect.adjusted(0, HEADING_GAP, 0, 0)
            super().paint(painter, below_gap, index)
            return
        self.initStyleOption(option, index)
        widget = option.widget
        style = widget.style() if widget is not None else None
        text, option.text = option.text, ""
        if style is not None:  # the background, selection and focus, without the text
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        rect: QRect = option.rect.adjusted(PAD + 2, PAD, -PAD, -PAD)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette: QPalette = option.palette
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        font = QFont(option.font)
        metrics = QFontMetrics(font)
        painter.save()
        painter.setPen(palette.color(role))
        painter.setFont(font)
        top = QRect(rect.left(), rect.top(), rect.width(), metrics.lineSpacing())
        title = metrics.elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(top, LEFT, title)
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.88)
        dim = QColor(palette.color(role))
        dim.setAlphaF(0.8 if selected else 0.6)
        painter.setPen(dim)
        below = QRect(rect.left(), top.bottom() + 1, rect.width(), metrics.lineSpacing())
        draw_runs(painter, below, index.data(DETAIL_ROLE) or [], small)
        painter.restore()


def draw_runs(painter: QPainter, rect: QRect, runs: list[Run], font: QFont) -> None:
    """One line of runs, bold where marked, cut with "…" where the rect ends."""
    bold = QFont(font)
    bold.setBold(True)
    x, right = rect.left(), rect.right()
    for run in runs:
        face = bold if run.bold else font
        metrics = QFontMetrics(face)
        painter.setFont(face)
        width = metrics.horizontalAdvance(run.text)
        if x + width > right:
            cut = metrics.elidedText(run.text, Qt.TextElideMode.ElideRight, right - x)
            painter.drawText(QRect(x, rect.top(), right - x, rect.height()), LEFT, cut)
            return
        painter.drawText(QRect(x, rect.top(), width, rect.height()), LEFT, run.text)
        x += width
