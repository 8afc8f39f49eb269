"""`chat … --attach FILE`: files read before the model loads (a bad one stops the command with
its reason), then fitted in the context: whole where they fit, else the passages that best
match the question. What went in is printed on stderr before the answer."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from model_runtime.attachments.budget import automatic_modes, include_files, room_for_files
from model_runtime.attachments.limits import MEGABYTE, Limits, load_limits
from model_runtime.attachments.prompt import Included, compose_turn
from model_runtime.attachments.reading import read_attachment


def add_attach_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--attach",
        action="append",
        default=[],
        metavar="FILE",
        help="a file whose text goes with the question (text, code, PDF, .docx, HTML); "
        "repeat for more",
    )
    parser.add_argument(
        "--attach-limit-mb",
        type=float,
        default=None,
        metavar="MB",
        help="the largest file --attach takes (default: the settings' limit, 50 MB)",
    )


def read_files(args: argparse.Namespace) -> list[Included]:
    """The --attach files, read (PDF and Word in a child process); AttachmentError stops here."""
    limits = load_limits()
    if args.attach_limit_mb is not None:
        limits = Limits(max_bytes=int(args.attach_limit_mb * MEGABYTE))
    files = []
    for path in args.attach:
        print(f"Reading {path} …", file=sys.stderr)
        files.append(Included(read_attachment(path, limits=limits)))
    return files


def question_with_files(
    client: Any, question: str, files: list[Included], n_ctx: int, max_tokens: int
) -> str:
    """The user turn: the files counted by the loaded model and fitted in its context."""
    if not files:
        return question
    counted = [Included(f.file, tokens=client.count_tokens(f.file.text)) for f in files]
    room = room_for_files(n_ctx, 0, max_tokens)
    included = include_files(
        question, automatic_modes(counted, room), room, count=client.count_tokens
    )
    for item in included:
        what = f"whole, {item.tokens:,} tokens"
        if item.mode == "passages":
            where = item.where() or "none fit"
            what = f"retrieved passages, {where} (of {item.tokens:,} tokens)"
        print(f"Included {item.file.name} ({item.file.describe()}): {what}", file=sys.stderr)
    return compose_turn(question, included)
