"""A model's vocabulary, from its GGUF metadata: whether one model can draft for another.

A draft model's guesses are token ids that the main model checks, so both must give every id
the same text: the same tokenizer and the same token list. The list is compared by a digest
of its bytes in the file, read only when asked (the reader skips it).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from model_runtime.errors import ModelFileError
from model_runtime.gguf.format import GgufArray
from model_runtime.gguf.reader import GgufInfo

TOKENS_KEY = "tokenizer.ggml.tokens"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Vocabulary:
    """What identifies a vocabulary: the tokenizer's kind, its size, a digest of its tokens."""

    tokenizer: str
    size: int
    digest: str

    def describe(self) -> str:
        """'49,152 tokens (gpt2)'."""
        return f"{self.size:,} tokens ({self.tokenizer})"


def _digest_span(path: Path, start: int, end: int) -> str:
    digest = hashlib.blake2b(digest_size=16)
    try:
        with open(path, "rb") as f:
            f.seek(start)
            left = end - start
            while left > 0:
                data = f.read(min(_CHUNK, left))
                if not data:
                    raise ModelFileError(f"{path} is truncated: its token list is cut short")
                digest.update(data)
                left -= len(data)
    except OSError as exc:
        raise ModelFileError(f"Cannot read model file {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def _digest_tokens(tokens: tuple[str, ...]) -> str:
    """The digest of a short list as the file stores it (so both forms compare equal)."""
    digest = hashlib.blake2b(digest_size=16)
    for token in tokens:
        data = token.encode("utf-8", errors="surrogatepass")
        digest.update(struct.pack("<Q", len(data)))
        digest.update(data)
    return digest.hexdigest()


def vocabulary_of(info: GgufInfo) -> Vocabulary:
    """The vocabulary of a model file (its first part for a split model)."""
    tokenizer = str(info.tokenizer_model or "unknown")
    tokens = info.kv.get(TOKENS_KEY)
    if isinstance(tokens, GgufArray) and tokens.span[1] > tokens.span[0]:
        digest = _digest_span(info.path, *tokens.span)
        return Vocabulary(tokenizer, tokens.length, digest)
    if isinstance(tokens, tuple):
        return Vocabulary(tokenizer, len(tokens), _digest_tokens(tokens))
    raise ModelFileError(f"{info.path.name} has no token list, so no vocabulary to compare")


def draft_problem(model: GgufInfo, draft: GgufInfo) -> str | None:
    """Why `draft` cannot draft for `model`, in words; None when it can."""
    ours, theirs = vocabulary_of(model), vocabulary_of(draft)
    if ours == theirs:
        return None
    name, draft_name = model.path.name, draft.path.name
    if ours.tokenizer != theirs.tokenizer or ours.size != theirs.size:
        return (
            f"{draft_name} can't draft for {name}: their vocabularies differ "
            f"({theirs.describe()} against {ours.describe()}). A draft model must share the "
            "model's tokenizer, e.g. a smaller model of the same family."
        )
    return (
        f"{draft_name} can't draft for {name}: both have {ours.describe()}, but not the same "
        "ones. A draft model must share the model's tokenizer, e.g. a smaller model of the "
        "same family."
    )
