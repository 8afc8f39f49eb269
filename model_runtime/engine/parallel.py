"""Several thoughts on one prompt at once: N sequences decoded together, one batch per step.

The prompt is evaluated once, for sequence 0, and copied to the others (llama_memory_seq_cp);
then every step decodes one batch holding each unfinished thought's next token (and the words
Ponder writes when it ends a thought's thinking). Each thought is a Decoding (decoding.py) fed
token by token: answer now, the thinking budgets and the loop breaker act on each thought as
on a single answer, and each thought samples with a sampler chain of its own, built as
llama-cpp-python builds one, with its own seed (the run's seed + its index).

The run has a llama.cpp context of its own, made from the loaded one's settings and freed when
the run ends: the loaded context keeps its size and its cached prompt. It keeps one KV stream
per thought (kv_unified off), each as long as the prompt and the thought's length limit. A
unified cache would hold the prompt once, but the thoughts' cells interleave in it and the
attention sums in another order: on SmolLM2 greedy thoughts drifted from a single run after
19 to 62 tokens. With a stream each, a thought is token for token the answer a single run with
its seed gives (tests/model_runtime/engine/test_parallel.py): the batch changes only the speed.
Speculative decoding does not apply to these runs.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from model_runtime.chat.generation import (
    Event,
    Finished,
    GenerationParams,
    GenerationStats,
    Message,
)
from model_runtime.chat.reasoning import CLOSE_TAG as THINK_CLOSE
from model_runtime.chat.thinking import CLOSING_LINES
from model_runtime.chat.thoughts import ThoughtsFinished
from model_runtime.engine.decoding import Decoding
from model_runtime.engine.grammar import check_grammar
from model_runtime.errors import ContextOverflow, EngineError, InsufficientMemory
from model_runtime.llama.log import allocation_failure
from model_runtime.planning.memory_estimate import CTX_PAD, padded_ctx

if TYPE_CHECKING:
    from model_runtime.engine.worker import Engine

MAX_SEQUENCES = 64  # R1's report votes over 64 samples (cons@64)


def thought_seeds(seed: int | None, n: int) -> list[int]:
    """The seed of each thought: the run's seed + its index (a random one when none is given),
    so that thought i samples as a single answer with seed + i does."""
    base = seed if seed is not None else random.SystemRandom().randrange(2**32)
    return [(base + i) % 2**32 for i in range(n)]


def thought_room(engine: Engine, n: int) -> int:
    """Tokens of context for each of n thoughts: the room planned for the most thoughts at
    once, shared among n (at most the loaded context's)."""
    cells = engine.max_sequences * engine.sequence_ctx
    return min(engine.llm.n_ctx(), cells // n // CTX_PAD * CTX_PAD)


def closing_tokens(engine: Engine) -> int:
    """The most tokens Ponder writes into a thought when it ends its thinking (once a thought):
    its stream needs room for them beyond the length limit, which counts generated tokens."""
    llm = engine.llm
    return max(
        len(llm.tokenize((line + THINK_CLOSE + "\n\n").encode(), add_bos=False, special=True))
        for line in CLOSING_LINES.values()
    )


def too_many(n: int, most: int) -> InsufficientMemory:
    """The refusal of more thoughts than the plan leaves memory for, with the most that fit."""
    if most < 2:
        return InsufficientMemory(
            f"{n} thoughts at once need memory for {n} contexts; with this model and context "
            "the plan leaves room for one only. Load it with a shorter context, or a smaller "
            "model, to think harder."
        )
    return InsufficientMemory(
        f"{n} thoughts at once need more memory than the plan leaves: at most {most} fit with "
        "this model and context."
    )


class Thought(Decoding):
    """One thought of the run: a Decoding fed from the batch, with a sampler of its own."""

    def __init__(
        self,
        engine: Engine,
        gen_id: int,
        params: GenerationParams,
        send: Callable[[Event], None],
        *,
        seq: int,
        seed: int,
        tokens: list[int],
        starts_in_thinking: bool,
        continuing: bool,
        budget: int,
    ) -> None:
        super().__init__(
            engine,
            gen_id,
            params,
            lambda event: send(replace(event, seq=seq)),
            tokens=tokens,
            starts_in_thinking=starts_in_thinking,
            continuing=continuing,
            budget=budget,
        )
        self.seq = seq
        self.seed = seed
        self.n_past = len(tokens)  # tokens in this thought's KV stream
        self.done = False
        self.sampler = self._new_sampler()

    def _new_sampler(self) -> Any:
        """The chain llm.generate() builds (penalties, grammar, top-k … dist), with this
        thought's seed; the model's own seed is left as it was."""
        kept = self.llm._seed
        self.llm.set_seed(self.seed)
        try:
            return self.llm._init_sampler(**self.sampling)
        finally:
            self.llm.set_seed(kept)

    @property
    def pending(self) -> list[int]:
        """Tokens written but not yet in the KV stream: the next step decodes them."""
        return self.written[self.n_past :]

    def begin(self) -> None:
        """Before the first token, as Decoding.run: asked to answer at once, or a budget
        already spent, ends the thinking first."""
        if not self.parser.in_thinking:
            return
        reason, _ = self.engine.end_reason(self.policy, 0, 0.0, None)
        if self.policy.answer_now:
            reason = "asked"
        if reason is not None and not self._end_thinking(reason, ""):
            self.done = True

    def take(self, token: int) -> None:
        """A token sampled for this thought: stream it; stop, or end the thinking, as
        Decoding.run does after each token of a single answer."""
        if self.first_at is None:
            self.first_at = time.perf_counter()
        if self.engine.cancelled():
            self.finish, self.done = "cancelled", True
        elif self.engine.is_end_of_generation(token):
            self.finish, self.done = "stop", True
        else:
            reason, detail = self._take(token)
            if self.finish == "loop" or self.n_generated >= self.budget:
                self.done = True
            elif reason is not None:
                if not self._end_thinking(reason, detail):
                    self.done = True
                else:  # a single answer starts a new llm.generate() here: a fresh sampler
                    self.sampler = self._new_sampler()

    def figures(self, started: float, n_prompt: int, n_evaluated: int) -> GenerationStats:
        """This thought's figures: the prompt counts as read by the first thought and
        copied (cached) for the others."""
        stats = self.close(started, n_prompt=n_prompt, n_cached=0)
        first = self.seq == 0
        ended = stats.thinking_ended
        return replace(
            stats,
            n_cached=0 if first else n_prompt,
            n_evaluated=n_evaluated if first else 0,
            thinking_ended=replace(ended, seq=self.seq) if ended is not None else None,
        )


class RunContext:
    """A llama.cpp context for one run: the loaded context's settings, n KV streams of
    n_ctx_seq cells each; freed by close()."""

    def __init__(self, engine: Engine, n: int, n_ctx_seq: int) -> None:
        from llama_cpp import llama_cpp

        llm = engine.llm
        params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)
        params.n_seq_max = n
        params.kv_unified = False
        params.n_ctx = n * n_ctx_seq
        self.capacity = max(params.n_batch, n)
        params.n_batch = self.capacity
        self.ctx = llama_cpp.llama_init_from_model(llm._model.model, params)
        if not self.ctx:
            failure = allocation_failure(engine._log_path)
            raise InsufficientMemory(
                f"There is not enough memory for {n} thoughts at once ({n} × {n_ctx_seq:,} "
                f"tokens of context)" + (f": {failure}" if failure else ".") + " Try fewer."
            )
        self.n_ctx = llama_cpp.llama_n_ctx(self.ctx)
        self.batch = llama_cpp.llama_batch_init(self.capacity, 0, 1)
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self._llama_cpp = llama_cpp

    def close(self) -> None:
        self._llama_cpp.llama_batch_free(self.batch)
        self._llama_cpp.llama_free(self.ctx)

    def decode(self, items: Sequence[tuple[int, int, int, bool]]) -> None:
        """Decode (token, position, sequence, wants logits) in one batch; an abort (Stop
        during the prompt) raises EngineError, which the run reads as cancelled."""
        batch = self.batch
        batch.n_tokens = len(items)
        for k, (token, pos, seq, logits) in enumerate(items):
            batch.token[k] = token
            batch.pos[k] = pos
            batch.n_seq_id[k] = 1
            batch.seq_id[k][0] = seq
            batch.logits[k] = logits
        code = self._llama_cpp.llama_decode(self.ctx, batch)
        if code != 0:
            raise EngineError(f"llama_decode returned {code} for a batch of {len(items)} tokens")

    def sample(self, thought: Thought, index: int) -> int:
        return int(self._llama_cpp.llama_sampler_sample(thought.sampler.sampler, self.ctx, index))

    def copy_prompt(self, n: int) -> None:
        """Sequence 0's KV (the prompt) to every other sequence."""
        for seq in range(1, n):
            self._llama_cpp.llama_memory_seq_cp(self.memory, 0, seq, -1, -1)


def _packed(thoughts: Sequence[Thought], capacity: int) -> Iterator[list[Thought]]:
    """Thoughts in groups whose pending tokens fit one batch, each thought whole."""
    group: list[Thought] = []
    size = 0
    for thought in thoughts:
        need = len(thought.pending)
        if group and size + need > capacity:
            yield group
            group, size = [], 0
        group.append(thought)
        size += need
    if group:
        yield group


class Run:
    """One run of n thoughts: the prompt once, then a batch per step until all have ended."""

    def __init__(self, engine: Engine, context: RunContext, thoughts: list[Thought]) -> None:
        self.engine = engine
        self.context = context
        self.thoughts = thoughts
        self.n_prompt = len(thoughts[0].written)
        self.n_evaluated = 0
        self.prompt_done = 0.0

    def prompt(self) -> None:
        """Evaluate the prompt for sequence 0 (Stop can abort it), copy it to the others, and
        let the thoughts whose thinking ends at once write their closing words."""
        tokens = self.thoughts[0].written
        capacity = self.context.capacity
        self.engine.set_abort_polling(True, self.context.ctx)
        try:
            for start in range(0, len(tokens), capacity):
                chunk = tokens[start : start + capacity]
                last = start + len(chunk) == len(tokens)
                self.context.decode(
                    [(t, start + i, 0, last and i == len(chunk) - 1) for i, t in enumerate(chunk)]
                )
                self.n_evaluated += len(chunk)
        finally:
            self.engine.set_abort_polling(False, self.context.ctx)
        self.context.copy_prompt(len(self.thoughts))
        self.prompt_done = time.perf_counter()
        for thought in self.thoughts:
            thought.begin()
        for thought in self.thoughts:  # those that did not write closing words sample first
            if not thought.done and not thought.pending:
                thought.take(self.context.sample(thought, len(chunk) - 1))

    def steps(self, finished: Callable[[Thought], None]) -> None:
        """Decode a batch per step until every thought has ended; finished(thought) as each
        one does."""
        for thought in self.thoughts:
            if thought.done:
                finished(thought)
        while live := [t for t in self.thoughts if not t.done]:
            for group in _packed(live, self.context.capacity):
                items, last_of = [], []
                for thought in group:
                    pending, last = thought.pending, len(thought.pending) - 1
                    for j, token in enumerate(pending):
                        items.append((token, thought.n_past + j, thought.seq, j == last))
                    last_of.append(len(items) - 1)
                    thought.n_past += len(pending)
                self.context.decode(items)
                for thought, index in zip(group, last_of, strict=True):
                    thought.take(self.context.sample(thought, index))
                    if thought.done:
                        finished(thought)


def run_thoughts(
    engine: Engine,
    gen_id: int,
    messages: Sequence[Message],
    params: GenerationParams,
    n: int,
    send: Callable[[Any], None],
) -> None:
    """Stream n thoughts on one prompt: each one's events with its index, its Finished when it
    ends, then one ThoughtsFinished. More thoughts than the load allows are refused first."""
    if not 1 <= n <= MAX_SEQUENCES:
        raise EngineError(f"Ask for 1 to {MAX_SEQUENCES} thoughts at once, not {n}.")
    if n > engine.max_sequences:
        raise too_many(n, engine.max_sequences)
    llm = engine.llm
    started = time.perf_counter()
    if params.grammar:
        check_grammar(llm._model.vocab, params.grammar, engine._log_path)
    prompt = engine._continued(messages, params.keep_reasoning)
    tokens, _ = engine._prompt_tokens(prompt)
    room, closing = thought_room(engine, n), closing_tokens(engine)
    if len(tokens) + closing >= room:
        raise ContextOverflow(
            f"The conversation is {len(tokens):,} tokens long; with {n} thoughts at once each "
            f"has room for {room:,}. Ask for fewer thoughts, or start a new chat.",
            n_prompt=len(tokens),
            n_ctx=room,
        )
    budget = min(params.max_tokens, room - len(tokens) - closing)
    context = RunContext(engine, n, padded_ctx(len(tokens) + budget + closing))
    try:
        thoughts = [
            Thought(
                engine,
                gen_id,
                params,
                send,
                seq=seq,
                seed=seed,
                tokens=tokens,
                starts_in_thinking=prompt.starts_in_thinking,
                continuing=messages[-1].role == "assistant",
                budget=budget,
            )
            for seq, seed in enumerate(thought_seeds(params.seed, n))
        ]
        run = Run(engine, context, thoughts)
        _decode(run, started, send)
    finally:
        context.close()


def _decode(run: Run, started: float, send: Callable[[Any], None]) -> None:
    """Run the prompt and the steps; every thought gets its Finished, also when Stop aborted
    the prompt; then the run's figures."""
    ended: set[int] = set()

    def finished(thought: Thought) -> None:
        ended.add(thought.seq)
        stats = thought.figures(started, run.n_prompt, run.n_evaluated)
        send(Finished(thought.gen_id, stats, seq=thought.seq))

    try:
        run.prompt()
        run.steps(finished)
    except EngineError:
        if not run.engine.cancelled():
            raise
        for thought in run.thoughts:  # Stop aborted the prompt: every thought is cancelled
            if thought.seq not in ended:
                thought.finish, thought.done = "cancelled", True
                finished(thought)
    now = time.perf_counter()
    generated = sum(t.n_generated for t in run.thoughts)
    send(
        ThoughtsFinished(
            gen_id=run.thoughts[0].gen_id,
            n_sequences=len(run.thoughts),
            n_prompt=run.n_prompt,
            n_evaluated=run.n_evaluated,
            prompt_seconds=(run.prompt_done or now) - started,
            total_seconds=now - started,
            n_generated=generated,
            tokens_per_second=generated / (now - run.prompt_done) if run.prompt_done else 0.0,
            n_ctx=run.context.n_ctx,
        )
    )
