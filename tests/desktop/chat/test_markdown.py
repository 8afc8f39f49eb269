"""Markdown → Qt rich text: features render, untrusted input stays inert, streaming cuts hold."""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser

import pytest

from desktop.chat.markdown import COPY_SCHEME, render_markdown, split_stable

ANSWER = """\
# Sorting in Python

Python has **two** ways: `sorted()` returns a *new* list,
`list.sort()` works ~~on a copy~~ in place.

## Steps

1. Decide whether the original order matters.
2. Pick a key.

- tight item
- another

* loose item

* second loose item

  with a continuation paragraph

```python
def sort_people(people):
    \"\"\"Sort by age, then name.\"\"\"

    return sorted(people, key=lambda p: (p.age, p.name))
```

| Method | Returns | Stable |
|:-------|:-------:|-------:|
| `sorted()` | new list | yes |
| `list.sort()` | `None` | yes |

> **Note:** both sorts are stable.
> Second quoted line.

~~~
tilde fence

with a blank line and a ``` inside
~~~

    indented code

    with a blank line

Setext heading
--------------

---

See [the docs](https://docs.python.org/3/howto/sorting.html) or <mailto:help@example.org>.
"""


class _Tags(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.tags


def hrefs(html: str) -> list[str]:
    return [str(attrs.get("href")) for tag, attrs in tags_of(html) if tag == "a"]


def test_block_and_inline_elements_render() -> None:
    html = render_markdown(ANSWER).html
    names = {tag for tag, _ in tags_of(html)}
    assert {"h1", "h2", "ol", "ul", "li", "p", "table", "th", "td", "pre"} <= names
    assert {"em", "strong", "s", "code", "hr", "a"} <= names
    assert "<h1>Sorting in Python</h1>" in html
    assert "<strong>two</strong>" in html
    assert "<h2>Setext heading</h2>" in html
    assert "https://docs.python.org/3/howto/sorting.html" in hrefs(html)
    assert "mailto:help@example.org" in hrefs(html)


def test_python_fence_is_highlighted_with_inline_styles_and_a_copy_link() -> None:
    code = 'def f(x):\n    return x + 1  # add one\n\n\nprint("<b>")'
    rendered = render_markdown(f"Intro\n\n```python\n{code}\n```\n")
    assert rendered.code_blocks == [code]
    html = rendered.html
    assert "python" in html
    assert hrefs(html) == [f"{COPY_SCHEME}:0"]
    # Pygments colours as inline styles, never classes (Qt rich text ignores them).
    assert '<span style="color: #' in html
    assert "font-weight: bold" in html
    assert "class=" not in html
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_unknown_or_missing_language_is_plain_escaped_text() -> None:
    rendered = render_markdown("```no-such-lang\na < b\n```\n\n```\nplain\n```\n")
    assert rendered.code_blocks == ["a < b", "plain"]
    assert "no-such-lang" in rendered.html
    assert ">text<" in rendered.html
    assert "a &lt; b" in rendered.html
    bodies = re.findall(r"<pre[^>]*>(.*?)</pre>", rendered.html, re.DOTALL)
    assert bodies == ["a &lt; b", "plain"]


def test_fence_info_is_escaped() -> None:
    html = render_markdown("```<script>alert(1)</script>\nx\n```\n").html
    assert "<script" not in html
    assert "&lt;script&gt;" in html


def test_copy_links_count_from_code_index_start() -> None:
    rendered = render_markdown("```\na\n```\n\n    b\n", code_index_start=3)
    assert hrefs(rendered.html) == [f"{COPY_SCHEME}:3", f"{COPY_SCHEME}:4"]
    assert rendered.code_blocks == ["a", "b"]


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](file:///etc/passwd)",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[x](vbscript:msgbox)",
    "[x](/etc/passwd)",
    "[x](ponder-copy:0)",
    "<javascript:alert(1)>",
    "![p](http://evil/p.png)",
    "![p](/etc/passwd)",
    "![p](file:///etc/passwd)",
    "![p](data:image/png;base64,iVBORw0KGgo=)",
    "[![p](http://evil/p.png)](javascript:alert(1))",
    '<iframe src="http://evil"></iframe>',
    "<style>body{background:url(http://evil)}</style>",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_input_is_inert(source: str) -> None:
    rendered = render_markdown(f"before\n\n{source}\n\nafter")
    tags = tags_of(rendered.html)
    names = {tag for tag, _ in tags}
    assert names <= {"p", "a"}, names
    for tag, attrs in tags:
        assert set(attrs) <= {"href"}, (tag, attrs)
    for href in hrefs(rendered.html):
        assert href.split(":", 1)[0] in ("http", "https", "mailto"), href
    assert rendered.code_blocks == []


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("[x](javascript:alert(1))", "<p>x</p>"),
        ("[x](file:///etc/passwd)", "<p>x</p>"),
        ("![p](/etc/passwd)", "<p>🖼 p</p>"),
        ("![p](http://evil/p.png)", '<p><a href="http://evil/p.png">🖼 p</a></p>'),
    ],
)
def test_hostile_input_shows_as_text(source: str, text: str) -> None:
    assert text in render_markdown(source).html


