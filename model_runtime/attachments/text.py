"""Text files and HTML: which encoding, whether it is text at all, and what a page shows."""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from model_runtime.errors import AttachmentError

# Most specific first: UTF-32 LE's BOM starts with UTF-16 LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
SNIFF_BYTES = 8192
MAX_CONTROL_SHARE = 0.05  # more control characters than this: not text
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

# Signatures of common files that are not text: what to call them in the message.
_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"GGUF", "a GGUF model"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a program"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.doc, .xls, .ppt)"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
SUPPORTED = "Ponder reads text files (code, Markdown, CSV, JSON, logs), PDF, Word (.docx) and HTML."


def bom_encoding(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def what_binary(data: bytes) -> str:
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    return "a binary file"


def binary_error(name: str, data: bytes) -> AttachmentError:
    what = what_binary(data)
    hint = " Save it as .docx and attach that." if "Office" in what else ""
    return AttachmentError(
        f"{name} is {what}, not text, so Ponder can't read it.{hint} {SUPPORTED}",
        reason="binary",
    )


def _mostly_control(text: str) -> bool:
    sample = text[:SNIFF_BYTES]
    return bool(sample) and len(_CONTROL.findall(sample)) > MAX_CONTROL_SHARE * len(sample)


def decode_text(data: bytes, name: str) -> str:
    """The text of a file: UTF-8, UTF-16 or UTF-32 with a BOM, UTF-8, else Windows-1252;
    AttachmentError for binary data. Line ends become \\n."""
    encoding = bom_encoding(data)
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            raise AttachmentError(
                f"{name} starts like {encoding.upper().replace('-SIG', '')} text but is not "
                "valid in that encoding; it may be damaged.",
                reason="damaged",
            ) from None
    else:
        if b"\x00" in data[:SNIFF_BYTES]:
            raise binary_error(name, data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    if _mostly_control(text):
        raise binary_error(name, data)
    return text.replace("\r\n", "\n").replace("\r", "\n")


_SKIP = frozenset({"head", "script", "style", "noscript", "template", "svg", "iframe", "object"})
_BLOCK = frozenset(
    """address article aside blockquote br dd details dialog div dl dt fieldset figcaption
    figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table
    tr ul title""".split()  # noqa: SIM905
)
_CELL = frozenset({"td", "th"})
_VOID = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()  # noqa: SIM905
)


class _VisibleText(HTMLParser):
    """Collects the text a browser would show: no scripts, styles or hidden parts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []  # open tags whose content is not shown
        self._pre = 0
        self._cells = 0  # cells so far in the table row being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        hidden = any(k == "hidden" or (k == "aria-hidden" and v == "true") for k, v in attrs)
        if self._skipping or tag in _SKIP or hidden:
            if tag not in _VOID:
                self._skipping.append(tag)
            return
        if tag == "pre":
            self._pre += 1
        self._break(tag, start=True)

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag in self._skipping:
                while self._skipping and self._skipping.pop() != tag:
                    pass
            return
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        self._break(tag)

    def _break(self, tag: str, start: bool = False) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")
            self._cells = 0
        elif tag in _CELL and start:
            if self._cells:
                self.parts.append(" | ")
            self._cells += 1

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        lines = (line.strip(" ") for line in "".join(self.parts).split("\n"))
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_text(html: str) -> str:
    """The visible text of an HTML page, a line per block."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return parser.text()


def looks_like_html(data: bytes) -> bool:
    head = data[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))
