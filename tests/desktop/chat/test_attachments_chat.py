"""Files with questions, through the real window, the real engine on SmolLM2 and the real store:
token counts from the engine, whole files and retrieved passages in the prompt, the too-long
choices (a larger context through the load path, or passages), and files that stay with their
question across restart, export and import, regenerate and edit."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

import desktop.window.main_window as main_window
from desktop.chat.attachment_views import AttachedFiles, PassageDialog, SourcesRow
from desktop.chat.attachments import AttachmentChip
from desktop.chat.messages import AssistantMessage, UserMessage
from desktop.chat.sidebar_rows import DETAIL_ROLE, Run, plain_text
from desktop.window.main_window import MainWindow
from model_runtime.attachments.reading import read_attachment
from model_runtime.chat.generation import GenerationParams, LoadRequest
from model_runtime.conversations import attachments
from model_runtime.conversations.store import ConversationStore
from tests.attachment_files import FACTS, pages_with_facts, write_pdf
from tests.desktop.window.test_chat_window import ENGINE_THREADS, LOAD_MS
from tests.disks import InjectedFullDisk

pytestmark = pytest.mark.slow
READ_MS = 30_000
# A question with a file is a long prompt: on a busy 2-core runner one engine thread reads it
# at a few dozen tokens a second. Short answers and small contexts keep the tests in bounds.
ANSWER_MS = 180_000
SHORT = GenerationParams(max_tokens=8, temperature=0.0, seed=1)
CTX = 768  # the manual (about 950 tokens) is too long for it
FACT = 13  # "Aunt Rosalind's recipe calls for smoked paprika and honey."
FACT_PAGE = 4


@pytest.fixture
def load(qtbot: Any, smollm2: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., MainWindow]:
    """Loads the starter model into a window on one engine thread (see test_chat_window)."""

    def load_(window: MainWindow, **request: Any) -> MainWindow:
        monkeypatch.setattr(
            main_window,
            "LoadRequest",
            functools.partial(LoadRequest, n_threads=ENGINE_THREADS, **request),
        )
        with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS):
            window.load_starter()
        window.controller.params = SHORT
        window.file_room.refresh()  # as the conversation settings dialog does
        return window

    return load_


@pytest.fixture(scope="module")
def manual(qapp: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 5-page PDF (about 950 tokens), a known sentence on page 4."""
    pages = pages_with_facts(5, {FACT_PAGE: FACTS[FACT][0]}, chars=700)
    return write_pdf(tmp_path_factory.mktemp("pdf") / "manual.pdf", pages)


def attach(qtbot: Any, window: MainWindow, *paths: Path) -> list[AttachmentChip]:
    strip = window.composer.attachments
    window.composer.attach_paths([str(p) for p in paths])
    qtbot.waitUntil(
        lambda: len(strip.chips) == len(paths) and all(c.state == "ready" for c in strip.chips),
        timeout=READ_MS,
    )
    return list(strip.chips)


def ask(qtbot: Any, window: MainWindow, text: str) -> AssistantMessage:
    """Type a question and send it (its files are checked, fitted, then sent); wait for the
    whole answer."""
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS):
        window.composer.edit.setPlainText(text)
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    answer = window.chat_view.messages[-1]
    assert isinstance(answer, AssistantMessage)
    return answer


def question_widget(window: MainWindow) -> UserMessage:
    question = window.chat_view.messages[-2]
    assert isinstance(question, UserMessage)
    return question


def stored_files(window: MainWindow) -> list[Any]:
    conversation = window.controller.conversation_id
    assert conversation is not None
    questions = [m.id for m in window.store.visible_messages(conversation) if m.role == "user"]
    found = window.store.attachments(questions)
    return [found.get(q, []) for q in questions]


def test_a_whole_file_goes_into_the_question_and_stays_with_it(
    open_window: Callable[..., MainWindow], load: Callable[..., MainWindow], qtbot: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    window = load(open_window())
    code = tmp_path / "bug.py"
    code.write_text("def add(a, b):\n    return a - b  # should add\n")
    [chip] = attach(qtbot, window, code)
    tokens = window.bridge.client.count_tokens(code.read_text())
    assert chip.details.text().endswith(f"· {tokens:,} tokens")  # the loaded model's own count
    answer = ask(qtbot, window, "Find the bug.")
    assert window.composer.attachments.chips == []
    [turn, _] = window.controller.messages
    assert (
        turn.content
        == f'<file name="bug.py">\n{code.read_text().strip()}\n</file>\n\nFind the bug.'
    )
    assert answer.model.stats is not None and answer.model.stats.n_prompt > tokens
    [[saved]] = stored_files(window)
    assert (saved.name, saved.mode, saved.tokens) == ("bug.py", "whole", tokens)
    shown = question_widget(window).attachments
    assert isinstance(shown, AttachedFiles) and shown.buttons[0].text().startswith("bug.py · Text")
    qtbot.mouseClick(shown.buttons[0], Qt.MouseButton.LeftButton)
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, PassageDialog))
    assert dialog.text.toPlainText() == code.read_text()
    dialog.close()
    assert answer.sources is None  # a whole file: no passages to show


