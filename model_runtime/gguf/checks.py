"""Would llama.cpp accept this model? Its metadata checked against its tensors before llama.cpp
sees it: llama.cpp aborts the whole process on some bad counts (a GGML_ASSERT), and refuses a
load on others only after the model that was loaded is gone; here either is a sentence.

The checks read GgufInfo objects only, so a header read from the Hub is checked like a file.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from model_runtime.errors import ModelFileError
from model_runtime.gguf.format import GgufTensor
from model_runtime.gguf.reader import GgufInfo

# llama.cpp's limits in the build Ponder pins (llama-cpp-python 0.3.36), found by loading files
# with one more: it aborts on a GGML_ASSERT.
MAX_LAYERS = 512  # LLAMA_MAX_LAYERS
MAX_EXPERTS = 1024  # LLAMA_MAX_EXPERTS
# Architectures whose attention weights are plain Q, K, V and output projections of
# head_count (and head_count_kv) heads, and whose graph asserts that the rotary dimension and
# the value heads' size equal the key heads' size.
PLAIN_ATTENTION = frozenset({"llama", "qwen2", "qwen3", "qwen2moe", "qwen3moe"})

_LAYER = re.compile(r"blk\.(\d+)\.")
_ATTENTION = re.compile(r"blk\.\d+\.attn_(?:q|k|v|qkv|q_a|q_b|kv_b|k_b|output)\.weight$")
_EXPERTS = re.compile(r"blk\.\d+\.ffn_(?:up|down|gate|gate_up)_exps\.weight$")


def check_model(
    parts: GgufInfo | Sequence[GgufInfo], *, architectures: Collection[str] | None = None
) -> None:
    """Raise ModelFileError, saying why, for a model llama.cpp would refuse or abort on.

    parts: every part of the model, or only its first (a header read before a download), in
    which case the layers are checked against the tensors that part holds. architectures: the
    names this llama.cpp build knows; None skips that check.
    """
    infos = [parts] if isinstance(parts, GgufInfo) else sorted(parts, key=lambda i: i.split_index)
    if not infos:
        raise ValueError("no GGUF parts given")
    problem = next(model_problems(infos, architectures), None)
    if problem is not None:
        raise ModelFileError(f"{infos[0].path.name} is not a model llama.cpp can load: {problem}.")


def model_problems(
    infos: Sequence[GgufInfo], architectures: Collection[str] | None = None
) -> Iterator[str]:
    """What is wrong with a model (its parts sorted, the first one first), worst first."""
    head = infos[0]
    if head.split_index != 0:
        yield "it is not the first part of its model, which holds the model's description"
        return
    yield from _architecture(head, architectures)
    if not head.architecture:
        return
    complete = len(infos) >= head.split_count
    tensors = [t for info in infos for t in info.tensors]
    yield from _sizes(head)
    yield from _layers(head, tensors, complete)
    yield from _heads(head, tensors)
    yield from _attention_shapes(head, tensors)
    yield from _experts(head, tensors, complete)
    yield from _templates(head)


def _architecture(head: GgufInfo, architectures: Collection[str] | None) -> Iterator[str]:
    arch = head.architecture
    if not arch:
        yield "it does not say which architecture it has (general.architecture is missing)"
    elif arch == "clip":
        yield "it is a vision projector (mmproj) that goes with another model, not a chat model"
    elif architectures is not None and arch not in architectures:
        yield f"this llama.cpp build cannot run models of the '{arch}' architecture"


def _key(head: GgufInfo, name: str) -> Any:
    return head.kv.get(f"{head.architecture}.{name}")


def _ints(value: Any) -> tuple[int, ...] | None:
    """A count or a per-layer tuple of counts, as a tuple; None when it is neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, tuple) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return value
    return None


def _sizes(head: GgufInfo) -> Iterator[str]:
    """The counts llama.cpp requires of every model."""
    for name, what in (
        ("context_length", "its context length"),
        ("embedding_length", "its embedding length"),
        ("block_count", "how many layers it has"),
    ):
        if _ints(_key(head, name)) is None:
            yield f"it does not say {what} ({head.architecture}.{name} is missing)"
            return
    if not head.embedding_length:
        yield "its embedding length is 0 (embedding_length)"
    n = head.block_count or 0
    if not 0 < n <= MAX_LAYERS:
        yield f"it says it has {n:,} layers (block_count), but llama.cpp takes 1 to {MAX_LAYERS}"


def _layers(head: GgufInfo, tensors: list[GgufTensor], complete: bool) -> Iterator[str]:
    """block_count against the layers that have tensors (blk.N.*)."""
    n = head.block_count or 0
    present = {int(m.group(1)) for t in tensors if (m := _LAYER.match(t.name))}
    if not present or not 0 < n <= MAX_LAYERS:
        return
    last = max(present)
    if last >= n:
        yield f"its tensors make {last + 1:,} layers, but block_count says {n:,}"
    elif complete and len(present) < n:
        missing = min(set(range(n)) - present)
        yield f"block_count says {n:,} layers, but layer {missing} has no tensors"


