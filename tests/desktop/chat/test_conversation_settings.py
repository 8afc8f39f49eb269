"""Per-conversation settings, deleting messages, and the context meter's words."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.chat.conversation_settings import PRESETS, ConversationSettings
from desktop.chat.messages import AssistantMessage, UserMessage
from desktop.engines.bridge import EngineBridge
from desktop.window.main_window import MainWindow
from model_runtime.chat.generation import GenerationParams
from model_runtime.chat.thinking import ThinkingPolicy
from model_runtime.conversations.params import params_from_dict, params_to_dict
from model_runtime.conversations.store import ConversationStore


@pytest.fixture
def window(qtbot, tmp_path: Path):
    store = ConversationStore(tmp_path / "c.sqlite")
    window = MainWindow(EngineBridge(), store)
    qtbot.addWidget(window)
    yield window
    window.close()
    store.close()


def test_presets_fill_the_fields_and_edits_become_custom(qtbot) -> None:
    dialog = ConversationSettings("", GenerationParams(temperature=0.6, top_p=0.95))
    qtbot.addWidget(dialog)
    assert dialog.preset.currentText() == "R1 recommended"
    dialog.preset.setCurrentText("Precise")
    assert (dialog.temperature.value(), dialog.top_p.value()) == pytest.approx(PRESETS["Precise"])
    dialog.temperature.setValue(1.3)
    assert dialog.preset.currentText() == "Custom"
    dialog.max_tokens.setValue(2048)
    dialog.system_prompt.setPlainText("  Answer in French.  ")
    params = dialog.result_params()
    assert params.temperature == pytest.approx(1.3) and params.max_tokens == 2048
    assert dialog.result_system_prompt() == "Answer in French."


def test_stored_params_round_trip_and_garbage_is_ignored() -> None:
    base = GenerationParams(seed=5, grammar='root ::= "x"')
    params = GenerationParams(temperature=0.3, top_p=0.9, max_tokens=999)
    back = params_from_dict(params_to_dict(params), base)
    assert (back.temperature, back.top_p, back.max_tokens) == (0.3, 0.9, 999)
    assert back.seed == 5 and back.grammar == base.grammar  # what isn't stored is kept
    junk = params_from_dict({"temperature": "hot", "top_p": None, "max_tokens": True}, base)
    assert junk == base


def test_settings_are_saved_with_the_conversation(window: MainWindow) -> None:
    store = window.store
    conversation = store.create_conversation()
    store.add_message(conversation.id, "user", "hello")
    window.open_conversation(conversation.id)
    window.controller.apply_settings("Be terse.", GenerationParams(temperature=0.2))
    saved = store.conversation(conversation.id)
    assert saved.system_prompt == "Be terse."
    assert saved.params["temperature"] == pytest.approx(0.2)
    window.new_chat()
    window.controller.params = GenerationParams()
    window.open_conversation(conversation.id)  # opening brings its own settings back
    assert window.controller.system_prompt == "Be terse."
    assert window.controller.params.temperature == pytest.approx(0.2)


def test_delete_a_message_and_what_followed(window: MainWindow) -> None:
    store = window.store
    conversation = store.create_conversation()
    for turn in range(3):
        store.add_message(conversation.id, "user", f"question {turn}")
        store.add_message(conversation.id, "assistant", f"answer {turn}")
    window.open_conversation(conversation.id)
    second_question = window.chat_view.messages[2]
    assert isinstance(second_question, UserMessage)
    second_question.delete_button.click()
    assert [m.content for m in store.visible_messages(conversation.id)] == [
        "question 0",
        "answer 0",
    ]
    assert len(window.chat_view.messages) == 2
    answer = window.chat_view.messages[1]
    assert isinstance(answer, AssistantMessage) and answer.answer == "answer 0"


def test_long_conversations_build_their_older_messages_on_demand(window: MainWindow) -> None:
    from desktop.chat.controller import PAGE

    store = window.store
    conversation = store.create_conversation()
    for turn in range(100):
        store.add_message(conversation.id, "user", f"question {turn}")
        store.add_message(conversation.id, "assistant", f"answer {turn}", reasoning="hmm")
    window.open_conversation(conversation.id)
    view = window.chat_view
    assert len(view.messages) == PAGE
    assert view.earlier_button.isVisibleTo(view)
    view.earlier_button.click()
    assert len(view.messages) == 2 * PAGE
    first = view.messages[0]
    assert isinstance(first, AssistantMessage | UserMessage)
    while view.earlier_button.isVisibleTo(view):
        view.earlier_button.click()
    assert len(view.messages) == 200
    assert isinstance(view.messages[0], UserMessage) and view.messages[0].text == "question 0"
    # saved reasoning waits until its pane is opened
    pane = view.messages[1].thinking
    assert pane is not None and not pane.expanded
    assert pane.body.toPlainText() == "" and pane.text() == "hmm"
    pane.set_expanded(True)
    assert pane.body.toPlainText() == "hmm"


def test_the_budget_list_shows_each_budget_once(qtbot) -> None:
    from desktop.chat.conversation_settings import BUDGETS

    labels = [label for label, _, _ in BUDGETS]

    def shown(params: GenerationParams) -> tuple[list[str], str]:
        dialog = ConversationSettings("", params)
        qtbot.addWidget(dialog)
        items = [dialog.budget.itemText(i) for i in range(dialog.budget.count())]
        return items, dialog.budget.currentText()

    assert shown(GenerationParams()) == (labels, "No limit")  # no stray "None (s)"
    thirty = GenerationParams(thinking=ThinkingPolicy(budget_seconds=30.0))
    assert shown(thirty) == (labels, "30 seconds")
    odd = GenerationParams(thinking=ThinkingPolicy(budget_tokens=300))
    assert shown(odd) == ([*labels, "300 tokens"], "300 tokens")
    dialog = ConversationSettings("", odd)
    qtbot.addWidget(dialog)
    assert dialog.result_params().thinking.budget_tokens == 300  # kept as it was
