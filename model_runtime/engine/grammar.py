"""GBNF grammars checked before llama.cpp samples with them.

llama.cpp's ``llama_sampler_init_grammar`` returns NULL for a grammar it cannot parse, and
llama-cpp-python adds that NULL to its sampler chain: the first token then crashes the engine
(SIGSEGV). Its parser also recurses once per nested group, so a grammar nested some tens of
thousands deep overflows the stack while being parsed. ``grammar_problem`` refuses what is too
large or too deep without llama.cpp (the server asks it before a request waits for the model);
``check_grammar`` lets llama.cpp parse the rest and turns its NULL into a GrammarError that
carries the parser's own words, which llama.cpp prints to stderr (the engine log).
"""

from __future__ import annotations

import os
import re
from typing import Any

from model_runtime.errors import GrammarError

MAX_GRAMMAR_CHARS = 200_000
MAX_GRAMMAR_DEPTH = 200  # nested ( … ) groups; llama.cpp's parser crashed at 30,000
_REASON_CHARS = 200
_PARSE_ERROR = re.compile(r"error parsing grammar: ([^\n]*)")
_GRAMMAR_LINE = re.compile(r"^\S*:? ?(.*(?:grammar|rule|symbol|recursion).*)$", re.M | re.I)


def _depth(text: str) -> int:
    """The deepest nesting of ( … ) groups, outside "literals", [classes] and # comments."""
    depth = deepest = 0
    closing = ""  # the quote or bracket that ends the literal or class we are in
    escaped = comment = False
    for char in text:
        if comment:
            comment = char not in "\r\n"
        elif closing:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == closing:
                closing = ""
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == '"':
            closing = '"'
        elif char == "[":
            closing = "]"
        elif char == "#":
            comment = True
    return deepest


def grammar_problem(text: str) -> str | None:
    """Why llama.cpp must not be given this grammar (too large, too deep, not text); None: ok."""
    if not text.strip():
        return "The grammar is empty."
    if len(text) > MAX_GRAMMAR_CHARS:
        return (
            f"The grammar is {len(text):,} characters long; at most {MAX_GRAMMAR_CHARS:,} "
            "are accepted."
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "The grammar contains a lone surrogate (invalid Unicode)."
    if "\x00" in text:
        return "The grammar contains a NUL character."
    depth = _depth(text)
    if depth > MAX_GRAMMAR_DEPTH:
        return (
            f"The grammar nests groups {depth:,} deep; at most {MAX_GRAMMAR_DEPTH} levels are "
            "accepted."
        )
    return None


def _log_size(log_path: str | None) -> int:
    try:
        return os.path.getsize(log_path) if log_path else 0
    except OSError:
        return 0


def _parser_said(log_path: str | None, start: int) -> str:
    """What llama.cpp wrote to the log since `start` about the grammar, in one short line."""
    if not log_path:
        return ""
    try:
        with open(log_path, "rb") as log:
            log.seek(start)
            said = log.read(64 * 1024).decode("utf-8", "replace")
    except OSError:
        return ""
    found = _PARSE_ERROR.search(said) or _GRAMMAR_LINE.search(said)
    if found is None:
        return ""
    reason = found.group(1).strip()
    if reason.endswith(" at"):  # llama.cpp quotes the grammar from where it failed: nothing left
        reason += " the end"
    return reason if len(reason) <= _REASON_CHARS else reason[: _REASON_CHARS - 1] + "…"


def check_grammar(vocab: Any, text: str, log_path: str | None = None) -> None:
    """Let llama.cpp parse the grammar against the model's vocabulary; GrammarError if it can't.

    `log_path` is where this process's stderr goes (the engine log): the reason is read there.
    """
    problem = grammar_problem(text)
    if problem is not None:
        raise GrammarError(problem)
    from llama_cpp import llama_cpp

    start = _log_size(log_path)
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode("utf-8"), b"root")
    if sampler:
        llama_cpp.llama_sampler_free(sampler)
        return
    reason = _parser_said(log_path, start)
    raise GrammarError(
        "llama.cpp cannot use the grammar"
        + (f": {reason}" if reason else " (see the engine log)")
        + ". Check its GBNF syntax and that it has a 'root' rule."
    )
