"""Settings → Remote engines: saved OpenAI-compatible endpoints, added, tested and chosen for chat.

Network calls (listing models, testing) run on background tasks; results come back as a signal.
An API key goes to the keyring and is never shown again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.common.background import Tasks
from desktop.common.error_messages import describe
from desktop.common.screen_fit import keep_fitted
from model_runtime.errors import PonderError
from model_runtime.serving.endpoints import (
    Endpoint,
    chosen_endpoint,
    get_endpoint,
    load_endpoints,
    remove_endpoint,
    save_endpoint,
)
from model_runtime.serving.remote import RemoteEngine

COLUMNS = ("Name", "Base URL", "Model", "Where")
LEAVES = "⚠ leaves this computer"
STAYS = "this computer"


class Background(Tasks):
    """Runs blocking calls on threads; done(result, error) arrives on the GUI thread (and never
    after the widget is gone, as Task sees to)."""

    done = Signal(object, object)  # result, exception (one of them is None)

    def run(self, call: Callable[[], Any]) -> None:
        self.start(
            lambda _task: call(),
            lambda result: self.done.emit(result, None),
            lambda exc: self.done.emit(None, exc),
        )


def _list_models(base_url: str, api_key: str | None) -> list[str]:
    with RemoteEngine(base_url, api_key=api_key) as engine:
        return engine.list_models()


def _error_text(exc: BaseException) -> str:
    title, text = describe(exc)
    return f"{title}. {text}"


class EndpointEditor(QDialog):
    """Add or edit one endpoint: name, base URL, model (fetched or typed) and an API key."""

    def __init__(self, endpoint: Endpoint | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("endpointEditor")
        self.setWindowTitle("Edit remote engine" if endpoint else "Add remote engine")
        self.setMinimumWidth(520)
        self.original = endpoint
        self.saved: Endpoint | None = None
        self.name = QLineEdit(endpoint.name if endpoint else "", self)
        self.url = QLineEdit(endpoint.base_url if endpoint else "", self)
        self.url.setPlaceholderText("http://127.0.0.1:8080/v1")
        self.model = QComboBox(self)
        self.model.setEditable(True)
        self.model.setToolTip("Leave empty to use the first model the server offers")
        if endpoint and endpoint.model:
            self.model.setEditText(endpoint.model)
        self.fetch_button = QPushButton("Fetch models", self)
        self.fetch_button.clicked.connect(self.fetch_models)
        self.key = QLineEdit(self)
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        has_key = bool(endpoint and endpoint.api_key())
        self.key.setPlaceholderText("Saved; type a new one to replace it" if has_key else "None")
        self.status = QLabel("", self)
        self.status.setObjectName("editorStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.fetch_button)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Name", self.name)
        form.addRow("Base URL", self.url)
        form.addRow("Model", model_row)
        form.addRow("API key", self.key)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        keep_fitted(self)  # a connection error arrives after it opens: it grows to show it
        self.fetcher = Background(self)
        self.fetcher.done.connect(self._on_models)

    def _key(self) -> str | None:
        typed = self.key.text().strip()
        if typed:
            return typed
        return self.original.api_key() if self.original else None

    def fetch_models(self) -> None:
        """Ask the server which models it offers, off the GUI thread."""
        self.fetch_button.setEnabled(False)
        self.status.setText("Asking the server for its models…")
        url, key = self.url.text(), self._key()
        self.fetcher.run(lambda: _list_models(url, key))

    def _on_models(self, models: list[str] | None, exc: BaseException | None) -> None:
        self.fetch_button.setEnabled(True)
        if exc is not None:
            self.status.setText(_error_text(exc))
            return
        chosen = self.model.currentText()
        self.model.clear()
        self.model.addItems(models or [])
        self.model.setEditText(chosen or (models[0] if models else ""))
        self.status.setText(f"The server offers {_models_words(len(models or []))}.")

    def save(self) -> None:
        """Save the endpoint (the key to the keyring); a bad address or a taken name is said."""
        typed = self.key.text().strip()
        model = self.model.currentText().strip() or None
        endpoint = Endpoint(self.name.text().strip(), self.url.text(), model)
        before = self.original.name if self.original is not None else None
        if endpoint.name != before and get_endpoint(endpoint.name) is not None:
            self.status.setText(f"There is already a remote engine named '{endpoint.name}'.")
            return
        try:
            self.saved = save_endpoint(endpoint, typed or None, replacing=before)
        except PonderError as exc:
            self.status.setText(str(exc))
            return
        self.accept()


class EndpointsTab(QWidget):
    """The saved remote engines: add, edit, remove, test, and use one for chat."""

    use_requested = Signal(object)  # Endpoint
    tested = Signal(bool, str)  # whether it answered, what to show

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.endpoints: list[Endpoint] = []
        self.in_use: str | None = None  # the endpoint the chat uses
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("endpointsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.add_button = QPushButton("Add…", self)
        self.edit_button = QPushButton("Edit…", self)
        self.remove_button = QPushButton("Remove", self)
        self.test_button = QPushButton("Test connection", self)
        self.use_button = QPushButton("Use for chat", self)
        self.result = QLabel("", self)
        self.result.setObjectName("endpointTestResult")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.PlainText)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        note = QLabel(
            "OpenAI-compatible servers (llama-server, vLLM, Ollama, another Ponder). Prompts "
            "sent to an engine on another computer leave this one.",
            self,
        )
        note.setObjectName("settingsNote")
        note.setWordWrap(True)
        self.in_use_label = QLabel("", self)
        self.in_use_label.setObjectName("endpointInUse")
        self.in_use_label.setTextFormat(Qt.TextFormat.PlainText)
        buttons = QHBoxLayout()
        for button in (
            self.add_button,
            self.edit_button,
            self.remove_button,
            self.test_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.in_use_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.result)
        self.tester = Background(self)
        self.tester.done.connect(self._on_tested)
        self.editor: EndpointEditor | None = None
        self.add_button.clicked.connect(lambda: self.edit(None))
        self.edit_button.clicked.connect(lambda: self.edit(self.selected()))
        self.remove_button.clicked.connect(self.remove)
        self.test_button.clicked.connect(self.test)
        self.use_button.clicked.connect(self._use)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.refresh()

    def refresh(self, select: str | None = None) -> None:
        """Read the saved list again (Settings and the model manager both show it)."""
        if select is None and (current := self.selected()) is not None:
            select = current.name
        self.endpoints = load_endpoints()
        chosen = chosen_endpoint()
        self.in_use = chosen.name if chosen is not None else None
        self.in_use_label.setText(
            f"The chat uses {self.in_use} (in bold below)."
            if self.in_use
            else "The chat uses the local model."
        )
        self.table.clearSelection()
        self.table.setRowCount(len(self.endpoints))
        for row, endpoint in enumerate(self.endpoints):
            where = LEAVES if endpoint.leaves_this_computer else STAYS
            cells = (endpoint.name, endpoint.base_url, endpoint.model or "(first offered)", where)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if endpoint.name == self.in_use:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                    item.setToolTip(f"{text} — the chat uses this engine")
                self.table.setItem(row, column, item)
            if endpoint.name == select:
                self.table.selectRow(row)
        self._update_buttons()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def select(self, name: str) -> None:
        names = [e.name for e in self.endpoints]
        if name in names:
            self.table.selectRow(names.index(name))

    def selected(self) -> Endpoint | None:
        rows = self.table.selectionModel().selectedRows()
        return self.endpoints[rows[0].row()] if rows else None

    def _update_buttons(self) -> None:
        selected = self.selected()
        for button in (self.edit_button, self.remove_button, self.test_button, self.use_button):
            button.setEnabled(selected is not None)
        in_use = selected is not None and selected.name == self.in_use
        self.use_button.setText("In use for chat" if in_use else "Use for chat")
        self.use_button.setEnabled(selected is not None and not in_use)

    def edit(self, endpoint: Endpoint | None) -> EndpointEditor:
        """Open the editor (non-blocking); a save refreshes the list."""
        self.editor = EndpointEditor(endpoint, self)
        self.editor.accepted.connect(
            lambda: self.refresh(
                self.editor.saved.name if self.editor and self.editor.saved else None
            )
        )
        self.editor.open()
        return self.editor

    def remove(self) -> None:
        endpoint = self.selected()
        if endpoint is not None:
            remove_endpoint(endpoint.name)
            self.result.setText("")
            self.refresh()

    def test(self) -> None:
        """Ask the selected endpoint for its models, off the GUI thread."""
        endpoint = self.selected()
        if endpoint is None:
            return
        self.test_button.setEnabled(False)
        self.result.setText(f"Testing {endpoint.name}…")

        def call() -> list[str]:
            with RemoteEngine.from_endpoint(endpoint) as engine:
                return engine.list_models()

        self.tester.run(call)

    def _on_tested(self, models: list[str] | None, exc: BaseException | None) -> None:
        self._update_buttons()
        if exc is not None:
            text = _error_text(exc)
        else:
            shown = ", ".join((models or [])[:5]) or "none"
            text = f"Connected. It offers {_models_words(len(models or []))}: {shown}."
        self.result.setText(text)
        self.tested.emit(exc is None, text)

    def _use(self) -> None:
        endpoint = self.selected()
        if endpoint is not None:
            self.use_requested.emit(get_endpoint(endpoint.name) or endpoint)
            self.refresh(endpoint.name)


def _models_words(count: int) -> str:
    return f"{count} model{'' if count == 1 else 's'}"
