"""AnswerView: links open only when clicked, code copies, nothing loads, streaming matches."""

from __future__ import annotations

import base64
import os
import random
from collections.abc import Callable
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QGuiApplication, QImage, QTextCursor, QTextDocument
from PySide6.QtWidgets import QScrollArea, QTextBrowser, QVBoxLayout, QWidget

import desktop.chat.answer_view as answer_view_module
import desktop.chat.segments as segments_module
from desktop.chat.answer_view import AnswerView

CODE = 'def greet(name):\n    """Say hello."""\n\n    print(f"hello {name}")'

ANSWER = f"""\
# Greeting people

A **short** answer with *emphasis*, `inline code` and ~~a mistake~~.

## Plan

1. Write the function.
2. Call it:

   ```python
   greet("ada")
   ```

3. Done.

- one
- two

```python
{CODE}
```

| Name | Age |
|------|----:|
| Ada  | 36  |
| Alan | 41  |

> Quoted **advice**, with a [link](https://example.org/advice).

~~~sh
echo one

echo two
~~~

    indented code

Read [the manual](https://docs.python.org/3/) or write to <mailto:help@example.org>.
"""


@pytest.fixture
def opened() -> list[QUrl]:
    return []


def recorder(opened: list[QUrl]) -> Callable[[QUrl], bool]:
    """A stand-in for QDesktopServices.openUrl that only notes the URL."""

    def open_url(url: QUrl) -> bool:
        opened.append(url)
        return True

    return open_url


@pytest.fixture
def view(qtbot: Any, opened: list[QUrl]) -> AnswerView:
    widget = AnswerView(open_url=recorder(opened))
    qtbot.addWidget(widget)
    widget.resize(700, 100)
    return widget


class CountingView(AnswerView):
    """Records every resource the document asks for and what it got back."""

    def __init__(self, **kwargs: Any) -> None:
        self.requests: list[tuple[int, str]] = []
        self.returned: list[Any] = []
        super().__init__(**kwargs)

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        self.requests.append((type, QUrl(name).toString()))
        result = super().loadResource(type, name)
        self.returned.append(result)
        return result


def anchors(view: QTextBrowser) -> list[tuple[str, str, int]]:
    """(text, href, middle position) of every link fragment in the document."""
    found = []
    block = view.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fmt = fragment.charFormat()
            if fmt.isAnchor():
                middle = fragment.position() + fragment.length() // 2
                found.append((fragment.text(), fmt.anchorHref(), middle))
            it += 1
        block = block.next()
    return found


def has_images(document: QTextDocument) -> bool:
    block = document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            if it.fragment().charFormat().isImageFormat():
                return True
            it += 1
        block = block.next()
    return False


def click_at(qtbot: Any, view: QTextBrowser, position: int) -> None:
    cursor = QTextCursor(view.document())
    cursor.setPosition(position)
    point: QPoint = view.cursorRect(cursor).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def block_dump(document: QTextDocument) -> list[tuple[object, ...]]:
    """Text and look of every block, tables and lists included."""
    dump: list[tuple[object, ...]] = []
    block = document.begin()
    while block.isValid():
        fmt = block.blockFormat()
        dump.append(
            (
                block.text(),
                fmt.topMargin(),
                fmt.bottomMargin(),
                fmt.leftMargin(),
                fmt.headingLevel(),
                fmt.objectIndex() != -1,  # in a list (textList() trips a PySide bug)
                fmt.indent(),
                block.charFormat().fontPointSize(),
            )
        )
        block = block.next()
    return dump


# -- rendering and links ----------------------------------------------------------------


def test_answer_renders_rich_text(view: AnswerView) -> None:
    view.set_markdown(ANSWER)
    text = view.toPlainText()
    for piece in ("Greeting people", "Plan", "Write the function.", "Ada", "Quoted advice"):
        assert piece in text
    assert "**" not in text and "```" not in text
    assert len(view.document().rootFrame().childFrames()) >= 5  # code boxes, table, quote
    assert view.code_blocks == ['greet("ada")', CODE, "echo one\n\necho two", "indented code"]