def test_safe_links_are_kept() -> None:
    html = render_markdown(
        "[a](http://a.example) [b](HTTPS://b.example/x?y=1&z=2) [c](mailto:c@d.e)"
    ).html
    assert hrefs(html) == ["http://a.example", "HTTPS://b.example/x?y=1&z=2", "mailto:c@d.e"]


# -- split_stable -----------------------------------------------------------------------


def test_split_stable_cuts_only_before_a_block_after_a_blank_line() -> None:
    assert split_stable("") == 0
    assert split_stable("para") == 0
    assert split_stable("para\n\n") == 0
    assert split_stable("para\n\nnext") == 0  # the next block's first line is unfinished
    assert split_stable("para\n\nnext\n") == len("para\n\n")
    assert split_stable("para\nsame para\n") == 0
    assert split_stable("a\n\nb\n\nc\n") == len("a\n\nb\n\n")
    assert split_stable("a\r\n\r\nb\r\n") == len("a\r\n\r\n")


def test_split_stable_never_cuts_inside_a_fence() -> None:
    assert split_stable("```\na\n\nb\n") == 0
    assert split_stable("~~~~\na\n\n~~~\n\nb\n") == 0  # a shorter fence does not close it
    assert split_stable("~~~\na\n\n```\n\nb\n") == 0  # nor does the other fence character
    assert split_stable("text\n\n```py\nx\n\n\ny\n") == len("text\n\n")
    assert split_stable("````\n```\n\nstill code\n") == 0
    closed = "```\na\n\nb\n```\n\nafter\n"
    assert split_stable(closed) == closed.index("after")
    in_list = "- item\n\n  ```\n  code\n\n  more\n"
    assert split_stable(in_list) == 0


def test_split_stable_keeps_a_growing_list_in_the_tail() -> None:
    assert split_stable("- a\n- b\n\n- c\n") == 0
    assert split_stable("1. a\n\n2") == 0
    assert split_stable("- a\n\n  continued\n") == 0
    assert split_stable("- a\n\npara\n") == len("- a\n\n")


def _fence_open_at(text: str) -> bool:
    """Whether ``text`` ends inside a top-level ``` or ~~~ fence (simple scanner)."""
    fence = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not fence:
            if stripped.startswith(("```", "~~~")):
                fence = stripped[:3]
        elif stripped.startswith(fence) and not stripped.strip(fence[0]):
            fence = ""
    return bool(fence)


def test_split_stable_on_every_prefix_is_a_clean_cut() -> None:
    """Rendering the stable part and the rest separately gives the whole render."""
    whole = render_markdown(ANSWER)
    for end in range(len(ANSWER) + 1):
        prefix = ANSWER[:end]
        cut = split_stable(prefix)
        assert cut == 0 or prefix[cut - 1] == "\n"
        assert not _fence_open_at(prefix[:cut]), (end, prefix[:cut])
        head = render_markdown(ANSWER[:cut])
        rest = render_markdown(ANSWER[cut:], code_index_start=len(head.code_blocks))
        joined = f"{head.html}\n{rest.html}" if head.html else rest.html
        assert joined == whole.html, end
        assert head.code_blocks + rest.code_blocks == whole.code_blocks


def test_split_stable_grows_monotonically_while_streaming() -> None:
    rnd = random.Random(7)
    end, last = 0, 0
    while end < len(ANSWER):
        end += rnd.randint(1, 30)
        cut = split_stable(ANSWER[:end])
        assert cut >= last
        last = cut