def test_too_long_a_file_reloads_with_a_larger_context_then_goes_whole(
    open_window: Callable[..., MainWindow], load: Callable[..., MainWindow], qtbot: Any,
    manual: Path,
) -> None:  # fmt: skip
    window = load(open_window(), n_ctx=CTX)
    [chip] = attach(qtbot, window, manual)
    assert not chip.fits and chip.status.text().startswith("Too long for the context")
    assert chip.larger.isVisible() and not window.composer.button.isEnabled()
    wanted = chip.larger.property("ctx")
    assert CTX < wanted <= 8192
    with qtbot.waitSignal(window.bridge.loaded, timeout=LOAD_MS) as loaded:
        qtbot.mouseClick(chip.larger, Qt.MouseButton.LeftButton)
    assert loaded.args[0].n_ctx == wanted and loaded.args[0].n_threads == ENGINE_THREADS
    qtbot.waitUntil(lambda: chip.state == "ready" and chip.fits, timeout=READ_MS)
    assert window.composer.button.isEnabled()
    ask(qtbot, window, FACTS[FACT][1])
    [[saved]] = stored_files(window)
    assert saved.mode == "whole"
    assert "[page 5]" in window.controller.messages[0].content


def test_too_long_a_file_sends_the_passages_that_match(
    open_window: Callable[..., MainWindow], load: Callable[..., MainWindow], qtbot: Any,
    manual: Path,
) -> None:  # fmt: skip
    window = load(open_window(), n_ctx=CTX)
    [chip] = attach(qtbot, window, manual)
    qtbot.mouseClick(chip.passages, Qt.MouseButton.LeftButton)
    assert chip.fits and window.composer.button.isEnabled()
    answer = ask(qtbot, window, FACTS[FACT][1])
    [[saved]] = stored_files(window)
    assert saved.mode == "passages" and saved.spans
    turn = window.controller.messages[0].content
    assert f"[page {FACT_PAGE}]" in turn and "smoked paprika" in turn
    assert window.bridge.client.count_tokens(turn) < CTX
    sources = answer.sources
    assert isinstance(sources, SourcesRow)
    assert sources.labels[0].text().startswith("From manual.pdf, page")
    button = next(b for b in sources.buttons if b.text() == f"page {FACT_PAGE}")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, PassageDialog))
    assert dialog.windowTitle() == f"manual.pdf: page {FACT_PAGE}"
    assert "smoked paprika" in " ".join(dialog.text.toPlainText().split())
    dialog.close()


def test_files_survive_a_restart_and_export_and_import(
    open_window: Callable[..., MainWindow], load: Callable[..., MainWindow], qtbot: Any,
    manual: Path, tmp_path: Path,
) -> None:  # fmt: skip
    window = load(open_window(), n_ctx=CTX)
    notes = tmp_path / "notes.txt"
    notes.write_text("Dinner is at eight.")
    _, long = attach(qtbot, window, notes, manual)
    qtbot.mouseClick(long.passages, Qt.MouseButton.LeftButton)
    ask(qtbot, window, FACTS[FACT][1])
    conversation = window.controller.conversation_id
    sent = window.controller.messages[0].content
    path = window.store.path
    window.close()

    store = ConversationStore(path)
    again = open_window(store)
    again.open_conversation(conversation)
    assert again.controller.messages[0].content == sent  # the model would read the same
    shown = question_widget(again).attachments
    assert isinstance(shown, AttachedFiles)
    assert [b.text().split(" · ")[0] for b in shown.buttons] == ["notes.txt", "manual.pdf"]
    assert isinstance(again.chat_view.messages[-1], AssistantMessage)
    assert again.chat_view.messages[-1].sources is not None

    exported = again.sidebar.export(conversation, "json", str(tmp_path / "chat.json"))
    assert exported is not None and len(json.loads(exported.read_text())["files"]) == 2
    markdown = again.sidebar.export(conversation, "md", str(tmp_path / "chat.md"))
    assert markdown is not None
    assert "*Attached: notes.txt (Text), manual.pdf (PDF, relevant passages)*" in (
        markdown.read_text()
    )
    again.import_chat(str(exported))
    copy = again.controller.conversation_id
    assert copy != conversation and again.controller.messages[0].content == sent
    assert attachments.count(store._db) == (2, 4)  # each file once, linked twice each
    again.sidebar.search.setText("manual.pdf")
    again.sidebar.refresh()
    hits = [item.data(DETAIL_ROLE) for item in again.sidebar.items()]
    assert len(hits) == 2 and all("file manual.pdf" in plain_text(hit) for hit in hits)
    again.sidebar.search.setText("paprika")
    again.sidebar.refresh()
    assert again.sidebar.in_files.isVisible()
    assert again.sidebar.list.item(0).text() == "No matches"
    again.sidebar.in_files.setChecked(True)
    hits = [item.data(DETAIL_ROLE) for item in again.sidebar.items()]
    assert len(hits) == 2 and all(Run("paprika", bold=True) in hit for hit in hits)


