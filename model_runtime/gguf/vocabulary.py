"""A model's vocabulary, from its GGUF metadata: whether one model can draft for another.

A draft model's guesses are token ids that the main model checks, so both must give every id
the same text: the same tokenizer and the same tokens. Sizes may differ a little: GGUF
converters pad a token list to the model's embedding size with unused [PAD…] tokens, so the
R1 Qwen distills have 151,936 (1.5B) or 152,064 (7B and up) tokens, the same up to the
padding. As llama.cpp's own speculative decoding does, up to 128 more or fewer are accepted
when every token both have is the same. The token lists are read from the file only when
compared (the reader skips them).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from model_runtime.errors import ModelFileError
from model_runtime.gguf.format import GgufArray
from model_runtime.gguf.reader import GgufInfo

TOKENS_KEY = "tokenizer.ggml.tokens"
MAX_SIZE_DIFFERENCE = 128  # llama.cpp's SPEC_VOCAB_MAX_SIZE_DIFFERENCE
_LENGTH = struct.Struct("<Q")


@dataclass(frozen=True)
class Vocabulary:
    """A model's tokenizer kind and its token list, as the file stores it (length-prefixed
    UTF-8 strings, one after the other)."""

    tokenizer: str
    size: int
    data: bytes

    def describe(self) -> str:
        """'49,152 tokens (gpt2)'."""
        return f"{self.size:,} tokens ({self.tokenizer})"

    def prefix(self, n: int) -> bytes:
        """The bytes of the first n tokens."""
        data, pos = self.data, 0
        unpack = _LENGTH.unpack_from
        try:
            for _ in range(n):
                pos += 8 + unpack(data, pos)[0]
        except struct.error:
            raise ModelFileError("a token list is damaged: it ends inside a token") from None
        return data[:pos]


def _read_span(info: GgufInfo, start: int, end: int) -> bytes:
    try:
        with open(info.path, "rb") as f:
            f.seek(start)
            data = f.read(end - start)
    except OSError as exc:
        raise ModelFileError(f"Cannot read model file {info.path}: {exc.strerror or exc}") from None
    if len(data) != end - start:
        raise ModelFileError(f"{info.path} is truncated: its token list is cut short")
    return data


def vocabulary_of(info: GgufInfo) -> Vocabulary:
    """The vocabulary of a model file (its first part for a split model)."""
    tokenizer = str(info.tokenizer_model or "unknown")
    tokens = info.kv.get(TOKENS_KEY)
    if isinstance(tokens, GgufArray) and tokens.span[1] > tokens.span[0]:
        return Vocabulary(tokenizer, tokens.length, _read_span(info, *tokens.span))
    if isinstance(tokens, tuple):  # a short list, kept decoded: encoded as the file has it
        encoded = [t.encode("utf-8", errors="surrogatepass") for t in tokens]
        data = b"".join(_LENGTH.pack(len(e)) + e for e in encoded)
        return Vocabulary(tokenizer, len(tokens), data)
    raise ModelFileError(f"{info.path.name} has no token list, so no vocabulary to compare")


def draft_problem(model: GgufInfo, draft: GgufInfo) -> str | None:
    """Why `draft` cannot draft for `model`, in words; None when it can."""
    ours, theirs = vocabulary_of(model), vocabulary_of(draft)
    name, draft_name = model.path.name, draft.path.name
    advice = (
        "A draft model must share the model's tokenizer, e.g. a smaller model of the same family."
    )
    if ours.tokenizer != theirs.tokenizer or abs(ours.size - theirs.size) > MAX_SIZE_DIFFERENCE:
        return (
            f"{draft_name} can't draft for {name}: their vocabularies differ "
            f"({theirs.describe()} against {ours.describe()}). {advice}"
        )
    common = min(ours.size, theirs.size)
    same = (
        ours.data == theirs.data
        if ours.size == theirs.size
        else ours.prefix(common) == theirs.prefix(common)
    )
    if not same:
        return (
            f"{draft_name} can't draft for {name}: their {common:,} tokens are not the same "
            f"ones. {advice}"
        )
    return None
