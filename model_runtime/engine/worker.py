"""The engine worker process: the one owner of a llama_cpp.Llama object.

It runs in a child process so that anything llama.cpp does to the process (an abort,
an illegal instruction, the OOM killer) takes down only the worker, never the window.
"""

from __future__ import annotations

import ctypes
import faulthandler
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from model_runtime import paths
from model_runtime.chat.generation import (
    Finished,
    GenerationParams,
    LoadRequest,
    Message,
    ModelSummary,
)
from model_runtime.chat.prompt import Prompt, PromptRenderer
from model_runtime.chat.reasoning import CLOSE_TAG as THINK_CLOSE
from model_runtime.chat.reasoning import OPEN_TAG as THINK_OPEN
from model_runtime.chat.thinking import EndReason, ThinkingPolicy, is_r1_family
from model_runtime.engine import protocol
from model_runtime.engine.decoding import Decoding
from model_runtime.engine.grammar import check_grammar
from model_runtime.engine.kv_cache import StateCache, next_turn
from model_runtime.engine.kv_files import forget_files
from model_runtime.engine.parallel import run_thoughts
from model_runtime.engine.tuning import DecodeTuning, check_draft
from model_runtime.errors import (
    ContextOverflow,
    EngineError,
    InsufficientMemory,
    ModelFileError,
    PonderError,
)
from model_runtime.gguf.checks import check_model
from model_runtime.gguf.profile import read_model
from model_runtime.llama import rpc
from model_runtime.llama.architectures import ask_llama
from model_runtime.llama.log import allocation_failure, unknown_architecture
from model_runtime.llama.tensor_overrides import model_params_patch
from model_runtime.planning.memory_estimate import kv_type_id

DEFAULT_MAX_CTX = 8192


def physical_cores() -> int:
    """Threads for llama.cpp: physical cores are faster than logical ones."""
    try:
        import psutil

        return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)
    except Exception:
        return max(1, os.cpu_count() or 1)


def _overflow(length: str, n_prompt: int, n_ctx: int) -> ContextOverflow:
    return ContextOverflow(
        f"The conversation is {length} tokens long, but the model's context holds {n_ctx:,}. "
        "Start a new chat or load the model with a longer context.",
        n_prompt=n_prompt,
        n_ctx=n_ctx,
    )


