"""The status bar: the model and how it was loaded, the plan, the context meter, the speed,
and where answers come from (a remote engine) or go to (serving)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from model_runtime.chat.generation import GenerationStats


class StatusBar(QStatusBar):
    """Its labels say what is; the window tells it what changed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_label = QLabel("No model loaded")
        self.model_label.setObjectName("modelLabel")
        self.speed_label = QLabel("")
        self.context_label = QLabel("")
        self.context_label.setObjectName("contextMeter")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.plan_label = QLabel("")
        self.plan_label.setObjectName("planLabel")
        self.details_button = QToolButton()
        self.details_button.setObjectName("planDetails")
        self.details_button.setText("Details…")
        self.details_button.setAutoRaise(True)
        self.details_button.hide()
        self.remote_label = QLabel("")
        self.remote_label.setObjectName("remoteLabel")
        self.remote_label.hide()
        self.serve_label = QLabel("")
        self.serve_label.setObjectName("serveLabel")
        self.serve_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.serve_label.hide()
        self.addWidget(self.model_label, 1)
        for widget in (
            self.remote_label,
            self.serve_label,
            self.plan_label,
            self.details_button,
            self.progress,
            self.context_label,
            self.speed_label,
        ):
            self.addPermanentWidget(widget)

    def show_loading(self, path: str) -> None:
        self.model_label.setText(f"Loading {path.rsplit('/', 1)[-1]} …")
        self.progress.show()

    def show_model(self, text: str) -> None:
        """The loaded model's words ("No model loaded" and the like when there is none)."""
        self.model_label.setText(text)
        self.progress.hide()

    def show_plan(self, text: str, reason: str) -> None:
        self.plan_label.setText(text)
        self.plan_label.setToolTip(reason)
        self.details_button.show()

    def clear_plan(self) -> None:
        self.plan_label.setText("")
        self.details_button.hide()

    def show_context(self, tokens: int, n_ctx: int | None) -> None:
        """How full the model's context is after the last answer (nothing when unknown)."""
        if not tokens or not n_ctx:
            self.context_label.setText("")
            return
        self.context_label.setText(f"Context {tokens:,} / {n_ctx:,} ({tokens / n_ctx:.0%})")
        self.context_label.setToolTip(
            "Tokens this conversation takes in the model's context. Past reasoning is not "
            "sent back, so it costs context only while the model writes it."
        )

    def show_generating(self, note: str = "") -> None:
        self.speed_label.setText(f"Generating… {note}".rstrip())

    def show_speed(self, stats: GenerationStats | None) -> None:
        """The last answer's speed, the threads that decoded it when the CPU was busy, and
        the drafted tokens the model kept; None clears it."""
        if stats is None:
            self.speed_label.setText("")
            self.speed_label.setToolTip("")
            return
        parts = [f"{stats.tokens_per_second:.1f} tokens/s"]
        tips = []
        if stats.n_threads and stats.n_threads != stats.n_threads_planned:
            parts.append(f"{stats.n_threads} of {stats.n_threads_planned} threads")
            tips.append(
                "Other programs kept the CPU busy, so the engine decoded on fewer threads: "
                "llama.cpp's threads wait for each other, and one held up stalls them all."
            )
        if stats.n_drafted:
            parts.append(f"{stats.n_accepted:,} of {stats.n_drafted:,} guesses kept")
            tips.append(
                "Speculative decoding: guessed tokens the model checked in one step, and how "
                "many it kept. Each kept guess is a token it did not have to decode alone."
            )
        if stats.speculation_note:
            tips.append(stats.speculation_note)
        self.speed_label.setText(" · ".join(parts))
        self.speed_label.setToolTip("\n\n".join(tips))