def _per_layer(head: GgufInfo, name: str, default: tuple[int, ...]) -> tuple[int, ...] | None:
    """A per-layer count (one value repeated when stored once); None when malformed."""
    value = _key(head, name)
    if value is None:
        return default
    counts = _ints(value)
    n = head.block_count or 0
    if counts is None:
        return None
    return counts * n if len(counts) == 1 else counts


def _heads(head: GgufInfo, tensors: list[GgufTensor]) -> Iterator[str]:
    """Attention heads: there where the layers have attention weights, and sharable by KV heads."""
    n = head.block_count or 0
    if not 0 < n <= MAX_LAYERS:
        return
    heads = _per_layer(head, "attention.head_count", (0,) * n)
    kv_heads = _per_layer(head, "attention.head_count_kv", heads or ())
    for name, counts in (("head_count", heads), ("head_count_kv", kv_heads)):
        if counts is None:
            yield f"its attention.{name} is not a count"
            return
        if len(counts) != n:
            yield f"its attention.{name} has {len(counts)} values for its {n} layers"
            return
    assert heads is not None and kv_heads is not None
    if not any(heads):
        if any(_ATTENTION.match(t.name) for t in tensors):
            yield "its layers have attention weights but 0 attention heads (attention.head_count)"
        return
    uniform = len(set(heads)) == 1 and len(set(kv_heads)) == 1
    for i, (h, kv) in enumerate(zip(heads, kv_heads, strict=True)):
        where = "" if uniform else f" in layer {i}"
        if h and not kv:
            yield f"it has 0 key/value heads{where} (attention.head_count_kv)"
            return
        if h and (kv > h or h % kv):
            yield (
                f"its {h} attention heads cannot share {kv} key/value heads{where} "
                "(head_count must be a multiple of head_count_kv)"
            )
            return


def _head_dims(head: GgufInfo, heads: tuple[int, ...]) -> tuple[int, int] | str:
    """Values per key head and per value head, as llama.cpp derives them; or what is wrong."""
    n_embd, h = head.embedding_length or 0, heads[0]
    key, value = (
        _ints(_key(head, "attention.key_length")),
        _ints(_key(head, "attention.value_length")),
    )
    if (key is None or value is None) and (not h or n_embd % h):
        return f"its embedding length {n_embd:,} is not a multiple of its {h} attention heads"
    dk = key[0] if key else n_embd // h
    dv = value[0] if value else n_embd // h
    return dk, dv


def _expected_shapes(
    head: GgufInfo, heads: tuple[int, ...], kv_heads: tuple[int, ...]
) -> Iterator[tuple[str, int, int, str]] | str:
    """(tensor name, axis, size, why) of the attention weights' sizes that follow from the head
    counts; or what is wrong with the counts themselves."""
    arch, n_embd = head.architecture, head.embedding_length or 0
    dims = _head_dims(head, heads)
    if isinstance(dims, str):
        return dims
    dk, dv = dims
    if arch == "deepseek2":  # MLA: the per-head sizes of the decompressed keys and values
        dk = (_ints(_key(head, "attention.key_length_mla")) or (dk,))[0]
        dv = (_ints(_key(head, "attention.value_length_mla")) or (dv,))[0]
    else:
        rope = (_ints(_key(head, "rope.dimension_count")) or (dk,))[0]
        if dk != dv:
            return f"its key heads ({dk} values) and value heads ({dv}) differ in size"
        if rope != dk:
            return f"its rotary dimension {rope} (rope.dimension_count) is not its head size {dk}"
    return _shape_rules(arch, n_embd, heads, kv_heads, dk, dv)


def _shape_rules(
    arch: str | None,
    n_embd: int,
    heads: tuple[int, ...],
    kv_heads: tuple[int, ...],
    dk: int,
    dv: int,
) -> Iterator[tuple[str, int, int, str]]:
    yield "token_embd.weight", 0, n_embd, "embedding_length"
    for i, (h, kv) in enumerate(zip(heads, kv_heads, strict=True)):
        p = f"blk.{i}."
        if arch == "deepseek2":
            yield p + "attn_q_b.weight", 1, h * dk, f"{h} heads of {dk} values"
            yield p + "attn_q.weight", 1, h * dk, f"{h} heads of {dk} values"
            yield p + "attn_k_b.weight", 2, h, f"{h} heads"
            yield p + "attn_v_b.weight", 2, h, f"{h} heads"
            yield p + "attn_output.weight", 0, h * dv, f"{h} heads of {dv} values"
            continue
        yield p + "attn_q.weight", 0, n_embd, "embedding_length"
        yield p + "attn_q.weight", 1, h * dk, f"{h} heads of {dk} values"
        yield p + "attn_k.weight", 1, kv * dk, f"{kv} key/value heads of {dk} values"
        yield p + "attn_v.weight", 1, kv * dv, f"{kv} key/value heads of {dv} values"
        yield p + "attn_output.weight", 0, h * dv, f"{h} heads of {dv} values"
        yield p + "attn_output.weight", 1, n_embd, "embedding_length"


