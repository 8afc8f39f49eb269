"""Looks at this machine off the GUI thread and shares what it found (tests pass a fixed one)."""

from __future__ import annotations

import threading
from dataclasses import replace

from PySide6.QtCore import QObject, Qt, Signal

from desktop.common.background import Tasks
from model_runtime.hardware.check import HardwareCheck, check_hardware
from model_runtime.hardware.detect import HardwareInfo, detect_ram


class HardwareProbe(QObject):
    """The machine as detected (llama.cpp asked in a child process); `detected` on each result."""

    detected = Signal(object)  # HardwareInfo
    _done = Signal(object)  # HardwareCheck, from a worker thread

    def __init__(self, hardware: HardwareInfo | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.fixed = hardware is not None
        self.info: HardwareInfo | None = hardware
        self.problem = ""  # why the llama.cpp build is unknown, when it is
        self._lock = threading.Lock()
        self._tasks = Tasks(self)
        self._done.connect(self._finish, Qt.ConnectionType.QueuedConnection)

    def get(self) -> HardwareInfo:
        """The machine, detected first if need be, its free memory read afresh (blocks: call it
        on a worker thread). Each plan so sees the memory free now, not at the first look."""
        with self._lock:
            if self.info is None:
                check = check_hardware()
                self.info, self.problem = check.hardware, check.problem
                self._done.emit(check)
            elif not self.fixed:
                total, available = detect_ram()
                self.info = replace(self.info, ram_total=total, ram_available=available)
            return self.info

    def request(self) -> None:
        """Detect again in the background (free memory changes); `detected` follows."""
        if self.fixed and self.info is not None:
            self.detected.emit(self.info)
            return
        if self._tasks.busy:
            return
        self._tasks.start(lambda _task: self._check(), on_result=self._finish)

    def _check(self) -> HardwareCheck:
        check = check_hardware()
        with self._lock:
            self.info, self.problem = check.hardware, check.problem
        return check

    def _finish(self, check: HardwareCheck) -> None:
        self.detected.emit(check.hardware)
