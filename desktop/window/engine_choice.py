"""Which engine the chat talks to: the local model, or a saved remote one, remembered.

The choice survives a restart (endpoints.set_chosen); restoring it connects to nothing: the
remote engine is first asked when the person sends a question.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

from desktop.chat.controller import ChatController
from desktop.common.style_state import set_state
from desktop.engines.bridge import ChatBridge, EngineBridge
from model_runtime.serving.endpoints import Endpoint, chosen_endpoint, set_chosen
from model_runtime.serving.remote import RemoteEngine


class EngineChoice(QObject):
    """Switches the chat controller between the local bridge and a remote engine's bridge."""

    changed = Signal()  # after each switch; `remote` says to what

    def __init__(
        self,
        chat: ChatController,
        local: EngineBridge,
        label: QLabel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.chat = chat
        self.local = local
        self.label = label
        self.remote: ChatBridge | None = None

    def use_remote(self, endpoint: Endpoint) -> None:
        """Send the chat's next answers to this endpoint instead of the local model."""
        engine = RemoteEngine.from_endpoint(endpoint)
        remote = ChatBridge(engine, self)
        self.chat.set_bridge(remote)
        self._drop_remote()
        self.remote = remote
        set_chosen(endpoint.name)
        leaves = remote.leaves_this_computer
        where = "leaves this computer" if leaves else "on this computer"
        self.label.setText(f"Remote: {endpoint.name} ({where})")
        set_state(self.label, "warning", leaves)
        self.label.setToolTip(
            f"Prompts go to {engine.base_url}"
            + (", on another computer." if leaves else ", on this computer.")
            + " File → Use the local model switches back."
        )
        self.label.show()
        self.changed.emit()

    def use_local(self) -> None:
        """Back to the local model for the next answers (and at the next start)."""
        if self.remote is None:
            return
        self.chat.set_bridge(self.local)
        self._drop_remote()
        set_chosen(None)
        self.label.hide()
        self.changed.emit()

    def restore(self) -> bool:
        """Use the endpoint chosen before the last quit, if any; True if there was one."""
        endpoint = chosen_endpoint()
        if endpoint is None:
            return False
        self.use_remote(endpoint)
        return True

    def _drop_remote(self) -> None:
        if self.remote is not None:
            self.remote.shutdown()
            self.remote.deleteLater()
            self.remote = None

    def shutdown(self) -> None:
        """At quit: stop a remote answer; the choice stays saved for the next start."""
        self._drop_remote()
