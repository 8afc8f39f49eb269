"""Conversations in and out of the database: JSON (lossless, every branch) and Markdown."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from typing import Any

from model_runtime.attachments.files import KIND_NAMES
from model_runtime.chat.math import github_math
from model_runtime.conversations import attachments
from model_runtime.conversations.attachments import StoredAttachment
from model_runtime.conversations.records import MESSAGE_COLUMNS, Conversation, StoredMessage
from model_runtime.conversations.schema import transaction
from model_runtime.errors import ConversationStoreError

EXPORT_FORMAT = "ponder-conversation"
# Message fields added after exports began (how thinking ended, why the answer stopped, the
# first token's wait): an export written before them imports with these.
LATER_MESSAGE_FIELDS: dict[str, Any] = {
    "thinking_note": "",
    "finish_note": "",
    "ttft_seconds": 0.0,
    "vote_id": 0,
}


def export_json(
    conversation: Conversation,
    messages: list[StoredMessage],
    attached: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole conversation, every branch included: import_json brings it back as it was.

    Version 2 adds "attachments" (which file went with which question, and how) and "files"
    (each file's text once, by sha256); version 1 exports have neither and import as before.
    """
    return {
        "format": EXPORT_FORMAT,
        "version": 2,
        "conversation": asdict(conversation),
        "messages": [asdict(message) for message in messages],
        **(attached or {"attachments": [], "files": {}}),
    }


def import_json(db: sqlite3.Connection, data: dict[str, Any]) -> int:
    """Add an exported conversation as a new one (new ids, same content and branches)."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ConversationStoreError("This file is not a Ponder conversation export.")
    try:
        source = data["conversation"]
        messages = sorted(data["messages"], key=lambda m: m["id"])
        with transaction(db):
            cursor = db.execute(
                "INSERT INTO conversations (title, model, system_prompt, params, created,"
                " updated, title_is_auto, model_ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    source["title"],
                    source["model"],
                    source["system_prompt"],
                    json.dumps(source["params"]),
                    source["created"],
                    source["updated"],
                    int(source.get("title_is_auto", True)),
                    str(source.get("model_ref", "")),  # schema 5; older exports have none
                ),
            )
            conversation_id = int(cursor.lastrowid or 0)
            new_ids = _insert_messages(db, conversation_id, messages)
            attachments.import_links(db, data, new_ids)
            leaf = source.get("current_leaf")
            db.execute(
                "UPDATE conversations SET current_leaf = ? WHERE id = ?",
                (new_ids.get(leaf) if leaf is not None else None, conversation_id),
            )
    except (KeyError, TypeError, ValueError, sqlite3.Error) as exc:
        raise ConversationStoreError(f"The conversation export is incomplete: {exc}") from exc
    return conversation_id


def _insert_messages(
    db: sqlite3.Connection, conversation_id: int, messages: list[dict[str, Any]]
) -> dict[int, int]:
    """Insert exported messages, parents first; returns old id -> new id."""
    new_ids: dict[int, int] = {}
    for message in messages:
        values = {
            key: message.get(key, LATER_MESSAGE_FIELDS[key])
            if key in LATER_MESSAGE_FIELDS
            else message[key]
            for key in MESSAGE_COLUMNS
            if key not in ("id", "conversation_id", "parent_id")
        }
        values["vote_id"] = new_ids.get(values["vote_id"], 0)  # a vote's first answer came first
        parent = message["parent_id"]
        if parent is not None and parent not in new_ids:
            raise ConversationStoreError("The export's message tree is broken.")
        columns = ["conversation_id", "parent_id", *values]
        cursor = db.execute(
            f"INSERT INTO messages ({', '.join(columns)})"
            f" VALUES ({', '.join('?' for _ in columns)})",
            (conversation_id, new_ids.get(parent) if parent else None, *values.values()),
        )
        new_ids[message["id"]] = new_id = int(cursor.lastrowid or 0)
        if message.get("vote_id") == message["id"]:  # the first answer of a vote names itself
            db.execute("UPDATE messages SET vote_id = ? WHERE id = ?", (new_id, new_id))
    return new_ids


def export_markdown(
    conversation: Conversation,
    visible: list[StoredMessage],
    *,
    reasoning: bool = True,
    attached: dict[int, list[StoredAttachment]] | None = None,
) -> str:
    """The visible branch as Markdown, reasoning in a <details> block or left out; math as
    `$…$` and `$$…$$`, which GitHub renders (R1's `\\(…\\)` and `\\[…\\]` it does not)."""
    lines = [f"# {conversation.title or 'Conversation'}", ""]
    if conversation.model:
        lines += [f"*Model: {conversation.model}*", ""]
    if conversation.system_prompt:
        lines += ["**System:**", "", conversation.system_prompt, ""]
    for message in visible:
        if message.role == "user":
            lines += ["## You", ""]
            files = (attached or {}).get(message.id)
            if files:
                lines += [f"*Attached: {', '.join(_named(a) for a in files)}*", ""]
            lines += [message.content, ""]
        elif message.role == "assistant":
            lines += ["## Assistant", ""]
            if reasoning and message.reasoning.strip():
                summary = f"Thought for {message.reasoning_seconds:.0f} s"
                lines += [f"<details><summary>{summary}</summary>", ""]
                lines += [github_math(message.reasoning.strip()), "", "</details>", ""]
            lines += [github_math(message.content), ""]
    return "\n".join(lines).rstrip() + "\n"


def _named(attachment: StoredAttachment) -> str:
    """ "report.pdf (PDF, passages)": a file as the Markdown export names it."""
    how = ", relevant passages" if attachment.mode == "passages" else ""
    return f"{attachment.name} ({KIND_NAMES.get(attachment.kind, attachment.kind)}{how})"
