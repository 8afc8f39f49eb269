"""The chat's header: the model in use as a drop-down, and the open chat's own model.

The drop-down (desktop/chat/model_menu.py) lists the models used lately, those on this
computer and the remote engines, then "Open a file…" and "Manage models…". Choosing only asks:
the window loads the way File → Open does (planned, the verdict shown before a model that does
not fit), or switches to a remote engine as Settings does. A chat last answered by another
model says so, with "Switch to …"; nothing switches by itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton, QWidget

from desktop.chat.model_menu import add_choice, add_heading, add_missing, endpoint_text
from desktop.common.elided_label import ElidedLabel
from desktop.engines.bridge import EngineBridge
from model_runtime.chat.generation import ModelSummary
from model_runtime.conversations.store import ConversationStore
from model_runtime.errors import StorageError
from model_runtime.models.choices import ModelChoice, choice_for, local_choices, recent_choices
from model_runtime.models.model_ref import ModelRef, local_path, ref_for_path, ref_name
from model_runtime.models.references import add_recent_model, forget_recent_model
from model_runtime.models.store import ModelStore
from model_runtime.serving.endpoints import Endpoint, get_endpoint, load_endpoints
from model_runtime.units import size_text


class ModelPicker(QWidget):
    """The model in use (name, quantization, size, where it runs) and what else can be used."""

    load_requested = Signal(str)  # a local model file: plan and load it as File → Open does
    remote_requested = Signal(object)  # an Endpoint: answers come from it from now on
    open_file_requested = Signal()
    manage_requested = Signal()

    def __init__(
        self, bridge: EngineBridge, store: ConversationStore, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("chatHeader")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.bridge = bridge
        self.store = store
        self.remote_name: str | None = None  # the remote engine answering, if one is
        self._loading: str | None = None
        self.chat_ref = ""  # the open chat's model
        self.chat_name = ""
        self.refused = ""  # why the last choice was not loaded
        self.button = QToolButton(self)
        self.button.setObjectName("modelPicker")
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.menu = QMenu(self.button)
        self.menu.setObjectName("modelMenu")
        self.menu.aboutToShow.connect(self.fill_menu)
        self.button.setMenu(self.menu)
        self.where = QLabel(self)
        self.where.setObjectName("modelWhere")
        self.note = ElidedLabel(parent=self)  # cut, not the window widened, when narrow
        self.note.setObjectName("chatModelNote")
        self.switch_button = QPushButton(self)
        self.switch_button.setObjectName("switchModelButton")
        self.switch_button.clicked.connect(self.switch_to_chat_model)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.addWidget(self.button)
        layout.addWidget(self.where)
        layout.addStretch(1)
        layout.addWidget(self.note)
        layout.addWidget(self.switch_button)
        bridge.loading.connect(self._on_loading)
        bridge.loaded.connect(self._on_loaded)
        bridge.load_failed.connect(self._on_settled)
        bridge.crashed.connect(self._on_settled)
        self._show_current()

    # -- the model in use --------------------------------------------------------------------

    def route(
        self,
        load: Callable[[str], None],
        use_remote: Callable[[Endpoint], None],
        open_file: Callable[[], None],
        manage: Callable[[], None],
    ) -> None:
        """Where its choices go: a model file to load, a remote engine, a file to open, the
        model manager."""
        self.load_requested.connect(load)
        self.remote_requested.connect(use_remote)
        self.open_file_requested.connect(open_file)
        self.manage_requested.connect(manage)

    @property
    def current_ref(self) -> str:
        """The identity of the model answering now ("" when none)."""
        if self.remote_name is not None:
            return str(ModelRef.remote(self.remote_name))
        return self.bridge.model_ref

    def set_remote(self, name: str | None) -> None:
        """A remote engine answers now (None: the local model again)."""
        self.remote_name = name
        self._show_current()

    def _on_loading(self, path: str) -> None:
        self._loading = path
        self._show_current()

    def _on_loaded(self, summary: ModelSummary) -> None:
        with contextlib.suppress(OSError):
            add_recent_model(summary.path)  # first among the recent models
        self._on_settled()

    def _on_settled(self, *_args: object) -> None:
        self._loading = None
        self._show_current()

    def _show_current(self) -> None:
        summary = self.bridge.summary
        if self.remote_name is not None:
            endpoint = get_endpoint(self.remote_name)
            text = endpoint.model or endpoint.name if endpoint else self.remote_name
            where = f"remote engine {self.remote_name}"
        elif self._loading is not None:
            text, where = f"Loading {Path(self._loading).name}…", ""
        elif summary is not None:
            choice = choice_for(ref_for_path(summary.path), ModelStore())
            size = size_text(choice.size) if choice.size else ""
            text = " · ".join(p for p in (choice.name, summary.quantization, size) if p)
            where = "on this computer"
        else:
            text, where = "Choose a model", ""
        self.button.setText(f"{text}  ▾")
        self.button.setToolTip(summary.path if summary and self.remote_name is None else "")
        self.where.setText(where)
        self.where.setVisible(bool(where))
        self._show_chat_model()

    # -- the open chat's model ---------------------------------------------------------------

    def show_chat(self, conversation_id: int | None) -> None:
        """The open chat (None: a new one): say so when another model answered it last."""
        self.chat_ref, self.chat_name = "", ""
        if conversation_id is not None:
            with contextlib.suppress(KeyError, StorageError):
                conversation = self.store.conversation(conversation_id)
                self.chat_ref, self.chat_name = conversation.model_ref, conversation.model
        self._show_chat_model()

    def _show_chat_model(self) -> None:
        ref = ModelRef.parse(self.chat_ref)
        other = ref is not None and self.chat_ref != self.current_ref
        self.note.setVisible(other)
        self.switch_button.setVisible(False)
        if ref is None or not other:
            return
        name = ref.value if ref.is_remote else ref_name(ref)
        if ref.kind == "file" and self.chat_name:
            name = self.chat_name
        if self._target(ref) is None:
            self._say(f"This chat was answered by {name}, which is not here any more.")
            return
        self._say(f"This chat was answered by {name}.")
        self.switch_button.setText("Switch to it")
        self.switch_button.setToolTip(f"Use {name} for this chat")
        self.switch_button.setVisible(True)

    def _say(self, note: str) -> None:
        self.note.setText(note)
        self.note.setToolTip(note)  # whole, where the header is too narrow for it

    def _target(self, ref: ModelRef) -> object | None:
        """What choosing a model would use: its file, or its saved endpoint (None: gone)."""
        return get_endpoint(ref.value) if ref.is_remote else local_path(ref)

    def switch_to_chat_model(self) -> None:
        """The one-click "Switch to …": load the chat's model (or use its remote engine)."""
        ref = ModelRef.parse(self.chat_ref)
        if ref is not None:
            self._use(ref, self.chat_name or ref.value)

    def _use(self, ref: ModelRef, name: str) -> None:
        target = self._target(ref)
        if target is None:
            self.refused = f"{name} is missing: it was moved or deleted, so it can't be loaded."
            self._say(self.refused)
            self.note.show()
            return
        self.refused = ""
        if ref.is_remote:
            self.remote_requested.emit(target)
        else:
            self.load_requested.emit(str(target))

    # -- the drop-down -----------------------------------------------------------------------

    def fill_menu(self) -> None:
        """List what can be chosen, as it is now (a file may have gone since)."""
        menu, current, store = self.menu, self.current_ref, ModelStore()
        menu.clear()
        recent = recent_choices(store)
        if recent:
            add_heading(menu, "Recent")
            self._add_choices(recent, current)
        here = local_choices(store, leave_out=frozenset(c.ref for c in recent))
        if here:
            add_heading(menu, "On this computer")
            self._add_choices(here, current)
        endpoints = load_endpoints()
        if endpoints:
            add_heading(menu, "Remote engines")
            for endpoint in endpoints:
                action = menu.addAction(endpoint_text(endpoint))
                action.setCheckable(True)
                action.setChecked(str(ModelRef.remote(endpoint.name)) == current)
                action.triggered.connect(
                    lambda _checked=False, e=endpoint: self._use(ModelRef.remote(e.name), e.name)
                )
        menu.addSeparator()
        menu.addAction("Open a file…").triggered.connect(lambda: self.open_file_requested.emit())
        menu.addAction("Manage models…").triggered.connect(lambda: self.manage_requested.emit())

    def _add_choices(self, choices: list[ModelChoice], current: str) -> None:
        for choice in choices:
            if choice.missing:
                add_missing(self.menu, choice, self._remove)
            else:
                add_choice(self.menu, choice, str(choice.ref) == current, self.choose)

    def choose(self, choice: ModelChoice) -> None:
        """Load a model chosen in the list; one whose file has gone since is refused."""
        self._use(choice.ref, choice.name)

    def _remove(self, choice: ModelChoice) -> None:
        if choice.listed_as is not None:
            with contextlib.suppress(OSError):
                forget_recent_model(choice.listed_as)