def test_copy_link_click_copies_exactly_the_code(qtbot: Any, view: AnswerView) -> None:
    view.set_markdown(ANSWER)
    copy_links = [a for a in anchors(view) if a[1].startswith("ponder-copy:")]
    assert [(text, href) for text, href, _ in copy_links] == [
        ("Copy", f"ponder-copy:{i}") for i in range(4)
    ]
    with qtbot.waitSignal(view.code_copied) as copied:
        click_at(qtbot, view, copy_links[1][2])
    assert copied.args == [1]
    assert QGuiApplication.clipboard().text() == CODE

    with qtbot.waitSignal(view.code_copied) as copied:
        view.anchorClicked.emit(QUrl("ponder-copy:2"))
    assert copied.args == [2]
    assert QGuiApplication.clipboard().text() == "echo one\n\necho two"


def test_copy_link_out_of_range_does_nothing(qtbot: Any, view: AnswerView) -> None:
    view.set_markdown("```\nx\n```\n")
    QGuiApplication.clipboard().setText("unchanged")
    with qtbot.assertNotEmitted(view.code_copied):
        view.anchorClicked.emit(QUrl("ponder-copy:5"))
        view.anchorClicked.emit(QUrl("ponder-copy:-1"))
        view.anchorClicked.emit(QUrl("ponder-copy:abc"))
    assert QGuiApplication.clipboard().text() == "unchanged"


def test_http_link_opens_only_through_the_opener_when_clicked(
    qtbot: Any, view: AnswerView, opened: list[QUrl]
) -> None:
    view.set_markdown(ANSWER)
    view.grab()
    assert opened == []  # rendering and painting never open anything
    manual = next(a for a in anchors(view) if a[0] == "the manual")
    with qtbot.waitSignal(view.link_activated) as activated:
        click_at(qtbot, view, manual[2])
    assert activated.args == [QUrl("https://docs.python.org/3/")]
    assert opened == [QUrl("https://docs.python.org/3/")]

    with qtbot.waitSignal(view.link_activated):
        view.anchorClicked.emit(QUrl("mailto:help@example.org"))
    assert opened[-1] == QUrl("mailto:help@example.org")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "relative/path.html",
        "/etc/passwd",
        "ftp://example.org/x",
    ],
)
def test_other_schemes_are_ignored_when_clicked(
    qtbot: Any, view: AnswerView, opened: list[QUrl], url: str
) -> None:
    view.setHtml(f'<a href="{url}">x</a>')
    with (
        qtbot.assertNotEmitted(view.link_activated),
        qtbot.assertNotEmitted(view.code_copied),
    ):
        view.anchorClicked.emit(QUrl(url))
    assert opened == []
    assert view.toPlainText() == "x"  # no navigation happened


def test_hovering_a_link_shows_where_it_goes(view: AnswerView) -> None:
    view.highlighted.emit(QUrl("https://example.org/real"))
    assert view.toolTip() == "https://example.org/real"
    view.highlighted.emit(QUrl())
    assert view.toolTip() == ""


# -- nothing is ever loaded -------------------------------------------------------------


HOSTILE_MARKDOWN = """\
<script>alert(1)</script> <img src=x onerror=alert(1)> <a href="javascript:alert(1)">x</a>

[x](javascript:alert(1)) [y](file:///etc/passwd) [z](ponder-copy:0)

![p](http://evil/p.png) ![q](/etc/passwd) ![r](data:image/png;base64,iVBORw0KGgo=)
"""


def test_hostile_markdown_is_inert(qtbot: Any, opened: list[QUrl]) -> None:
    view = CountingView(open_url=recorder(opened))
    qtbot.addWidget(view)
    view.resize(700, 100)
    view.set_markdown(HOSTILE_MARKDOWN)
    view.show()
    view.grab()
    assert view.requests == []
    assert not has_images(view.document())
    links = [(text, href) for text, href, _ in anchors(view)]
    assert links == [("🖼 p", "http://evil/p.png")]
    text = view.toPlainText()
    assert "<script>alert(1)</script>" in text
    assert "<img src=x onerror=alert(1)>" in text
    assert '<a href="javascript:alert(1)">x</a>' in text
    assert "x y z" in text
    assert "🖼 q" in text and "🖼 r" in text
    assert opened == []


