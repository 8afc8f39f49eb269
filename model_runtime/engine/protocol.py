"""Messages between the engine client and its worker process (tuples of plain, picklable data)."""

from __future__ import annotations

# client -> worker
LOAD = "load"  # (LOAD, LoadRequest)
GENERATE = "generate"  # (GENERATE, gen_id, [Message], GenerationParams)
GENERATE_N = "generate_n"  # (GENERATE_N, gen_id, [Message], GenerationParams, n): n thoughts
UNLOAD = "unload"  # (UNLOAD,)
TOKENIZE = "tokenize"  # (TOKENIZE, text): how many tokens the loaded model makes of it
FORGET = "forget"  # (FORGET, tag | None): drop a chat's saved KV states (None: all of them)
SHUTDOWN = "shutdown"  # (SHUTDOWN,)

# worker -> client
READY = "ready"  # (READY, pid)
LOADED = "loaded"  # (LOADED, ModelSummary)
UNLOADED = "unloaded"  # (UNLOADED,)
TOKENS = "tokens"  # (TOKENS, count)
FORGOTTEN = "forgotten"  # (FORGOTTEN,)
EVENT = "event"  # (EVENT, Chunk | Finished | ThoughtsFinished)
ERROR = "error"  # (ERROR, gen_id | None, error class name, message, extra dict)
