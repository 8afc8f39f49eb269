"""Settings → Hardware: the llama.cpp RPC workers whose memory the local engine may use."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from model_runtime.errors import PonderError
from model_runtime.llama import rpc

NOTE = (
    "Other computers running `python -m model_runtime rpc-worker --host 0.0.0.0` can lend their "
    "memory: the planner counts it, and layers go there as to a GPU. The connection is neither "
    "authenticated nor encrypted: use workers on a network you trust only."
)


class RpcWorkersRow(QWidget):
    """A line of host:port entries with Save; `saved` fires after the list changed."""

    saved = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = QLineEdit(", ".join(rpc.load_workers()), self)
        self.field.setObjectName("rpcWorkers")
        self.field.setPlaceholderText("None: e.g. 10.0.0.5:50052, 10.0.0.6:50052")
        self.field.returnPressed.connect(self.save)
        self.save_button = QPushButton("Save", self)
        self.save_button.clicked.connect(self.save)
        self.status = QLabel("", self)
        self.status.setObjectName("rpcStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        note = QLabel(NOTE, self)
        note.setObjectName("settingsNote")
        note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("llama.cpp RPC workers", self))
        row.addWidget(self.field, 1)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(note)
        layout.addWidget(self.status)

    def save(self) -> None:
        """Save the list (a bad address is said and changes nothing), then look again."""
        try:
            workers = rpc.parse_endpoints(self.field.text())
        except PonderError as exc:
            self.status.setText(str(exc))
            return
        if workers == rpc.load_workers():
            self.status.setText("")
            return
        rpc.save_workers(workers)
        self.field.setText(", ".join(workers))
        self.status.setText(
            "Saved: connecting to the workers…" if workers else "Saved: no RPC workers."
        )
        self.saved.emit()
