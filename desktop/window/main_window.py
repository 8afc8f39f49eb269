"""The main window: composes the sidebar, the chat, the composer, the banner and the status bar.

It holds no chat or engine logic: the chat controller runs the conversation, the load
controller plans and loads, the engine choice picks local or remote, the serve controller
serves. The window wires them together, declares its actions in actions.py, and decides in
one place (send_blocker) whether the composer may send.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.chat.composer import Composer
from desktop.chat.controller import ChatController
from desktop.chat.conversation_settings import ConversationSettings
from desktop.chat.formulas import shared_formulas, stop_renderer
from desktop.chat.messages import AssistantMessage
from desktop.chat.sidebar import Sidebar
from desktop.chat.view import ChatView
from desktop.common.error_messages import describe, save_failure, unsaved_on_close
from desktop.engines.bridge import EngineBridge
from desktop.engines.hardware_probe import HardwareProbe
from desktop.engines.load_controller import LoadController
from desktop.engines.load_panel import LoadPanel, plan_status
from desktop.engines.serve_controller import ServeController
from desktop.models.download_bridge import DownloadBridge
from desktop.models.manager import ModelManagerDialog
from desktop.settings.dialog import SettingsDialog
from desktop.settings.view import ViewSettings, load_view_settings, save_view_settings
from desktop.window.actions import build_actions, shortcut_rows
from desktop.window.banner import NoticeBanner
from desktop.window.engine_choice import EngineChoice
from desktop.window.file_room import FileRoom
from desktop.window.status_bar import StatusBar
from desktop.window.welcome_panel import WelcomePanel
from model_runtime.chat.generation import GenerationStats, LoadRequest, ModelSummary
from model_runtime.conversations.store import ConversationStore, default_store
from model_runtime.errors import ConversationStoreError, EngineCrashed, StorageError
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.models.references import add_recent_model
from model_runtime.models.starter import STARTER_NAME, STARTER_NOTE, starter_model_path
from model_runtime.planning.guarded_load import PlannedLoad
from model_runtime.planning.plan import LoadPlan


class MainWindow(QMainWindow):
    """Wires the parts together; holds no chat or engine logic of its own."""

    def __init__(
        self,
        bridge: EngineBridge,
        store: ConversationStore | None = None,
        parent: QWidget | None = None,
        *,
        hardware: HardwareInfo | None = None,
    ) -> None:
        """hardware: a machine to plan for instead of this one (tests simulate small ones)."""
        super().__init__(parent)
        self.setWindowTitle("Ponder")
        self.resize(1180, 780)
        self.bridge = bridge
        self.store = store if store is not None else default_store()
        self.starter_path = starter_model_path()
        self._loading = False
        self._crashed = False
        self._build_layout()
        self.controller = ChatController(bridge, self.chat_view, self.store, self)
        self.downloads = DownloadBridge(parent=self)  # lives as long as the window; quits with it
        self.downloads.start()
        self.model_manager: ModelManagerDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.hardware = HardwareProbe(hardware, self)
        self.load_panel = LoadPanel(self)
        self.loader = LoadController(bridge, self.load_panel, self.hardware, self)
        self.engines = EngineChoice(self.controller, bridge, self.status.remote_label, self)
        self.commands = build_actions(self)
        self.commands.starter.setEnabled(self.starter_path is not None)
        self.commands.math.setChecked(load_view_settings().math)
        shared_formulas().set_enabled(self.commands.math.isChecked())
        self.serving = ServeController(bridge, self.commands.serve, self.status.serve_label, self)
        self._connect()
        self.file_room = FileRoom(self)  # files dropped, counted and fitted to the context
        self._refresh_send()
        self.engines.restore()  # the remote engine chosen before the last quit, if any

    def _build_layout(self) -> None:
        self.sidebar = Sidebar(self.store)
        self.chat_view = ChatView()
        self.welcome = WelcomePanel(self.starter_path is not None)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.chat_view)
        self.composer = Composer()
        self.banner = NoticeBanner()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.composer)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("mainSplitter")
        splitter.addWidget(self.sidebar)
        splitter.addWidget(central)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 920])
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)

    def _connect(self) -> None:
        self.engines.changed.connect(self._on_engine_changed)
        self.serving.failed.connect(self.banner.show_error)
        self.welcome.open_requested.connect(self.choose_model_file)
        self.welcome.starter_requested.connect(self.load_starter)
        self.composer.send_requested.connect(self.send)
        self.composer.stop_requested.connect(self.controller.stop)
        self.composer.answer_now_requested.connect(self.controller.answer_now)
        self.controller.thinking_changed.connect(self.composer.set_thinking)
        self.controller.busy_changed.connect(self._on_busy)
        self.controller.answer_finished.connect(self._on_answer_finished)
        self.controller.conversations_changed.connect(self._on_conversations_changed)
        self.controller.question_returned.connect(self.composer.edit.setPlainText)
        self.controller.context_used.connect(self._on_context_used)
        self.controller.saving.failed.connect(self._on_save_failed)
        self.controller.saving.settled.connect(self.banner.clear_save_failure)
        self.sidebar.save_failed.connect(self._on_save_failed)
        self.banner.retry_button.clicked.connect(self.controller.retry_saves)
        self.bridge.loading.connect(self._on_loading)
        self.bridge.loaded.connect(self._on_loaded)
        self.bridge.load_failed.connect(self._on_load_failed)
        self.bridge.crashed.connect(self._on_crashed)
        self.loader.planning.connect(self._on_loading)
        self.loader.refused.connect(self._on_refused)
        self.loader.plan_in_use.connect(self._on_plan_in_use)
        self.loader.adjusted.connect(self._on_adjusted)
        self.status.details_button.clicked.connect(self.loader.show_details)
        self.banner.reload_button.clicked.connect(self.reload_model)
        self.sidebar.conversation_selected.connect(self.open_conversation)
        self.sidebar.search_hit_selected.connect(self.open_conversation)
        self.sidebar.conversation_deleted.connect(self._on_conversation_deleted)
        self.sidebar.new_chat_requested.connect(self.new_chat)

    # -- may the composer send? -------------------------------------------------------------

    def send_blocker(self) -> str | None:
        """Why a question can't be sent now (words for the Send button), or None if it can."""
        if self.engines.remote is not None:
            return None
        if self._loading:
            return "The model is loading"
        if self.bridge.summary is not None:
            return None
        return "Reload the model first" if self._crashed else "Load a model first"

    def _refresh_send(self) -> None:
        blocker = self.send_blocker()
        self.composer.set_can_send(blocker is None, blocker or "")

    # -- actions ---------------------------------------------------------------------------

    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a GGUF model", "", "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            add_recent_model(path)  # the model manager lists it under "On this computer"
            self.load_model(path)

    def show_model_manager(self) -> None:
        """The model manager (download, import, verify); its Load loads the chosen model here."""
        if self.model_manager is None:
            self.model_manager = ModelManagerDialog(
                self.downloads, self, hardware=self.hardware.info
            )
            self.model_manager.load_requested.connect(self.load_model)
            self.model_manager.remote_requested.connect(self.engines.use_remote)
        self.model_manager.show()
        self.model_manager.raise_()
        self.model_manager.activateWindow()

    def load_starter(self) -> None:
        if self.starter_path is not None:
            self.load_model(str(self.starter_path))

    def load_model(self, path: str) -> None:
        """Plan the load for this machine; a plan that fits loads at once, one that doesn't asks."""
        if self.controller.busy:
            self.controller.stop()
        self.loader.load(LoadRequest(model_path=path))

    def reload_model(self) -> None:
        self.banner.hide()
        self.loader.reload()

    def send(self, text: str, files: list | None = None) -> None:
        self.pages.setCurrentWidget(self.chat_view)
        self.controller.send(text, files or [])
        if self.engines.remote is None and self.serving.busy:
            self.status.show_generating("(after a request from another program)")

    def new_chat(self) -> None:
        self.controller.new_chat()
        self.sidebar.set_current(None)
        if self.bridge.summary is not None or self.engines.remote is not None:
            self.pages.setCurrentWidget(self.chat_view)
        self.composer.edit.setFocus()

    def open_conversation(self, conversation_id: int, message_id: int | None = None) -> None:
        """Show a stored conversation; a search hit on another branch switches to that branch."""
        if message_id is not None:
            visible = {m.id for m in self.store.visible_messages(conversation_id)}
            if message_id not in visible:
                try:
                    self.store.switch_branch(message_id)
                except StorageError as exc:  # then it opens on the branch it was on
                    self._on_save_failed(exc, "branch")
        self.controller.open(conversation_id)
        self.sidebar.set_current(conversation_id)
        self.pages.setCurrentWidget(self.chat_view)

    def import_chat(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Import a chat", "", "Ponder chat (*.json)")
            if not path:
                return
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            conversation = self.store.import_json(data)
        except (OSError, ValueError, ConversationStoreError) as exc:
            self.banner.show_error("This chat can't be imported", str(exc))
            return
        self.sidebar.refresh()
        self.open_conversation(conversation.id)

    def show_settings(self) -> SettingsDialog:
        """Settings: hardware, offline mode and the network log, remote engines, serving."""
        dialog = SettingsDialog(self.hardware, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.endpoints_tab.use_requested.connect(self.engines.use_remote)
        dialog.serve_tab.changed.connect(self.serving.restart)
        dialog.privacy_tab.offline_changed.connect(self._offline_changed)
        dialog.destroyed.connect(self._forget_settings)
        self.settings_dialog = dialog
        dialog.show()
        return dialog

    def _forget_settings(self) -> None:
        self.settings_dialog = None

    def _offline_changed(self) -> None:
        if self.model_manager is not None:  # its errors and buttons follow at once
            self.model_manager.check_offline()

    def show_remote_engines(self) -> None:
        """Settings on the Remote engines tab, whose "Use for chat" switches the chat over."""
        dialog = self.show_settings()
        dialog.tabs.setCurrentWidget(dialog.endpoints_tab)

    def edit_conversation_settings(self) -> None:
        dialog = ConversationSettings(self.controller.system_prompt, self.controller.params, self)
        if dialog.exec():
            self.controller.apply_settings(dialog.result_system_prompt(), dialog.result_params())
            self.file_room.refresh()  # the answer's length limit keeps its room

    def toggle_math(self) -> None:
        """View → Render math: every answer and reasoning shown follows, and it is saved."""
        shared_formulas().set_enabled(self.commands.math.isChecked())
        save_view_settings(ViewSettings(math=self.commands.math.isChecked()))

    def copy_last_answer(self) -> None:
        answers = [m for m in self.chat_view.messages if isinstance(m, AssistantMessage)]
        if answers:  # the answer alone: Shift is down for this shortcut, not for "with reasoning"
            QGuiApplication.clipboard().setText(answers[-1].copy_text())

    def show_shortcuts(self) -> None:
        rows = "".join(
            f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>"
            for keys, what in shortcut_rows(self.commands)
        )
        QMessageBox.information(self, "Keyboard shortcuts", f"<table cellpadding=4>{rows}</table>")

    def show_about(self) -> None:
        """Version, the llama.cpp backends of this build, licences of components and models."""
        from desktop.dialogs.about import AboutDialog

        AboutDialog(self.hardware, self).exec()

    def show_welcome(self) -> None:
        """The first-run welcome (Help → Welcome): this computer, a model for it, the starter."""
        from desktop.dialogs.welcome import FirstRunDialog

        dialog = FirstRunDialog(
            self.hardware, starter_available=self.starter_path is not None, parent=self
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.starter_requested.connect(self.load_starter)
        dialog.open()

    # -- what the parts report --------------------------------------------------------------

    def _on_engine_changed(self) -> None:
        """The chat now talks to a remote engine, or to the local model again."""
        remote = self.engines.remote
        self.commands.use_local.setEnabled(remote is not None)
        self.commands.answer_now.setEnabled(self.controller.bridge.can_answer_now)
        self.status.show_context(0, None)
        if self.bridge.summary is None:  # nothing local; with a remote engine, say so
            self.status.show_model("No local model loaded" if remote else "No model loaded")
        if remote is not None:
            self.chat_view.set_hint(
                f"Answers come from the remote engine {remote.name}"
                + (", on another computer." if remote.leaves_this_computer else ".")
                + "\n\nFile → Use the local model switches back."
            )
            self.pages.setCurrentWidget(self.chat_view)
        self._refresh_send()

    def _on_context_used(self, tokens: int) -> None:
        """The context meter: how full the model's context is after the last answer."""
        summary = self.bridge.summary
        local = summary is not None and self.engines.remote is None  # a remote n_ctx is unknown
        self.status.show_context(tokens, summary.n_ctx if local and summary else None)

    def _on_conversations_changed(self) -> None:
        self.sidebar.current_id = self.controller.conversation_id
        self.sidebar.refresh()

    def _on_conversation_deleted(self, conversation_id: int) -> None:
        if conversation_id == self.controller.conversation_id:
            self.new_chat()

    def _on_loading(self, path: str) -> None:
        self.serving.model_changed(False)  # the served model is going away
        self.banner.hide()
        self.status.show_loading(path)
        self.welcome.set_loading(True)
        self._loading = True
        self._refresh_send()

    def _on_loaded(self, summary: ModelSummary) -> None:
        self.engines.use_local()  # a model chosen now is the one to chat with
        self.serving.model_changed(True)
        self.commands.reload.setEnabled(False)
        self.welcome.set_loading(False)
        self._loading = self._crashed = False
        self.status.show_model(self._model_text(summary))
        self._refresh_send()
        self.composer.edit.setFocus()
        starter = self.starter_path is not None and summary.path == str(self.starter_path)
        self.chat_view.set_hint(
            f"{self._model_text(summary).split(' · ')[0]} is ready. Ask it anything.\n\n"
            + (STARTER_NOTE if starter else "Its reasoning streams into a pane above each answer.")
        )
        self.pages.setCurrentWidget(self.chat_view)

    def _model_text(self, summary: ModelSummary) -> str:
        """The status bar's words for a loaded model."""
        name = (
            STARTER_NAME
            if self.starter_path and summary.path == str(self.starter_path)
            else summary.name
        )
        return (
            f"{name} · {summary.quantization} · context {summary.n_ctx:,} · "
            f"{summary.n_threads} threads"
        )

    def _on_load_failed(self, exc: BaseException) -> None:
        self.welcome.set_loading(False)
        self._loading = False
        loaded = self.bridge.summary
        self.status.show_model(self._model_text(loaded) if loaded else "No model loaded")
        self.serving.model_changed(loaded is not None)
        self._refresh_send()
        if not isinstance(exc, EngineCrashed):  # a crash has its own banner
            self.banner.show_error(*describe(exc))

    def _on_refused(self, _plan: LoadPlan, exc: BaseException) -> None:
        """A plan that does not fit: nothing was loaded; the load panel says what would fit."""
        self._on_load_failed(exc)

    def _on_plan_in_use(self, plan: LoadPlan, how: str) -> None:
        self.status.show_plan(plan_status(plan, how), plan.verdict.reason)

    def _on_adjusted(self, done: PlannedLoad) -> None:
        self.banner.show_error(
            "Loaded with safer settings",
            f"The first try failed ({done.first_error}). Changed: {', '.join(done.changes)}.",
        )

    def _on_crashed(self, exc: BaseException) -> None:
        self.serving.model_changed(False)
        can_reload = self.bridge.last_request is not None
        self.banner.show_error(*describe(exc), offer_reload=can_reload)
        self.commands.reload.setEnabled(can_reload)
        self.status.show_model("No model loaded")
        self.status.clear_plan()
        self._crashed = True
        self._refresh_send()

    def _on_busy(self, busy: bool) -> None:
        self.composer.set_busy(busy)
        self.commands.open.setEnabled(not busy)
        if busy:
            self.status.show_generating()
        else:
            self.status.show_speed(None)  # a finished answer sets its speed next

    def _on_answer_finished(self, stats: GenerationStats) -> None:
        self.status.show_speed(stats)

    def _on_save_failed(self, exc: StorageError, action: str) -> None:
        """A write failed: say what is kept and what to do; Retry while answers wait."""
        unsaved = bool(self.controller.saving.unsaved)
        self.banner.show_save_failure(save_failure(exc, action), offer_retry=unsaved)

    def may_close(self) -> bool:
        """Answers kept in memory are saved first; if they can't be, the user decides."""
        while self.controller.saving.unsaved and not self.controller.retry_saves():
            saving = self.controller.saving
            box = QMessageBox(
                QMessageBox.Icon.Warning,
                "Ponder could not save",
                unsaved_on_close(len(saving.unsaved), saving.last_error),
                QMessageBox.StandardButton.Retry
                | QMessageBox.StandardButton.Discard
                | QMessageBox.StandardButton.Cancel,
                self,
            )
            box.setObjectName("unsavedOnClose")
            choice = box.exec()
            if choice == QMessageBox.StandardButton.Discard:
                return True
            if choice != QMessageBox.StandardButton.Retry:
                return False
        return True

    def closeEvent(self, event) -> None:
        self.controller.leave()
        if not self.may_close():
            event.ignore()
            return
        self.load_panel.hide()
        self.serving.stop()
        self.engines.shutdown()
        self.bridge.shutdown()
        self.downloads.close()
        stop_renderer()  # the math renderer process, like the engine's, ends with the window
        super().closeEvent(event)