def test_regenerate_and_edit_keep_the_files(
    open_window: Callable[..., MainWindow], load: Callable[..., MainWindow], qtbot: Any,
    manual: Path,
) -> None:  # fmt: skip
    window = load(open_window(), n_ctx=CTX)
    [chip] = attach(qtbot, window, manual)
    qtbot.mouseClick(chip.passages, Qt.MouseButton.LeftButton)
    first = ask(qtbot, window, FACTS[FACT][1])
    sent = window.controller.messages[0].content
    prompt = first.model.stats.n_prompt if first.model.stats else 0
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS) as done:
        qtbot.mouseClick(first.regenerate_button, Qt.MouseButton.LeftButton)
    assert done.args[0].n_prompt == prompt  # the same question, files and all
    assert window.controller.messages[0].content == sent
    assert window.chat_view.messages[-1].sources is not None

    edited = "Where is Aunt Rosalind's recipe, and what does it need?"
    editor = question_widget(window).start_editing()  # in the bubble
    editor.text.setPlainText(edited)
    with qtbot.waitSignal(window.controller.answer_finished, timeout=ANSWER_MS):
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    [[again]] = stored_files(window)
    assert again.name == "manual.pdf" and again.mode == "passages"
    turn = window.controller.messages[0].content
    assert turn.endswith(edited) and "smoked paprika" in " ".join(turn.split())
    assert question_widget(window).attachments is not None


def test_a_question_the_model_cant_take_goes_back_with_its_files(
    open_window: Callable[..., MainWindow], load: Callable[..., MainWindow], qtbot: Any,
    manual: Path,
) -> None:  # fmt: skip
    """Sent whole although it does not fit (the chip would have asked): the engine refuses,
    and the question and its file go back to the composer; nothing is saved."""
    window = load(open_window(), n_ctx=CTX)
    from model_runtime.attachments.prompt import Included

    whole = Included(read_attachment(manual), "whole")
    with qtbot.waitSignal(window.controller.attachments_returned, timeout=ANSWER_MS) as back:
        window.send("What is on page four?", [whole])
    assert [f.file.name for f in back.args[0]] == ["manual.pdf"]
    assert window.composer.edit.toPlainText() == "What is on page four?"
    [chip] = window.composer.attachments.chips
    assert chip.name.text() == "manual.pdf" and chip.file is not None
    assert window.store.conversations() == [] and attachments.count(window.store._db) == (0, 0)


def test_a_question_whose_files_cant_be_saved_goes_back_with_them(
    open_window: Callable[..., MainWindow], load: Callable[..., MainWindow], qtbot: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    """The disk is full when the question is sent: it goes back to the box, its file to a chip,
    nothing is stored, the window is not busy; with room again it goes, file and all."""
    window = load(open_window())
    notes = tmp_path / "notes.txt"
    notes.write_text("Dinner is at eight.")
    attach(qtbot, window, notes)
    disk = InjectedFullDisk(window.store)
    disk.fill()
    try:
        with qtbot.waitSignal(window.controller.attachments_returned, timeout=READ_MS):
            window.composer.edit.setPlainText("When is dinner?")
            qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
        assert window.composer.edit.toPlainText() == "When is dinner?"
        [chip] = window.composer.attachments.chips
        assert chip.name.text() == "notes.txt" and chip.state == "ready"
        assert not window.controller.busy and window.composer.button.isEnabled()
        assert window.banner.isVisible()
    finally:
        disk.free()
    assert window.store.conversations() == [] and attachments.count(window.store._db) == (0, 0)
    ask(qtbot, window, "When is dinner?")
    assert [[a.name for a in files] for files in stored_files(window)] == [["notes.txt"]]