def test_raw_html_images_load_nothing(qtbot: Any, tmp_path: Any) -> None:
    picture = tmp_path / "picture.png"
    image = QImage(4, 4, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.red)
    assert image.save(str(picture))
    local = QUrl.fromLocalFile(str(picture)).toString()
    images = [
        "file:///etc/hostname",
        local,
        str(picture),
        "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode(),
        "http://127.0.0.1:9/remote.png",
    ]
    html = "".join(f'<p>x<img src="{url}">y</p>' for url in images)
    html += f'<table background="{local}"><tr><td>cell</td></tr></table>'

    def loaded(document: QTextDocument) -> list[str]:
        kind = QTextDocument.ResourceType.ImageResource
        return [url for url in images if document.resource(kind, QUrl(url)) is not None]

    # The control: a plain QTextBrowser reads the local picture and decodes the data URL.
    plain = QTextBrowser()
    qtbot.addWidget(plain)
    plain.setHtml(html)
    plain.grab()
    assert local in loaded(plain.document())

    view = CountingView()
    qtbot.addWidget(view)
    view.resize(700, 100)
    view.setHtml(html)
    view.show()
    view.grab()
    assert has_images(view.document())  # the <img> are there, as empty objects
    assert local in {name for _, name in view.requests}  # loadResource was asked ...
    assert view.returned and all(result is None for result in view.returned)  # ... for nothing
    assert loaded(view.document()) == []
    assert "xy" in view.toPlainText().replace("\ufffc", "")


# -- streaming --------------------------------------------------------------------------


LONG_ANSWER = "\n\n".join(
    ANSWER.replace("Greeting people", f"Part {i}").replace("Ada", f"Ada {i}") for i in range(6)
)


def stream(view: AnswerView, text: str, seed: int, biggest: int = 40) -> None:
    rnd = random.Random(seed)
    end = 0
    while end < len(text):
        end = min(len(text), end + rnd.randint(1, biggest))
        view.set_markdown_streaming(text[:end])


@pytest.mark.parametrize("seed", range(6))
def test_streaming_matches_a_single_render(qtbot: Any, seed: int) -> None:
    single = AnswerView()
    streamed = AnswerView()
    for widget in (single, streamed):
        qtbot.addWidget(widget)
        widget.resize(700, 100)
    single.set_markdown(LONG_ANSWER)

    stream(streamed, LONG_ANSWER, seed)
    # Even before the final render the document is the same, block for block.
    assert streamed.toPlainText() == single.toPlainText()
    assert block_dump(streamed.document()) == block_dump(single.document())
    assert streamed.code_blocks == single.code_blocks
    assert streamed.height() == single.height()

    streamed.finish_markdown(LONG_ANSWER)
    assert streamed.toPlainText() == single.toPlainText()
    assert streamed.code_blocks == single.code_blocks


@pytest.mark.parametrize("seed", range(3))
def test_appending_deltas_matches_a_single_render(qtbot: Any, seed: int) -> None:
    """The chat streams only the new text; the view keeps its own unstable tail."""
    single, streamed = AnswerView(), AnswerView()
    for widget in (single, streamed):
        qtbot.addWidget(widget)
        widget.resize(700, 100)
    single.set_markdown(LONG_ANSWER)
    rnd = random.Random(seed)
    start = 0
    while start < len(LONG_ANSWER):
        end = min(len(LONG_ANSWER), start + rnd.randint(1, 40))
        streamed.append_markdown_streaming(LONG_ANSWER[start:end])
        start = end
    assert block_dump(streamed.document()) == block_dump(single.document())
    assert streamed.code_blocks == single.code_blocks