def _attention_shapes(head: GgufInfo, tensors: list[GgufTensor]) -> Iterator[str]:
    """The attention weights' shapes against the head counts, where the layout is known."""
    if head.architecture not in PLAIN_ATTENTION and head.architecture != "deepseek2":
        return
    n = head.block_count or 0
    heads = _per_layer(head, "attention.head_count", ())
    kv_heads = _per_layer(head, "attention.head_count_kv", heads or ())
    if not heads or not kv_heads or len(heads) != n or len(kv_heads) != n or not all(heads):
        return
    rules = _expected_shapes(head, heads, kv_heads)
    if isinstance(rules, str):
        yield rules
        return
    by_name = {t.name: t.shape for t in tensors}
    for name, axis, size, why in rules:
        shape = by_name.get(name)
        if shape is None:
            continue
        actual = shape[axis] if axis < len(shape) else 1
        if actual != size:
            dims = " × ".join(f"{d:,}" for d in shape)
            yield f"its weights do not fit its metadata: {name} is {dims}, but {why} make {size:,}"
            return


def _count(head: GgufInfo, name: str) -> int:
    counts = _ints(_key(head, name))
    return max(counts) if counts else 0


def _experts(head: GgufInfo, tensors: list[GgufTensor], complete: bool) -> Iterator[str]:
    """Expert counts as llama.cpp asserts them, and against the expert tensors present."""
    n_expert, n_used = _count(head, "expert_count"), _count(head, "expert_used_count")
    groups, groups_used = (
        _count(head, "expert_group_count"),
        _count(head, "expert_group_used_count"),
    )
    if n_expert > MAX_EXPERTS:
        yield f"it has {n_expert:,} experts (expert_count); llama.cpp takes at most {MAX_EXPERTS}"
    elif n_used > n_expert:
        yield f"it routes each token to {n_used:,} experts (expert_used_count) of its {n_expert:,}"
    elif n_expert and not n_used:
        yield f"it has {n_expert:,} experts but routes tokens to none (expert_used_count)"
    elif n_expert and groups >= n_expert:
        yield f"it has {groups:,} expert groups (expert_group_count) for {n_expert:,} experts"
    elif groups > 1 and (n_expert % groups or not 0 < groups_used < groups):
        yield f"its {n_expert:,} experts do not make {groups:,} groups of which {groups_used} used"
    elif not n_expert and groups:
        yield f"it has {groups:,} expert groups (expert_group_count) but no experts"
    else:
        yield from _expert_tensors(n_expert, tensors, complete)


def _expert_tensors(n_expert: int, tensors: list[GgufTensor], complete: bool) -> Iterator[str]:
    experts = [t for t in tensors if _EXPERTS.match(t.name)]
    for t in experts:
        held = t.shape[2] if len(t.shape) > 2 else 1
        if not n_expert:
            yield f"it has expert weights ({t.name}) but no expert_count"
            return
        if held != n_expert:
            yield f"{t.name} holds {held:,} experts, but expert_count says {n_expert:,}"
            return
    if n_expert and complete and not experts:
        yield f"expert_count says {n_expert:,} experts, but it has no expert weights"


def _templates(head: GgufInfo) -> Iterator[str]:
    """Each chat template compiles, as llama-cpp-python compiles it when it loads the model."""
    for key, value in head.kv.items():
        if not isinstance(value, str) or not (
            key == "tokenizer.chat_template" or key.startswith("tokenizer.chat_template.")
        ):
            continue
        error = template_error(value)
        if error is not None:
            name = key.removeprefix("tokenizer.chat_template").removeprefix(".")
            which = f"chat template '{name}'" if name else "chat template"
            yield f"its {which} is broken: {error}"


def template_error(template: str) -> str | None:
    """Why a chat template does not compile as llama-cpp-python compiles it; None if it does."""
    import jinja2

    try:
        _environment().from_string(template)
    except jinja2.TemplateSyntaxError as exc:
        return f"{exc.message} (line {exc.lineno})"
    except jinja2.TemplateError as exc:
        return str(exc)
    return None


@functools.cache
def _environment() -> Any:
    """The Jinja environment of llama_cpp.llama_chat_format.Jinja2ChatFormatter, built here so
    that checking a template does not load llama.cpp into this process."""
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class IgnoreGenerationTags(jinja2.ext.Extension):
        """Hugging Face's {% generation %} tag, passed through."""

        tags = {"generation"}  # noqa: RUF012 - jinja2's own attribute

        def parse(self, parser: Any) -> Any:
            parser.stream.skip(1)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    return ImmutableSandboxedEnvironment(
        loader=jinja2.BaseLoader(),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[IgnoreGenerationTags, jinja2.ext.loopcontrols],
    )
