"""File → Serve the loaded model: Ponder's OpenAI-compatible API for other programs.

Where it listens and whether it needs a key come from Settings → Serving (serve_settings);
the status bar says where it serves, and marks an address other computers can reach. Without a
key store the key lives in memory while Ponder runs: serving other computers asks first.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel

from desktop.common.style_state import set_state
from desktop.engines.bridge import EngineBridge
from desktop.engines.serve_tab import confirm_memory_key
from model_runtime.credentials import key_store_available
from model_runtime.errors import EngineCrashed, PonderError
from model_runtime.serving.server import OpenAIServer, ServedRequest
from model_runtime.serving.settings import (
    ServeSettings,
    key_required,
    load_serve_settings,
    new_serve_api_key,
    serve_api_key,
    serve_key_in_memory,
)


class _Declined(Exception):
    """Serving other computers with a key kept only in memory was not confirmed."""


class ServeController(QObject):
    """Starts and stops the server in front of the local model; drives the action and label."""

    failed = Signal(str, str)  # title, text
    _finished = Signal(object)  # ServedRequest, from a server thread
    _crashed = Signal(object)  # EngineCrashed, from a server thread

    def __init__(
        self, bridge: EngineBridge, action: QAction, label: QLabel, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.action = action
        self.label = label
        self.server: OpenAIServer | None = None
        self.wanted = False  # the switch is on: serve whichever model is loaded
        self.answered = 0  # chat requests answered since serving started
        self._finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        # the engine died under a served request: the window hears it as it hears its own
        self._crashed.connect(bridge.crashed.emit, Qt.ConnectionType.QueuedConnection)
        action.setCheckable(True)
        action.setEnabled(False)
        action.toggled.connect(self.set_serving)

    @property
    def busy(self) -> bool:
        """Whether a served request holds the model now (the chat's answer waits for it)."""
        return self.server is not None and self.server.turns.busy

    def set_serving(self, on: bool) -> None:
        """The switch: on serves the loaded model, and the next one loaded, until off."""
        if on:
            self.wanted = True
            self.start()
        else:
            self.stop()

    def start(self) -> None:
        """Serve the loaded model as the saved settings say; a failure is said, not raised."""
        if self.server is not None or self.bridge.summary is None:
            return
        settings = load_serve_settings()
        try:
            key = self._key_for(settings)
        except _Declined:  # serving other computers without a kept key: the person said no
            self.stop()
            return
        except PonderError as exc:
            self._fail(str(exc))
            return
        error: Exception | None = None
        for port in settings.ports:
            try:
                self.server = OpenAIServer(
                    self.bridge.client,
                    host=settings.host,
                    port=port,
                    api_key=key,
                    on_finished=self._report,
                    on_crashed=self._report_crash,
                ).start()
                break
            except PonderError as exc:  # offline mode refuses to listen for other computers
                error = exc
                break
            except OSError as exc:
                error = exc
        if self.server is None:
            self._fail(str(error))
            return
        self.answered = 0
        self._show(self.server)

    def _key_for(self, settings: ServeSettings) -> str | None:
        """The key callers must send, or None when none is asked. Without a key store a new key
        is made for this run, after asking (_Declined) when other computers are served."""
        store = key_store_available()
        if not key_required(settings, store):
            return None
        key = serve_api_key()
        if key is not None:
            return key
        if store:
            raise PonderError(
                "Settings → Serving requires an API key, but none is saved in the keyring."
            )
        if settings.network and not confirm_memory_key(self.label.window()):
            raise _Declined
        return new_serve_api_key()

    def _fail(self, text: str) -> None:
        self.wanted = False
        self._set_checked(False)
        self.label.hide()
        self.failed.emit("The model can't be served", text)

    def _report(self, record: ServedRequest) -> None:
        with contextlib.suppress(RuntimeError):  # the window closed meanwhile
            self._finished.emit(record)

    def _report_crash(self, crash: EngineCrashed) -> None:
        with contextlib.suppress(RuntimeError):
            self._crashed.emit(crash)

    def _on_finished(self, record: ServedRequest) -> None:
        if self.server is None or record.client_gone or record.error or record.stats is None:
            return
        self.answered += 1
        self._show(self.server)

    def _count_text(self) -> str:
        if not self.answered:
            return ""
        return f" · {self.answered} answer{'s' if self.answered != 1 else ''} served"

    def _show(self, server: OpenAIServer) -> None:
        local = f"http://127.0.0.1:{server.port}/v1"
        if server.leaves_this_computer:
            key = "API key required" if server.api_key else "no API key"
            self.label.setText(
                f"⚠ Serving to the network on port {server.port} ({key}){self._count_text()}"
            )
            set_state(self.label, "warning", True)
            self.label.setToolTip(
                f"An OpenAI-compatible API. Programs here: {local}. Other computers: this "
                f"computer's address, port {server.port}"
                + ("." if server.api_key else ", and no key is asked of them.")
                + (" The key lasts until Ponder quits." if serve_key_in_memory() else "")
                + " Settings → Serving changes this."
            )
        else:
            self.label.setText(
                f"Serving at {local}"
                + (" (API key required)" if server.api_key else "")
                + self._count_text()
            )
            set_state(self.label, "warning", False)
            self.label.setToolTip(
                "An OpenAI-compatible API, for programs on this computer only. "
                "Settings → Serving changes this."
            )
        self.label.show()
        self._set_checked(True)

    def stop(self) -> None:
        """The switch off: no more serving, not even after the next load."""
        self.wanted = False
        self._stop_server()
        self.label.hide()
        self._set_checked(False)

    def _stop_server(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()

    def restart(self) -> None:
        """Apply changed settings: a running server starts again with them."""
        if self.server is not None:
            self._stop_server()
            self.start()

    def model_changed(self, loaded: bool) -> None:
        """The local model went away (serving pauses) or came (serving goes on, if on)."""
        self._stop_server()
        self.action.setEnabled(loaded or self.wanted)
        if self.wanted and loaded:
            self.start()
        elif self.wanted:
            self.label.setText("Serving resumes when a model is loaded")
            set_state(self.label, "warning", False)
            self.label.setToolTip("File → Serve the loaded model turns serving off.")
            self.label.show()
        else:
            self.label.hide()

    def _set_checked(self, on: bool) -> None:
        self.action.blockSignals(True)
        self.action.setChecked(on)
        self.action.blockSignals(False)
