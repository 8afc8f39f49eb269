"""Themes: one table of colours per theme applied live to the palette, the style sheet and the
answers already shown; following the system when it switches; bad settings and a damaged style
sheet fall back; the chat's text size. Real widgets, offscreen; the OS switch is simulated by
emitting Qt's own colorSchemeChanged."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QLabel

from desktop.chat.answer_view import AnswerView
from desktop.chat.thinking_pane import ThinkingPane
from desktop.common.appearance import FILE_NAME, load_appearance
from desktop.common.colours import DARK, LIGHT, current
from desktop.common.theme import (
    ThemeManager,
    read_template,
    release_theme_manager,
    style_sheet,
    theme_manager,
)
from desktop.window.main_window import MainWindow
from model_runtime.paths import config_dir

ANSWER = """Some **text** and a [link](https://example.org).

```python
def f(x):
    return x + 1  # one more
```

> A quote.

| a | b |
| - | - |
| 1 | 2 |
"""
Role = QPalette.ColorRole


def window_colour() -> str:
    return QApplication.palette().color(Role.Window).name()


def test_the_style_sheet_names_colours_and_both_themes_have_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    template = read_template()
    body = template.split("*/", 1)[1]  # after the opening comment
    assert re.findall(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?\b", body) == []  # no literals
    assert "font-size: @" in body and not re.search(r"font-size: *\d", body)  # relative sizes
    for colours in (LIGHT, DARK):
        with caplog.at_level(logging.WARNING):
            sheet = style_sheet(template, colours, 9.0)
        assert "@" not in sheet.split("*/", 1)[1]
        assert colours.window in sheet and colours.accent in sheet
    assert not caplog.records


def test_a_theme_switch_applies_at_once_and_renders_shown_answers_again(qtbot: Any) -> None:
    theme = theme_manager()
    theme.install()
    assert theme.choice == "system" and current() == LIGHT  # offscreen: a light system
    view = AnswerView()
    qtbot.addWidget(view)
    view.resize(640, 400)
    view.show()
    view.set_markdown(ANSWER)
    assert LIGHT.code_bg in view.toHtml() and DARK.code_bg not in view.toHtml()

    with qtbot.waitSignals([theme.theme_changed, view.rendered], timeout=5000):
        theme.use_dark()
    assert current() == DARK and window_colour() == DARK.window
    assert DARK.window in QApplication.instance().styleSheet()  # type: ignore[union-attr]
    html = view.toHtml()
    assert DARK.code_bg in html and DARK.code_header in html and LIGHT.code_bg not in html
    assert view.palette().color(Role.Text).name() == DARK.text
    assert view.document().defaultStyleSheet().startswith(f"a {{ color: {DARK.link}; }}")
    assert link_colour(view) == DARK.link
    assert load_appearance().theme == "dark"  # remembered

    with qtbot.waitSignals([theme.theme_changed, view.rendered], timeout=5000):
        theme.use_light()
    assert LIGHT.code_bg in view.toHtml() and link_colour(view) == LIGHT.link
    assert view.code_blocks == ["def f(x):\n    return x + 1  # one more"]


def link_colour(view: AnswerView) -> str:
    block = view.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.isAnchor() and fmt.anchorHref().startswith("https:"):
                return fmt.foreground().color().name()
            it += 1
        block = block.next()
    raise AssertionError("no link")


def test_following_the_system_switches_when_the_system_does(qtbot: Any) -> None:
    theme = theme_manager()
    theme.install()
    hints = QGuiApplication.styleHints()
    with qtbot.waitSignal(theme.theme_changed) as changed:
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # as the OS tells Qt
    assert changed.args == [DARK] and window_colour() == DARK.window
    with qtbot.waitSignal(theme.theme_changed) as changed:
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert changed.args == [LIGHT] and window_colour() == LIGHT.window

    theme.use_light()  # a theme chosen by hand stays
    with qtbot.assertNotEmitted(theme.theme_changed):
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert current() == LIGHT
    theme.follow_system()  # and following again takes the system's as it is now
    assert current() == DARK and window_colour() == DARK.window


@pytest.mark.parametrize(
    ("content", "choice", "zoom"),
    [
        ('{"theme": "purple", "zoom": 125}', "system", 125),
        ("{not json", "system", 100),
        ('["dark"]', "system", 100),
        ('{"theme": "dark", "zoom": "huge"}', "dark", 100),
    ],
)
def test_an_unknown_or_damaged_setting_falls_back_with_a_note_in_the_log(
    content: str, choice: str, zoom: int, caplog: pytest.LogCaptureFixture
) -> None:
    path = config_dir() / FILE_NAME
    path.write_text(content, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        theme = theme_manager()
    assert (theme.choice, theme.zoom) == (choice, zoom)
    assert caplog.records and caplog.records[0].levelno == logging.WARNING
    assert path.read_text(encoding="utf-8") == content  # left as it was
    theme.set_theme("sepia")  # unknown here too: follows the system
    assert theme.choice == "system"
    if choice == "dark":  # a change: saved
        assert json.loads(path.read_text(encoding="utf-8")) == {"theme": "system", "zoom": 100}
    else:
        assert path.read_text(encoding="utf-8") == content


def test_a_missing_or_wrong_style_sheet_leaves_the_palette_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, qapp: QApplication
) -> None:
    wrong = tmp_path / "wrong.qss"
    wrong.write_text("QLabel { color: @no_such_colour; background: @window; }", encoding="utf-8")
    for template, words in ((tmp_path / "gone.qss", "Can't read"), (wrong, "no_such_colour")):
        (config_dir() / FILE_NAME).write_text('{"theme": "dark"}', encoding="utf-8")
        theme = ThemeManager(qapp, template)
        try:
            with caplog.at_level(logging.WARNING):
                theme.install()
            assert window_colour() == DARK.window  # the palette applies all the same
            assert words in caplog.text
        finally:
            theme.restore()
            theme.deleteLater()
    assert "palette(text)" in style_sheet(wrong.read_text(), DARK, 9.0)


def test_the_chat_text_size_follows_the_keys_and_is_remembered(
    open_window: Callable[..., MainWindow], qtbot: Any
) -> None:
    window = open_window()
    window.theme.install()
    base = window.theme.chat_point_size
    message = window.chat_view.add_assistant_message()
    message.answer_view.show()
    message.answer_view.set_markdown("Some answer.")
    pane = ThinkingPane()
    qtbot.addWidget(pane)
    pane.resize(600, 400)
    pane.show()
    pane.append("Three\nshort\nlines.")
    edit = window.composer.edit

    def fits() -> bool:  # the reasoning pane is as tall as its text, at any size
        height = pane.body.document().size().height()
        return pane.body.viewport().height() == int(height)

    def sizes() -> tuple[float, float]:
        answer = message.answer_view.document().defaultFont().pointSizeF()
        return answer, edit.font().pointSizeF()

    assert sizes() == pytest.approx((round(base * 1.15, 1), round(base * 1.15, 1)), abs=0.06)
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert window.theme.zoom == 110
    assert sizes()[0] == pytest.approx(base * 1.15 * 1.1, abs=0.06)
    assert pane.body.document().defaultFont().pointSizeF() == pytest.approx(base * 1.1, abs=0.06)
    qtbot.waitUntil(fits)
    qtbot.keyClick(edit, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert window.theme.zoom == 125
    assert QKeySequence(QKeySequence.StandardKey.ZoomIn) in window.commands.zoom_in.shortcuts()
    zoomed = sizes()
    user = window.chat_view.add_user_message("A question")
    label = user.findChild(QLabel, "userText")
    assert label is not None and label.font().pointSizeF() == zoomed[0]
    window.theme.use_dark()  # a new style sheet: the chat's text keeps its size
    assert sizes() == zoomed and label.font().pointSizeF() == zoomed[0]

    release_theme_manager()  # as after a restart: the size is the one chosen
    assert theme_manager().zoom == 125 and load_appearance().zoom == 125
    again = open_window()
    again.commands.zoom_reset.trigger()
    assert again.theme.zoom == 100
    again.commands.zoom_out.trigger()
    assert again.theme.zoom == 90 and load_appearance().zoom == 90
    font = again.composer.edit.font()
    assert font.pointSizeF() == pytest.approx(base * 1.15 * 0.9, abs=0.06)