class Engine:
    """Loads one model and generates from it; called only from the worker's main thread."""

    def __init__(self, cancel_flag: Any, answer_now_flag: Any, log_path: str) -> None:
        self._cancel_flag = cancel_flag  # shared int: the highest cancelled generation id
        self._answer_now_flag = answer_now_flag  # likewise: "stop thinking, answer now"
        self._log_path = log_path
        self._llm: Any = None
        self._tuning: DecodeTuning | None = None  # adaptive threads and drafting
        self._params_patch: Any = None
        self._summary: ModelSummary | None = None
        self._renderer: PromptRenderer | None = None
        self._force_think = False
        self._gen_id = 0
        self._abort_cb: Any = None
        self._no_abort_cb: Any = None
        self._piece_buf = ctypes.create_string_buffer(256)
        self._longest_token = 0  # bytes of the vocabulary's longest token; 0: not yet known
        self.max_sequences = 1  # thoughts at once the load allows (LoadRequest.max_sequences)
        self.sequence_ctx = 0  # and the context planned for each of them
        self._states: StateCache | None = None  # saved KV states of chats (kv_cache.py)

    # -- loading ---------------------------------------------------------------------------

    def _llama(self, request: LoadRequest, **kwargs: Any) -> Any:
        """Construct a Llama, turning llama.cpp's refusal into a ModelFileError that says why."""
        from llama_cpp import Llama

        try:
            return Llama(model_path=request.model_path, verbose=True, **kwargs)
        except Exception as exc:
            if type(exc).__module__.startswith("jinja2"):  # Llama compiles the GGUF's template
                raise ModelFileError(f"The model's chat template is broken: {exc}") from exc
            if not isinstance(exc, ValueError):
                raise
            failure = allocation_failure(self._log_path)
            if failure:
                message = f"llama.cpp ran out of memory while loading: {failure}"
                raise InsufficientMemory(message) from exc
            arch = unknown_architecture(self._log_path)
            if arch:
                raise ModelFileError(
                    f"This llama.cpp build cannot run models of the '{arch}' architecture."
                ) from exc
            raise ModelFileError(
                f"llama.cpp could not load {os.path.basename(request.model_path)}: the file "
                "is damaged or incomplete, or its format is newer than this llama.cpp build."
            ) from exc

    def load(self, request: LoadRequest) -> ModelSummary:
        """Load a model; a file that can't be loaded is refused before the current one goes."""
        parts = read_model(request.model_path)  # missing, not a GGUF, truncated, a part missing
        architectures = ask_llama()
        check_model(parts, architectures=architectures)  # counts llama.cpp would abort on
        info = parts[0]
        check_draft(request.speculation, info, architectures)  # another vocabulary: refused
        vocab = self._llama(request, vocab_only=True, n_ctx=8)  # architecture, vocabulary
        try:
            renderer = self._prompt_renderer(vocab, info.chat_template)  # a usable template
            probe = renderer.render([Message("user", "hi")])
        finally:
            vocab.close()
        if request.rpc_workers:  # their devices join this process's, for n_gpu_layers
            rpc.add_workers(request.rpc_workers)  # an unreachable one keeps the loaded model
        self.unload()
        from llama_cpp import llama_cpp

        n_ctx_train = info.context_length or 2048
        n_ctx = request.n_ctx or min(n_ctx_train, DEFAULT_MAX_CTX)
        n_threads = request.n_threads or physical_cores()
        started = time.perf_counter()
        kv_types = {
            key: kv_type_id(name)
            for key, name in (("type_k", request.type_k), ("type_v", request.type_v))
            if name
        }
        with model_params_patch(request.tensor_overrides) as params_patch:
            llm = self._llama(
                request,
                n_ctx=n_ctx,
                n_batch=request.n_batch,
                n_threads=n_threads,
                n_threads_batch=request.n_threads_batch or n_threads,
                n_gpu_layers=request.n_gpu_layers,
                flash_attn=request.flash_attn,
                use_mmap=request.use_mmap,
                use_mlock=request.use_mlock,
                **kv_types,
            )
        self._llm = llm
        self._params_patch = params_patch  # the override patterns llama.cpp was given
        self._tuning = DecodeTuning.for_request(llm, request, n_threads, self._llama)
        self._renderer = renderer
        # R1's usage notes: make the reply start with <think> when the template doesn't
        self._force_think = not probe.starts_in_thinking and is_r1_family(
            info.name, os.path.basename(request.model_path)
        )
        self._setup_abort_callback()
        system_info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
        self._states = StateCache.open(llm, request, system_info)  # None: no cache
        self.max_sequences = request.max_sequences
        self.sequence_ctx = request.sequence_ctx or llm.n_ctx()
        self._summary = ModelSummary(
            path=request.model_path,
            name=info.name or os.path.splitext(os.path.basename(request.model_path))[0],
            architecture=info.architecture or "unknown",
            quantization=info.quantization or "unknown",
            n_params=info.parameter_count,
            n_ctx=llm.n_ctx(),
            n_ctx_train=n_ctx_train,
            n_threads=n_threads,
            has_chat_template=bool(info.chat_template),
            starts_in_thinking=probe.starts_in_thinking or self._force_think,
            load_seconds=time.perf_counter() - started,
            system_info=system_info,
            max_sequences=request.max_sequences,
            sequence_ctx=self.sequence_ctx,
            speculation=self._tuning.describe(),
            speculation_note=self._tuning.note,
        )
        return self._summary

    @staticmethod
    def _prompt_renderer(llm: Any, template: str | None) -> PromptRenderer:
        bos, eos = llm.token_bos(), llm.token_eos()
        return PromptRenderer(
            template,
            bos_token=llm._model.token_get_text(bos) if bos >= 0 else "",
            eos_token=llm._model.token_get_text(eos) if eos >= 0 else "",
        )

    def unload(self) -> None:
        if self._states is not None:
            self._states.close()  # lets a disk write under way finish
            self._states = None
        if self._tuning is not None:
            self._tuning.close()
            self._tuning = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None
            self._summary = None
            self._longest_token = 0

    def count_tokens(self, text: str) -> int:
        """How many tokens the loaded model's tokenizer makes of a text (no BOS, no specials)."""
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _setup_abort_callback(self) -> None:
        """llama.cpp polls this during prompt evaluation, so Stop works mid-prompt."""
        from llama_cpp import llama_cpp

        flag = self._cancel_flag

        def should_abort(_data: Any) -> bool:
            return bool(flag.value >= self._gen_id)

        self._abort_cb = llama_cpp.ggml_abort_callback(should_abort)
        self._no_abort_cb = llama_cpp.ggml_abort_callback()  # NULL: no polling while decoding

    def set_abort_polling(self, on: bool, ctx: Any = None) -> None:
        """Poll Stop during llama_decode of the loaded context (or of a run's own, ctx)."""
        from llama_cpp import llama_cpp

        callback = self._abort_cb if on else self._no_abort_cb
        llama_cpp.llama_set_abort_callback(ctx or self.llm._ctx.ctx, callback, None)

    @property
    def llm(self) -> Any:
        return self._llm if self._llm is not None else _no_model()

    @property
    def tuning(self) -> DecodeTuning:
        return self._tuning if self._tuning is not None else _no_model()

    # -- generation ------------------------------------------------------------------------

    def _render(self, messages: Sequence[Message], keep_reasoning: bool = False) -> Prompt:
        assert self._renderer is not None
        return self._renderer.render(messages, keep_reasoning=keep_reasoning)

    def _continued(self, messages: Sequence[Message], keep_reasoning: bool = False) -> Prompt:
        """The prompt; a last assistant message is a partial answer that the model continues."""
        if not messages or messages[-1].role != "assistant":
            prompt = self._render(messages, keep_reasoning)
            if self._force_think and not prompt.starts_in_thinking:
                return Prompt(text=prompt.text + THINK_OPEN + "\n", starts_in_thinking=True)
            return prompt
        partial = messages[-1]
        prompt = self._render(messages[:-1], keep_reasoning)
        text, thinking = prompt.text, prompt.starts_in_thinking
        if self._force_think and not thinking:
            text, thinking = text + THINK_OPEN + "\n", True
        if partial.reasoning:
            if not thinking:
                text += THINK_OPEN + "\n"
            text += partial.reasoning
            thinking = True
        if partial.content:
            if thinking:
                text = text.rstrip() + "\n" + THINK_CLOSE + "\n\n"
            text += partial.content
            thinking = False
        return Prompt(text=text, starts_in_thinking=thinking)

    def piece(self, token: int) -> bytes:
        """The bytes of one token (a piece can end inside a UTF-8 character)."""
        from llama_cpp import llama_cpp

        vocab, buf = self.llm._model.vocab, self._piece_buf
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
        if n < 0:
            self._piece_buf = buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
        return buf.raw[:n]

    def is_end_of_generation(self, token: int) -> bool:
        from llama_cpp import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token))

    def end_reason(
        self, policy: ThinkingPolicy, n_thinking: int, thinking_seconds: float, loop: str | None
    ) -> tuple[EndReason | None, str]:
        """Whether Ponder should end the reasoning now, and why. The time budget counts
        thinking time (from the first thinking token), as "Thought for" does."""
        if self._answer_now_flag.value >= self._gen_id:
            return "asked", ""
        if policy.budget_tokens is not None and n_thinking >= policy.budget_tokens:
            return "budget_tokens", ""
        if policy.budget_seconds is not None and thinking_seconds >= policy.budget_seconds:
            return "budget_seconds", ""
        if loop is not None:
            return "loop", loop
        return None, ""

    def cancelled(self) -> bool:
        return bool(self._cancel_flag.value >= self._gen_id)

    def longest_token(self) -> int:
        """The most bytes one token of this model's vocabulary stands for (special ones too)."""
        if self._longest_token == 0:
            from llama_cpp import llama_cpp

            vocab, buf = self.llm._model.vocab, ctypes.create_string_buffer(1024)
            longest = 1
            for token in range(llama_cpp.llama_vocab_n_tokens(vocab)):
                n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, True)
                longest = max(longest, abs(n))  # negative: the size a longer buffer needs
            self._longest_token = longest
        return self._longest_token

    def generate_parallel(
        self, gen_id: int, messages: Sequence[Message], params: GenerationParams, n: int, send
    ) -> None:
        """n thoughts on one prompt at once (engine/parallel.py), their events tagged."""
        self._gen_id = gen_id
        run_thoughts(self, gen_id, messages, params, n, send)

    def _prompt_tokens(self, prompt: Prompt) -> tuple[list[int], int]:
        """The prompt's tokens, and how many of them the KV cache already holds.

        A prompt too long for the context is refused before it is tokenized when its size
        alone proves it: no token stands for more bytes than the vocabulary's longest (a
        15 MB prompt took 13 s to tokenize only to be refused)."""
        llm = self.llm
        data = prompt.text.encode("utf-8")
        n_ctx = llm.n_ctx()
        if len(data) >= n_ctx:
            at_least = -(-len(data) // self.longest_token())
            if at_least >= n_ctx:
                raise _overflow(f"at least {at_least:,}", at_least, n_ctx)
        tokens = llm.tokenize(data, add_bos=False, special=True)
        if len(tokens) >= n_ctx:
            raise _overflow(f"{len(tokens):,}", len(tokens), n_ctx)
        n_cached = 0
        for cached, new in zip(llm._input_ids.tolist(), tokens, strict=False):
            if cached != new:
                break
            n_cached += 1
        return tokens, min(n_cached, len(tokens) - 1)

    def generate(self, gen_id: int, messages: Sequence[Message], params: GenerationParams, send):
        """Stream Chunk events through send(), then one Finished event."""
        llm = self.llm
        self._gen_id = gen_id
        started = time.perf_counter()
        if params.grammar:  # llama.cpp would crash sampling with a grammar it can't parse
            check_grammar(llm._model.vocab, params.grammar, self._log_path)
        prompt = self._continued(messages, params.keep_reasoning)
        tokens, n_cached = self._prompt_tokens(prompt)
        restored = self._states.restore(tokens, n_cached) if self._states is not None else None
        n_cached = restored.n_tokens if restored is not None else n_cached
        run = Decoding(
            self,
            gen_id,
            params,
            send,
            tokens=tokens,
            starts_in_thinking=prompt.starts_in_thinking,
            continuing=messages[-1].role == "assistant",
            budget=min(params.max_tokens, llm.n_ctx() - len(tokens)),
        )
        if params.seed is not None:
            llm.set_seed(params.seed)
        self.set_abort_polling(True)
        try:
            run.run()
        except StopIteration:
            run.finish = "stop"
        except RuntimeError as exc:
            if not self.cancelled():
                raise EngineError(f"llama.cpp failed while generating: {exc}") from exc
            run.finish = "cancelled"  # llama_decode aborted by the callback mid-prompt
        finally:
            self.set_abort_polling(False)
        stats = run.close(started, n_prompt=len(tokens), n_cached=n_cached)
        if restored is not None and restored.tier:
            stats = replace(stats, n_restored=restored.n_tokens, restored_from=restored.tier)
        send(Finished(gen_id, stats))
        if self._states is not None:
            self._keep_state(messages, params, prompt, len(tokens), stats.finish_reason)

    def _keep_state(
        self,
        messages: Sequence[Message],
        params: GenerationParams,
        prompt: Prompt,
        n_prompt: int,
        finish: str,
    ) -> None:
        """After the answer was sent: save the context's KV state for the chat's next turn
        (of a finished answer, as far as that turn's prompt repeats it)."""
        llm, states = self.llm, self._states
        assert states is not None
        try:
            after = None
            if finish == "stop":
                pieces = (self.piece(t) for t in llm.input_ids[n_prompt : llm.n_tokens].tolist())
                written = b"".join(pieces).decode("utf-8", "replace")
                turn = next_turn(messages, written, prompt.starts_in_thinking)
                text = self._render(turn, params.keep_reasoning).text.encode("utf-8")
                after = llm.tokenize(text, add_bos=False, special=True)
            states.save(params.cache_tag, after, finished=after is not None)
        except Exception as exc:  # the cache never costs an answer
            print(f"KV cache: a state was not saved: {exc!r}", file=sys.stderr, flush=True)

    def forget_states(self, tag: str | None) -> None:
        """Drop a chat's saved KV states (None: all of them), in memory and on disk."""
        if self._states is not None:
            self._states.forget(tag)
        else:
            forget_files(paths.kv_cache_dir(), tag)


def redirect_stderr(log_path: str) -> Any:
    """Send fds 1 and 2 (llama.cpp's own prints too) to the engine log file."""
    log = open(log_path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the process
    os.dup2(log.fileno(), 2)
    os.dup2(log.fileno(), 1)
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stdout = sys.stderr
    faulthandler.enable(file=log)
    return log


def error_reply(gen_id: int | None, exc: BaseException) -> tuple:
    """An error the worker survived, sent back with its class name so the client can re-raise."""
    extra: dict[str, Any] = {}
    if isinstance(exc, ContextOverflow):
        extra = {"n_prompt": exc.n_prompt, "n_ctx": exc.n_ctx}
    name = type(exc).__name__ if isinstance(exc, PonderError) else "EngineError"
    message = str(exc) if isinstance(exc, PonderError) else f"{type(exc).__name__}: {exc}"
    return (protocol.ERROR, gen_id, name, message, extra)


def main(conn: Any, cancel_flag: Any, answer_now_flag: Any, log_path: str) -> None:
    """Entry point of the worker process: serve requests until told to shut down."""
    redirect_stderr(log_path)
    # Ctrl+C in a terminal reaches the whole process group: the command line decides what it
    # means (answer now, stop) and tells the worker through its flags.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    engine = Engine(cancel_flag, answer_now_flag, log_path)
    conn.send((protocol.READY, os.getpid()))

    def send(event: Any) -> None:
        conn.send((protocol.EVENT, event))

    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            break  # the client went away
        kind = request[0]
        if kind == protocol.SHUTDOWN:
            break
        try:
            if kind == protocol.LOAD:
                conn.send((protocol.LOADED, engine.load(request[1])))
            elif kind == protocol.GENERATE:
                _, gen_id, messages, params = request
                try:
                    engine.generate(gen_id, messages, params, send)
                except Exception as exc:
                    conn.send(error_reply(gen_id, exc))
            elif kind == protocol.GENERATE_N:
                _, gen_id, messages, params, n = request
                try:
                    engine.generate_parallel(gen_id, messages, params, n, send)
                except Exception as exc:
                    conn.send(error_reply(gen_id, exc))
            elif kind == protocol.TOKENIZE:
                conn.send((protocol.TOKENS, engine.count_tokens(request[1])))
            elif kind == protocol.FORGET:
                engine.forget_states(request[1])
                conn.send((protocol.FORGOTTEN,))
            elif kind == protocol.UNLOAD:
                engine.unload()
                conn.send((protocol.UNLOADED,))
        except Exception as exc:
            conn.send(error_reply(None, exc))
    engine.unload()


def _no_model() -> Any:
    raise EngineError("No model is loaded.")
