"""The status bar: the model and how it was loaded, the plan, the context meter, the speed,
and where answers come from (a remote engine) or go to (serving).

Its words are cut at their end when the window is narrow (ElidedLabel), never overlapping: the
model's name is the last to go. With a remote engine chosen, the local model's parts step back.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from desktop.common.elided_label import ElidedLabel
from desktop.common.figures import SPEED_TIP, live_text, speed_text
from model_runtime.chat.generation import GenerationStats

CONTEXT_TIP = (
    "Tokens this conversation takes in the model's context. Past reasoning is not "
    "sent back, so it costs context only while the model writes it."
)


class StatusBar(QStatusBar):
    """Its labels say what is; the window tells it what changed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        self.model_label = ElidedLabel("No model loaded")
        self.model_label.setObjectName("modelLabel")
        self.speed_label = ElidedLabel("", keep="Generating…")
        self.speed_label.setObjectName("speedLabel")
        self.context_label = QLabel("")  # short, and never cut: the plan's words give way first
        self.context_label.setObjectName("contextMeter")
        self.context_label.setToolTip(CONTEXT_TIP)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.plan_label = ElidedLabel("")
        self.plan_label.setObjectName("planLabel")
        self.details_button = QToolButton()
        self.details_button.setObjectName("planDetails")
        self.details_button.setText("Details…")
        self.details_button.setAutoRaise(True)
        self.details_button.hide()
        self.remote_label = ElidedLabel("", keep="Remote: ")
        self.remote_label.setObjectName("remoteLabel")
        self.remote_label.hide()
        self.serve_label = QLabel("")
        self.serve_label.setObjectName("serveLabel")
        self.serve_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.serve_label.hide()
        self._remote = False
        self._has_plan = False
        self.addWidget(self.model_label, 1)
        self.addWidget(self.remote_label, 1)
        for widget in (
            self.serve_label,
            self.plan_label,
            self.details_button,
            self.progress,
            self.context_label,
            self.speed_label,
        ):
            self.addPermanentWidget(widget)

    def show_loading(self, path: str) -> None:
        self.model_label.set_keep("")
        self.model_label.setText(f"Loading {path.rsplit('/', 1)[-1]} …")
        self.model_label.setToolTip(path)
        self.progress.show()
        self.show_context(0, None)  # the next model's meter starts empty, and has no speed yet
        self.show_speed(None)

    def show_model(self, text: str, name: str = "", details: str = "") -> None:
        """The loaded model's words ("No model loaded" and the like when there is none):
        `name` is never cut, `details` is its tooltip."""
        self.model_label.set_keep(name)
        self.model_label.setText(text)
        self.model_label.setToolTip(details)
        self.progress.hide()

    def show_plan(self, text: str, reason: str) -> None:
        self._has_plan = True
        self.plan_label.setText(text)
        self.plan_label.setToolTip(reason)
        self._show_local_parts()

    def clear_plan(self) -> None:
        self._has_plan = False
        self.plan_label.setText("")
        self._show_local_parts()

    def set_remote(self, remote: bool) -> None:
        """A remote engine answers: the local model, its plan and context step back (the
        remote label, set by the engine choice, says where answers come from)."""
        self._remote = remote
        self.model_label.setVisible(not remote)
        self.show_context(0, None)
        self.show_speed(None)  # the last answer's, from the other engine
        self._show_local_parts()

    def _show_local_parts(self) -> None:
        local = self._has_plan and not self._remote
        self.plan_label.setVisible(local)
        self.details_button.setVisible(local)

    def show_context(self, tokens: int, n_ctx: int | None) -> None:
        """How full the model's context is after the last answer (nothing when unknown)."""
        if not tokens or not n_ctx:
            self.context_label.setText("")
            return
        self.context_label.setText(f"Context {tokens:,} / {n_ctx:,} ({tokens / n_ctx:.0%})")

    def show_generating(self, note: str = "") -> None:
        self.speed_label.setText(f"Generating… {note}".rstrip())
        self.speed_label.setToolTip(SPEED_TIP if not note else "")

    def show_progress(self, tokens: int, tokens_per_second: float) -> None:
        """Live while an answer streams (the controller calls it a few times a second)."""
        self.speed_label.setText(live_text(tokens, tokens_per_second))
        self.speed_label.setToolTip(SPEED_TIP)

    def show_speed(self, stats: GenerationStats | None) -> None:
        """The last answer's speed, whether its history came from the cache, the threads that
        decoded it when the CPU was busy, and the drafted tokens the model kept; None clears."""
        if stats is None:
            self.speed_label.setText("")
            self.speed_label.setToolTip("")
            return
        parts = [speed_text(stats.tokens_per_second)]
        tips = [SPEED_TIP]
        if stats.n_restored:
            parts.append(f"history restored from cache ({stats.n_restored:,} tokens)")
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
