"""The main window: composes the sidebar, the chat, the composer, the banner and the status bar.

It holds no chat or engine logic: the chat controller runs the conversation, the load
controller plans and loads, the engine choice picks local or remote, the serve controller
serves. The window wires them together, declares its actions in actions.py, and decides in
one place (send_blocker) whether the composer may send.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.chat.composer import Composer
from desktop.chat.conversation_settings import ConversationSettings
from desktop.chat.formulas import stop_renderer
from desktop.chat.messages import AssistantMessage
from desktop.chat.model_picker import ModelPicker
from desktop.chat.sidebar import Sidebar
from desktop.chat.view import ChatView
from desktop.chat.voting import VotingChatController
from desktop.common.error_messages import describe, save_failure
from desktop.common.screen_fit import within_screen
from desktop.common.theme import theme_manager
from desktop.common.undo_bar import UndoBar
from desktop.engines.bridge import EngineBridge
from desktop.engines.hardware_probe import HardwareProbe
from desktop.engines.load_controller import LoadController
from desktop.engines.load_panel import LoadPanel, plan_status
from desktop.engines.serve_controller import ServeController
from desktop.models.download_bridge import DownloadBridge
from desktop.models.manager import ModelManagerDialog
from desktop.settings.dialog import SettingsDialog
from desktop.window.actions import build_actions, shortcut_rows
from desktop.window.banner import NoticeBanner
from desktop.window.closing import may_close
from desktop.window.empty_state import blocked_words, ready_words, remote_words
from desktop.window.engine_choice import EngineChoice
from desktop.window.file_room import FileRoom
from desktop.window.shortcuts_dialog import ShortcutsDialog
from desktop.window.status_bar import StatusBar
from desktop.window.view_menu import ViewMenu
from desktop.window.welcome_panel import WelcomePanel
from model_runtime.chat.generation import GenerationStats, LoadRequest, ModelSummary, chat_cache_tag
from model_runtime.conversations.store import ConversationStore, default_store
from model_runtime.errors import ConversationStoreError, EngineCrashed, StorageError
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.models.references import add_recent_model
from model_runtime.models.starter import starter_model_path
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
        self.resize(within_screen(QSize(1180, 780), self))
        self.bridge = bridge
        self.store = store if store is not None else default_store()
        self.starter_path = starter_model_path()
        self._loading = False
        self._crashed = False
        self._build_layout()
        self.controller = VotingChatController(bridge, self.chat_view, self.store, self)
        self.controller.blocker = self.send_blocker  # Regenerate, Edit, Continue ask it too
        self.downloads = DownloadBridge(parent=self)  # lives as long as the window; quits with it
        self.downloads.start()
        self.model_manager: ModelManagerDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.hardware = HardwareProbe(hardware, self)
        self.load_panel = LoadPanel(self)
        self.loader = LoadController(bridge, self.load_panel, self.hardware, self)
        self.engines = EngineChoice(self.controller, bridge, self.status.remote_label, self)
        self.theme = theme_manager()  # the View menu's theme and text size
        self.commands = build_actions(self)
        self.view_menu = ViewMenu(self.commands, self.theme, self)
        self.commands.starter.setEnabled(self.starter_path is not None)
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
        self.chat_undo = UndoBar(name="chatUndoBar")  # a deleted answer or question, a while
        self.picker = ModelPicker(self.bridge, self.store)  # the chat's header
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for widget in (self.banner, self.picker, self.pages, self.chat_undo, self.composer):
            layout.addWidget(widget, 1 if widget is self.pages else 0)
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
        self.view_menu.unsaved.connect(self.banner.show_error)
        self.welcome.open_requested.connect(self.choose_model_file)
        self.welcome.starter_requested.connect(self.load_starter)
        self.composer.send_requested.connect(self.send)
        self.composer.votes_requested.connect(self.send)
        self.composer.stop_requested.connect(self.controller.stop)
        self.composer.answer_now_requested.connect(self.controller.answer_now)
        self.controller.thinking_changed.connect(self._on_thinking)
        self.controller.busy_changed.connect(self._on_busy)
        self.controller.progress.connect(self.status.show_progress)
        self.controller.refused.connect(lambda why: self.banner.show_error("No answer now", why))
        self.chat_undo.follow(self.controller.deletion, self.controller.undo_delete)
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
        picker_routes = (self.engines.use_remote, self.choose_model_file, self.show_model_manager)
        self.picker.route(self.load_model, *picker_routes)  # loads go the way File → Open does

    # -- may the composer send? -------------------------------------------------------------

    def send_blocker(self) -> str | None:
        """Why a question can't be sent now, in words that say what to do, or None if it can."""
        if self.engines.remote is not None or (self.bridge.summary and not self._loading):
            return None
        return blocked_words(
            loading=self._loading, crashed=self._crashed, starter=self.starter_path is not None
        )

    def _refresh_send(self) -> None:
        """The composer and the empty page say the same: what to do next."""
        blocker = self.send_blocker()
        self.composer.set_can_send(blocker is None, blocker or "")
        remote, summary = self.engines.remote, self.bridge.summary
        if remote is not None:
            self.chat_view.set_hint(remote_words(remote.name, remote.leaves_this_computer))
        elif blocker is not None:
            self.chat_view.set_hint(blocker)
            if not self.chat_view.messages and not self._crashed:
                self.pages.setCurrentWidget(self.welcome)  # its buttons are what to do
        elif summary is not None:
            starter = self.starter_path is not None and summary.path == str(self.starter_path)
            self.chat_view.set_hint(ready_words(self.bridge.model_name, starter=starter))
        self.composer.set_votes(self.controller.max_votes)  # Think harder, where it fits

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

    def send(self, text: str, files: list | None = None, votes: int = 1) -> None:
        self.pages.setCurrentWidget(self.chat_view)
        if votes > 1:
            self.controller.think_harder(text, files or [], votes)
            return
        self.controller.send(text, files or [])
        if self.engines.remote is None and self.serving.busy:
            self.status.show_generating("(after a request from another program)")

    def new_chat(self) -> None:
        self.controller.new_chat()
        self.sidebar.set_current(None)
        self.picker.show_chat(None)
        if self.bridge.summary is not None or self.engines.remote is not None:
            self.pages.setCurrentWidget(self.chat_view)
        self._refresh_send()  # nothing to send to: the welcome's buttons say what to do
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
        self.picker.show_chat(conversation_id)  # its model, with "Switch to …" if not this one
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
        dialog = SettingsDialog(self.hardware, self, self.bridge)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.endpoints_tab.use_requested.connect(self.engines.use_remote)
        dialog.serve_tab.changed.connect(self.serving.restart)
        dialog.privacy_tab.offline_changed.connect(self._offline_changed)
        dialog.destroyed.connect(lambda: setattr(self, "settings_dialog", None))
        self.settings_dialog = dialog
        dialog.show()
        return dialog

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

    def copy_last_answer(self) -> None:
        answers = [m for m in self.chat_view.messages if isinstance(m, AssistantMessage)]
        if answers:  # the answer alone: Shift is down for this shortcut, not for "with reasoning"
            QGuiApplication.clipboard().setText(answers[-1].copy_text())

    def show_shortcuts(self) -> ShortcutsDialog:
        """F1: every key, from the actions themselves."""
        dialog = ShortcutsDialog(shortcut_rows(self.commands), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_error_reports(self) -> None:
        """Help → Error reports: crashes, and errors Ponder kept running after."""
        from desktop.dialogs.crash_reporter import show_all_reports

        show_all_reports(self)

    def show_survived_error(self, summary: str) -> None:
        """An unexpected error in a slot: Ponder went on; say so, and where the report is."""
        self.banner.show_error(
            "Something went wrong inside Ponder",
            f"{summary}. Ponder kept running; Help → Error reports has the report.",
        )

    def toggle_last_reasoning(self) -> None:
        """Open or close the reasoning of the last answer that has one; focus its header."""
        for message in reversed(self.chat_view.messages):
            if isinstance(message, AssistantMessage) and message.thinking is not None:
                pane = message.thinking
                pane.set_expanded(not pane.expanded)
                pane.header.setFocus()
                self.chat_view.ensureWidgetVisible(pane.header)
                return

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
        self.picker.set_remote(remote.name if remote is not None else None)
        self.commands.use_local.setEnabled(remote is not None)
        self._on_thinking(False)
        self.status.set_remote(remote is not None)
        if self.bridge.summary is None:  # nothing local; with a remote engine, say so
            self.status.show_model("No local model loaded" if remote else "No model loaded")
        if remote is not None:
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
        self.picker.show_chat(self.controller.conversation_id)

    def _on_conversation_deleted(self, conversation_id: int) -> None:
        self.bridge.forget_states(chat_cache_tag(conversation_id))  # its saved model state
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
        self._show_model(summary)
        if summary.speculation_note:  # a draft model asked for is not drafting: say why
            self.banner.show_error("Loaded without the draft model", summary.speculation_note)
        self.status.show_context(0, None)  # this model's context is empty until it answers
        self.pages.setCurrentWidget(self.chat_view)
        self._refresh_send()
        self.composer.edit.setFocus()

    def _show_model(self, summary: ModelSummary | None) -> None:
        """The status bar's words for the loaded model (its name is never cut)."""
        if summary is None:
            self.status.show_model("No model loaded")
            return
        name = self.bridge.model_name
        self.status.show_model(
            f"{name} · {summary.quantization}",
            name,
            f"{summary.path}\ncontext {summary.n_ctx:,} tokens · {summary.n_threads} threads",
        )

    def _on_load_failed(self, exc: BaseException) -> None:
        self.welcome.set_loading(False)
        self._loading = False
        loaded = self.bridge.summary
        self._show_model(loaded)
        self.serving.model_changed(loaded is not None)
        self._refresh_send()
        if not isinstance(exc, EngineCrashed):  # a crash has its own banner
            self.banner.show_error(*describe(exc))

    def _on_refused(self, _plan: LoadPlan, exc: BaseException) -> None:
        """A plan that does not fit: nothing was loaded; the load panel says what would fit."""
        self._on_load_failed(exc)

    def _on_plan_in_use(self, plan: LoadPlan, how: str) -> None:
        loaded = self.bridge.summary  # this plan's model: did its draft model load too?
        text = plan_status(plan, how, draft_loaded=not (loaded and loaded.speculation_note))
        self.status.show_plan(text, plan.verdict.reason)

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
        self.commands.stop.setEnabled(busy)  # only while something is generating
        if busy:
            self.status.show_generating()
        else:
            self._on_thinking(False)
            self.status.show_speed(None)  # a finished answer sets its speed next

    def _on_thinking(self, thinking: bool) -> None:
        """Answer now: only while the model thinks, and only where the engine can end it."""
        can = thinking and self.controller.busy and self.controller.bridge.can_answer_now
        self.commands.answer_now.setEnabled(can)
        self.composer.set_thinking(can)

    def _on_answer_finished(self, stats: GenerationStats) -> None:
        self.status.show_speed(stats)

    def _on_save_failed(self, exc: StorageError, action: str) -> None:
        """A write failed: say what is kept and what to do; Retry while answers wait."""
        unsaved = bool(self.controller.saving.unsaved)
        self.banner.show_save_failure(save_failure(exc, action), offer_retry=unsaved)

    def may_close(self) -> bool:
        """Answers kept in memory are saved first; if they can't be, the user decides."""
        return may_close(self.controller, self)

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
