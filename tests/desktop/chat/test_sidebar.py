"""The sidebar as a person reads and drives it: two-line rows cut to its width, headings by
date and month, one search row per chat with its matches in bold, the highlight always the
open chat, an undo bar that never widens it, Rename wide enough for a long title."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QMenu

from desktop.chat.rename_dialog import RenameDialog
from desktop.chat.sidebar import ID_ROLE, MESSAGE_ROLE
from desktop.chat.sidebar_rows import (
    DETAIL_ROLE,
    HEADING_GAP,
    conversation_runs,
    date_group,
    hit_runs,
    plain_text,
    when_text,
)
from desktop.window.main_window import MainWindow
from model_runtime.conversations.records import Conversation, SearchHit
from model_runtime.conversations.store import ConversationStore
from model_runtime.models.starter import STARTER_NAME

LONG = (
    "A chat about the long history of the Byzantine Empire, its emperors, its wars and "
    "the fall of Constantinople"
)


def chat(store: ConversationStore, title: str, model: str = "", *texts: str) -> int:
    conversation = store.create_conversation(model=model)
    store.add_message(conversation.id, "user", texts[0] if texts else title)
    for text in texts[1:]:
        store.add_message(conversation.id, "assistant", text)
    store.rename(conversation.id, title)
    return conversation.id


def at(day: str, hour: str = "12:00") -> float:
    return datetime.fromisoformat(f"{day} {hour}").timestamp()


def test_headings_go_by_day_then_by_month() -> None:
    today = date(2025, 6, 20)
    assert date_group(at("2025-06-20"), today) == "Today"
    assert date_group(at("2025-06-19"), today) == "Yesterday"
    assert date_group(at("2025-06-15"), today) == "Previous 7 days"
    assert date_group(at("2025-05-30"), today) == "Previous 30 days"
    assert date_group(at("2025-04-02"), today) == "April 2025"
    assert date_group(at("2024-12-31"), today) == "December 2024"
    assert when_text(at("2025-06-20", "09:05"), today) == "09:05"
    assert when_text(at("2025-06-16", "09:05"), today).endswith("09:05")  # and its weekday
    assert when_text(at("2025-04-02"), today) == "2 Apr 2025"


def test_a_row_names_the_model_and_the_starter_by_its_own_name() -> None:
    today = date(2025, 6, 20)
    moment = at("2025-06-20", "09:05")

    def second_line(model: str, ref: str) -> str:
        conversation = Conversation(1, "Hi", model, "", {}, moment, moment, model_ref=ref)
        return plain_text(conversation_runs(conversation, today))

    assert second_line("DeepSeek R1 Distill Qwen 7B", "file:/m/r1.gguf") == (
        "09:05 · DeepSeek R1 Distill Qwen 7B"
    )
    # a chat saved with the starter file's own name ("Smollm2 135M 8k Lc100K Mix1 Ep2")
    assert second_line("Smollm2 135M 8k Lc100K Mix1 Ep2", "starter:") == f"09:05 · {STARTER_NAME}"
    assert second_line("", "") == "09:05"


def test_each_date_heading_has_room_above_it(open_window: Callable[..., MainWindow]) -> None:
    """Seen under Xvfb: "Today" touched the list's top edge and each heading the row above."""
    window = open_window()
    chat(window.store, "Hello")
    window.sidebar.refresh()
    listing = window.sidebar.list
    heading = listing.item(0)
    assert heading.data(ID_ROLE) is None and heading.text() == "Today"
    text_height = QFontMetrics(heading.font()).height()
    assert listing.visualItemRect(heading).height() >= text_height + HEADING_GAP


def test_a_file_found_by_its_name_is_said_once() -> None:
    hit = SearchHit(1, 2, "Recipes", "attached manual.pdf", False, "manual.pdf")
    assert plain_text(hit_runs(hit, 0)) == "file manual.pdf"  # not ": attached manual.pdf"
    assert plain_text(hit_runs(hit, 2)) == "file manual.pdf, 3 matches"


def test_chats_with_the_same_title_are_told_apart(open_window: Callable[..., MainWindow]) -> None:
    window = open_window()
    store = window.store
    first = chat(store, "Hello", "SmolLM2 135M")
    second = chat(store, "Hello", "DeepSeek-R1-Distill-Qwen-7B")
    window.sidebar.refresh()
    rows = {item.data(ID_ROLE): item for item in window.sidebar.items()}
    assert rows[first].text() == rows[second].text() == "Hello"
    details = {key: plain_text(item.data(DETAIL_ROLE)) for key, item in rows.items()}
    assert details[first] != details[second]
    assert details[first].endswith("· SmolLM2 135M")
    assert details[second].endswith("· DeepSeek-R1-Distill-Qwen-7B")
    assert details[first].split(" · ")[0] == time.strftime("%H:%M")  # today: the time
    assert rows[first].toolTip().startswith("Hello\n")


