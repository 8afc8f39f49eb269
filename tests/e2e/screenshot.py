"""Start the real app, chat with the starter model, and save screenshots of the screen.

Run under a display, e.g. `xvfb-run -a -s "-screen 0 1180x820x24" python tests/e2e/screenshot.py
OUT_DIR`. It writes thinking.png (the pane streaming) and answer.png (a finished answer),
and prints one JSON line with what happened. The starter model is made to "reason" with a
llama.cpp grammar (it is not a reasoning model), so the thinking pane has real model text.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

# The model's own words inside a thinking block, then its own answer (Markdown allowed).
REASONING_GRAMMAR = r"""
root    ::= "<think>\n" thought "\n</think>\n\n" answer
thought ::= [^<\n]{80,400}
answer  ::= [^<]{40,700}
"""
QUESTION = "Why is the sky blue? Explain briefly."
FOLLOW_UP = "Write a Python function that converts Celsius to Fahrenheit."


def main(out_dir: Path) -> int:
    os.environ.setdefault("PONDER_HOME", tempfile.mkdtemp(prefix="ponder-shot-"))
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QGuiApplication

    from desktop.app import create_application, create_window
    from model_runtime.chat.generation import GenerationParams

    app = create_application()
    window = create_window()
    window.resize(1100, 780)
    window.move(40, 20)
    window.show()
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {"platform": QGuiApplication.platformName()}
    turns = [
        (
            QUESTION,
            GenerationParams(max_tokens=320, temperature=0.7, seed=7, grammar=REASONING_GRAMMAR),
        ),
        (FOLLOW_UP, GenerationParams(max_tokens=200, temperature=0.2, seed=3)),
    ]

    def shoot(name: str) -> None:
        screen = QGuiApplication.primaryScreen()
        screen.grabWindow(0).save(str(out_dir / name))  # the whole screen, as a person sees it
        report[name] = str(out_dir / name)

    def next_turn(*_args: object) -> None:
        if not turns:
            QTimer.singleShot(400, finish)
            return
        question, params = turns.pop(0)
        window.controller.params = params
        window.composer.edit.setPlainText(question)
        window.composer.button.click()

    def on_chunk(_gen_id: int, kind: str, _text: str) -> None:
        message = window.chat_view.messages[-1] if window.chat_view.messages else None
        if kind == "thinking" and "thinking.png" not in report and message is not None:
            thinking = getattr(message, "thinking", None)
            if thinking is not None and len(message.reasoning) > 160:
                report["thinking.png"] = "pending"
                QTimer.singleShot(150, lambda: shoot("thinking.png"))  # after the repaint

    def finish() -> None:
        first = window.chat_view.messages[1]
        if getattr(first, "thinking", None) is not None:
            first.thinking.set_expanded(True)  # show the reasoning of the first answer too
        app.processEvents()
        shoot("answer.png")
        report["messages"] = len(window.controller.messages)
        report["status"] = window.status.model_label.text()
        app.quit()

    def failed(exc: BaseException) -> None:
        report["error"] = str(exc)
        app.quit()

    window.bridge.loaded.connect(next_turn)
    window.bridge.load_failed.connect(failed)
    window.bridge.chunk.connect(on_chunk)
    window.controller.answer_finished.connect(lambda _stats: QTimer.singleShot(200, next_turn))
    QTimer.singleShot(500, window.load_starter)
    QTimer.singleShot(480_000, lambda: failed(TimeoutError("no answer in 8 minutes")))
    app.exec()
    window.close()
    print(json.dumps(report))
    return 0 if "error" not in report else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")))
