"""Start the real app, load the starter model and stream a long answer until killed.

Used by test_hard_kill.py: it prints "streaming" once the answer has started, then keeps
the app running so that the test can kill it at any moment.
"""

from __future__ import annotations

import sys


def main() -> int:
    from PySide6.QtCore import QTimer

    from desktop.app import create_application, create_window
    from model_runtime.chat.generation import GenerationParams, LoadRequest

    app = create_application()
    window = create_window()
    window.show()
    started = False

    def ask(_summary: object) -> None:
        window.controller.params = GenerationParams(max_tokens=4000, temperature=1.0, seed=11)
        window.send("Write a very long story about a lighthouse keeper and her cat.")

    def on_chunk(*_args: object) -> None:
        nonlocal started
        if not started:
            started = True
            print("streaming", flush=True)

    window.bridge.loaded.connect(ask)
    window.bridge.chunk.connect(on_chunk)
    window.bridge.load_failed.connect(lambda exc: (print(f"error: {exc}", flush=True), app.quit()))
    starter = window.starter_path
    QTimer.singleShot(0, lambda: window.bridge.load(LoadRequest(str(starter), n_threads=1)))
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