def test_a_long_title_is_cut_not_scrolled_and_the_undo_bar_keeps_the_width(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window()
    long_id = chat(window.store, LONG)
    chat(window.store, "Short")
    window.sidebar.refresh()
    QApplication.processEvents()
    listing = window.sidebar.list
    assert listing.horizontalScrollBar().maximum() == 0  # no sideways scrolling
    (row,) = [i for i in window.sidebar.items() if i.data(ID_ROLE) == long_id]
    assert row.toolTip().startswith(LONG)  # the whole title, where it is cut
    assert listing.visualItemRect(row).width() <= listing.viewport().width()
    width, need = window.sidebar.width(), window.sidebar.minimumSizeHint().width()
    window.sidebar.delete(long_id)
    QApplication.processEvents()
    assert window.sidebar.undo_bar.isVisible()
    assert window.sidebar.undo_label.text() == f"Deleted “{LONG}”"
    assert window.sidebar.undo_label.shown_text().endswith("…")
    assert window.sidebar.minimumSizeHint().width() <= max(need, 200)
    assert window.sidebar.width() == width


def test_search_lists_a_chat_once_with_its_matches_in_bold(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window()
    volcanoes = chat(
        window.store,
        "Volcanoes",
        "",
        "Tell me about volcanoes",
        "A volcano vents\nmagma.",
        "Why do volcanoes erupt?",
        "Pressure in a volcano builds.",
    )
    chat(window.store, "Pasta", "", "Boil water", "Salt it.")
    box = window.sidebar.search
    with qtbot.waitSignal(window.sidebar._search_timer.timeout, timeout=2000):
        qtbot.keyClicks(box, "volcano")
    (row,) = window.sidebar.items()
    assert row.data(ID_ROLE) == volcanoes and row.text() == "Volcanoes"
    runs = row.data(DETAIL_ROLE)
    text = plain_text(runs)
    assert "[" not in text and "\n" not in text
    assert [r.text.lower() for r in runs if r.bold] and all(
        r.text.lower().startswith("volcano") for r in runs if r.bold
    )
    assert len(runs[1].text) <= 12  # the first match starts near the row's start: it shows
    assert text.startswith("4 matches: ")  # the chat's other matches, counted, not listed
    assert row.data(MESSAGE_ROLE) is not None


# A menu pops up offscreen, where nothing can grab the keyboard.
@pytest.mark.qt_log_ignore("This plugin does not support grabbing the keyboard")
def test_the_highlight_is_always_the_open_chat(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window()
    ids = [chat(window.store, f"Chat {n}") for n in range(3)]
    window.sidebar.refresh()
    window.open_conversation(ids[-1])  # the newest, listed first
    listing = window.sidebar.list
    assert listing.currentItem().data(ID_ROLE) == ids[-1]
    listing.setFocus()
    qtbot.keyClick(listing, Qt.Key.Key_Down)  # the arrow opens the chat it moves to
    assert listing.currentItem().data(ID_ROLE) == ids[1]
    assert window.controller.conversation_id == ids[1]
    assert [i.data(ID_ROLE) for i in window.sidebar.items() if i.isSelected()] == [ids[1]]

    other = next(i for i in window.sidebar.items() if i.data(ID_ROLE) == ids[0])
    point = listing.visualItemRect(other).center()
    qtbot.mouseClick(listing.viewport(), Qt.MouseButton.RightButton, pos=point)
    listing.customContextMenuRequested.emit(point)  # as the right-click's menu event does
    menu = window.sidebar.menu
    assert isinstance(menu, QMenu) and menu.isVisible()
    assert menu.actions()[0].text() == "Rename…"
    menu.close()
    assert listing.currentItem().data(ID_ROLE) == ids[1]  # the highlight stayed
    assert window.controller.conversation_id == ids[1]
    assert [i.data(ID_ROLE) for i in window.sidebar.items() if i.isSelected()] == [ids[1]]


def test_rename_asks_in_a_dialog_wide_enough_for_a_long_title(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window()
    chat_id = chat(window.store, LONG)
    window.sidebar.refresh()
    seen: list[tuple[str, int, bool]] = []

    def answer() -> None:
        (dialog,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, RenameDialog)]
        dialog.edit.setText("   ")  # empty: Save is off
        save_when_empty = dialog.buttons.buttons()[0].isEnabled()
        dialog.edit.setText(LONG)
        seen.append((dialog.edit.text(), dialog.width(), save_when_empty))
        dialog.edit.setText("  Byzantium  ")
        dialog.accept()

    QTimer.singleShot(0, answer)  # runs in the dialog's own event loop
    window.sidebar.rename(chat_id)
    ((text, width, save_when_empty),) = seen
    assert text == LONG and width >= 440 and not save_when_empty
    assert window.store.conversation(chat_id).title == "Byzantium"
    assert [i.text() for i in window.sidebar.items()] == ["Byzantium"]


def test_a_right_click_does_not_move_the_highlight(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window()
    ids = [chat(window.store, f"Chat {n}") for n in range(2)]
    window.sidebar.refresh()
    window.open_conversation(ids[0])
    listing = window.sidebar.list
    other = next(i for i in window.sidebar.items() if i.data(ID_ROLE) == ids[1])
    qtbot.mousePress(
        listing.viewport(), Qt.MouseButton.RightButton, pos=listing.visualItemRect(other).center()
    )
    assert listing.currentItem().data(ID_ROLE) == ids[0]
    assert not other.isSelected()