def test_copy_works_while_streaming(qtbot: Any, view: AnswerView) -> None:
    text = f"Intro\n\n```python\n{CODE}\n```\n\nMiddle\n\n```sh\necho tail\n"
    stream(view, text, seed=1, biggest=5)
    assert view.code_blocks == [CODE, "echo tail"]
    copy_hrefs = [href for _, href, _ in anchors(view) if href.startswith("ponder-copy:")]
    assert copy_hrefs == ["ponder-copy:0", "ponder-copy:1"]
    with qtbot.waitSignal(view.code_copied):
        view.anchorClicked.emit(QUrl("ponder-copy:1"))
    assert QGuiApplication.clipboard().text() == "echo tail"


def test_streaming_a_new_answer_starts_over(view: AnswerView) -> None:
    stream(view, LONG_ANSWER[:2000], seed=3)
    view.set_markdown_streaming("Fresh start")
    assert view.toPlainText() == "Fresh start"
    view.finish_markdown("Done")
    view.set_markdown_streaming("Again\n\nmore")
    assert view.toPlainText() == "Again\nmore"


def test_streaming_work_follows_the_new_text_not_the_whole_answer(
    monkeypatch: pytest.MonkeyPatch, view: AnswerView
) -> None:
    rendered: list[int] = []
    scanned: list[int] = []

    def spy(function: Callable[..., Any], sizes: list[int]) -> Callable[..., Any]:
        def wrapper(text: str, *args: Any, **kwargs: Any) -> Any:
            sizes.append(len(text))
            return function(text, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        answer_view_module, "render_markdown", spy(answer_view_module.render_markdown, rendered)
    )
    monkeypatch.setattr(segments_module, "scan_blocks", spy(segments_module.scan_blocks, scanned))
    text = LONG_ANSWER * 3
    stream(view, text, seed=5, biggest=30)
    longest_block = len(ANSWER)  # generous: no single block is longer than one answer
    assert max(rendered) < longest_block and max(scanned) < longest_block
    # Quadratic work would be about updates × len(text) / 2; this stays linear.
    assert sum(rendered) < 40 * len(text)
    assert sum(scanned) < 40 * len(text)


# -- geometry and interaction -----------------------------------------------------------


def test_height_follows_the_text(view: AnswerView) -> None:
    view.show()
    heights = []
    for end in range(200, len(LONG_ANSWER), 400):
        view.set_markdown_streaming(LONG_ANSWER[:end])
        heights.append(view.height())
    assert heights[-1] > 3 * heights[0]
    assert view.height() >= view.document().size().height()
    assert view.verticalScrollBar().maximum() == 0  # never an inner scroll

    view.finish_markdown(LONG_ANSWER)
    wide = view.height()
    view.resize(350, wide)
    assert view.height() > wide  # narrower means taller
    assert view.verticalScrollBar().maximum() == 0


def test_stacks_in_a_scroll_area(qtbot: Any) -> None:
    area = QScrollArea()
    area.setWidgetResizable(True)
    column = QWidget()
    layout = QVBoxLayout(column)
    views = [AnswerView() for _ in range(3)]
    for widget in views:
        layout.addWidget(widget)
    layout.addStretch(1)
    area.setWidget(column)
    qtbot.addWidget(area)
    area.resize(600, 400)
    area.show()
    for widget in views:
        widget.set_markdown(ANSWER)
    qtbot.waitUntil(lambda: column.height() >= sum(v.height() for v in views))
    assert all(v.height() > 400 for v in views)
    assert area.verticalScrollBar().maximum() > 0


def test_text_is_selectable_and_links_are_reachable(qtbot: Any, view: AnswerView) -> None:
    flags = view.textInteractionFlags()
    for flag in (
        Qt.TextInteractionFlag.TextSelectableByMouse,
        Qt.TextInteractionFlag.TextSelectableByKeyboard,
        Qt.TextInteractionFlag.LinksAccessibleByMouse,
        Qt.TextInteractionFlag.LinksAccessibleByKeyboard,
    ):
        assert flags & flag
    assert view.isReadOnly()
    view.set_markdown("Select **this** text.")
    view.show()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "Select this text."
