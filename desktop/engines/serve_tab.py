"""Settings → Serving: where "Serve the loaded model" listens, and its API key.

Changes are saved at once; a running server starts again with them. The key lives in the
keyring; it is shown only on request, to copy into the programs that call Ponder. Without a key
store the key lives in memory while Ponder runs, and serving other computers asks first.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from model_runtime.credentials import NO_KEY_STORE, key_store_available
from model_runtime.errors import PonderError
from model_runtime.serving.settings import (
    PORTS_TRIED,
    ServeSettings,
    key_required,
    load_serve_settings,
    new_serve_api_key,
    save_serve_settings,
    serve_api_key,
    serve_key_in_memory,
)

NOTE = (
    "File → Serve the loaded model offers the model through an OpenAI-compatible API "
    "(/v1/chat/completions, /v1/models), so that other programs can use it. It answers one "
    "request at a time, taking turns with this window's chat."
)
MEMORY_KEY = (
    "The API key is kept in memory only while Ponder runs: it is never written to a file, "
    "and a new one is made each time Ponder starts."
)
CONFIRM_NETWORK = (
    "Other computers will need an API key, and Ponder can keep it only in memory while it "
    "runs: it is never written to a file, and programs on other computers need the new key "
    "each time Ponder starts.\n\nServe the model to other computers with such a key?"
)
ALWAYS_KEY = "Without a secure key store, other computers always need the API key."
NETWORK_WARNING = (
    "⚠ Other computers on the network can send prompts to this model and read its answers. "
    "Require an API key unless you trust everyone on the network."
)


def confirm_memory_key(parent: QWidget | None) -> bool:
    """Ask before serving other computers with a key that lives only while Ponder runs."""
    answer = QMessageBox.question(
        parent,
        "Serve to other computers?",
        f"{NO_KEY_STORE}\n\n{CONFIRM_NETWORK}",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Yes


class ServeTab(QWidget):
    """The serve settings as a form; `changed` fires after each saved change."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        settings = load_serve_settings()
        self.key_store = key_store_available()
        note = QLabel(NOTE, self)
        note.setObjectName("settingsNote")
        note.setWordWrap(True)
        self.local = QRadioButton("This computer only (127.0.0.1)", self)
        self.network = QRadioButton("This computer and others on the network", self)
        (self.network if settings.network else self.local).setChecked(True)
        self.warning = QLabel(NETWORK_WARNING, self)
        self.warning.setObjectName("serveWarning")
        self.warning.setWordWrap(True)
        self.warning.setProperty("warning", True)
        self.port = QSpinBox(self)
        self.port.setRange(1024, 65535)
        self.port.setValue(settings.port)
        self.port.setToolTip(f"If it is taken, the next {PORTS_TRIED - 1} ports are tried")
        self.require_key = QCheckBox("Require an API key (Authorization: Bearer KEY)", self)
        self.require_key.setChecked(key_required(settings, self.key_store))
        self.store_note = QLabel(f"⚠ {NO_KEY_STORE} {MEMORY_KEY}", self)
        self.store_note.setObjectName("settingsNote")
        self.store_note.setWordWrap(True)
        self.store_note.setVisible(not self.key_store)
        self.key = QLineEdit(self)
        self.key.setObjectName("serveKey")
        self.key.setReadOnly(True)
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_key = QPushButton("Show", self)
        self.show_key.setCheckable(True)
        self.copy_key = QPushButton("Copy", self)
        self.new_key = QPushButton("New key", self)
        self.new_key.setToolTip("Make a new key; programs using the old one are refused")
        self.status = QLabel("", self)
        self.status.setObjectName("serveStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)

        where = QVBoxLayout()
        where.addWidget(self.local)
        where.addWidget(self.network)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key, 1)
        for button in (self.show_key, self.copy_key, self.new_key):
            key_row.addWidget(button)
        form = QFormLayout()
        form.addRow("Listen for", where)
        form.addRow("", self.warning)
        form.addRow("Port", self.port)
        form.addRow("", self.require_key)
        form.addRow("API key", key_row)
        form.addRow("", self.store_note)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.network.toggled.connect(self._on_network)
        self.port.editingFinished.connect(self.save)
        self.require_key.toggled.connect(self.save)
        self.show_key.toggled.connect(self._on_show)
        self.copy_key.clicked.connect(self._copy)
        self.new_key.clicked.connect(self._new_key)
        self._update()

    def settings(self) -> ServeSettings:
        return ServeSettings(
            port=self.port.value(),
            network=self.network.isChecked(),
            require_key=self.require_key.isChecked(),
        )

    def _on_network(self, on: bool) -> None:
        if on and not self.key_store and not confirm_memory_key(self):
            self.local.setChecked(True)  # declined: this computer only, as before
            return
        if on and not self.require_key.isChecked():
            self.require_key.setChecked(True)  # saves; a key for other computers by default
        else:
            self.save()

    def save(self) -> None:
        """Save what the form says (a key is made when one is first required)."""
        settings = self.settings()
        if settings == load_serve_settings():
            self._update()
            return
        try:
            save_serve_settings(settings)
        except PonderError as exc:  # the key store refused the key: the rest is still saved
            self.require_key.blockSignals(True)
            self.require_key.setChecked(False)
            self.require_key.blockSignals(False)
            settings = self.settings()
            if settings != load_serve_settings():
                save_serve_settings(settings)
                self.changed.emit()
            self.status.setText(f"{exc} No key can be required.")
            self._update()
            return
        kept = " The API key is kept until Ponder quits." if serve_key_in_memory() else ""
        self.status.setText(f"Saved. A running server uses it now.{kept}")
        self._update()
        self.changed.emit()

    def _update(self) -> None:
        key = serve_api_key()
        self.key.setText(key or "")
        self.key.setPlaceholderText("" if key else "None yet: one is made when required")
        self.warning.setVisible(self.network.isChecked())
        forced = self.network.isChecked() and not self.key_store
        self.require_key.setEnabled(not forced)
        self.require_key.setToolTip(ALWAYS_KEY if forced else "")
        required = self.require_key.isChecked()
        for widget in (self.key, self.show_key, self.copy_key):
            widget.setEnabled(required and key is not None)
        self.new_key.setEnabled(required)

    def _on_show(self, shown: bool) -> None:
        self.key.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.show_key.setText("Hide" if shown else "Show")

    def _copy(self) -> None:
        key = serve_api_key()
        if key:
            QGuiApplication.clipboard().setText(key)
            self.status.setText("The API key is on the clipboard.")

    def _new_key(self) -> None:
        try:
            new_serve_api_key()
        except PonderError as exc:
            self.status.setText(str(exc))
            return
        where = "kept until Ponder quits" if serve_key_in_memory() else "saved"
        self.status.setText(f"A new key is {where}; programs using the old one are refused.")
        self._update()
        self.changed.emit()
