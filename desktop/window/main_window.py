"""The main window: composes the chat, the composer, the welcome panel and the status bar."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.chat.composer import Composer
from desktop.chat.controller import ChatController
from desktop.chat.conversation_settings import ConversationSettings
from desktop.chat.messages import AssistantMessage
from desktop.chat.sidebar import Sidebar
from desktop.chat.view import ChatView
from desktop.common.error_messages import describe
from desktop.engines.bridge import EngineBridge
from desktop.engines.hardware_probe import HardwareProbe
from desktop.engines.load_controller import LoadController
from desktop.engines.load_panel import LoadPanel, plan_status
from desktop.engines.serve_controller import ServeController
from desktop.models.download_bridge import DownloadBridge
from desktop.models.manager import ModelManagerDialog
from desktop.settings.dialog import SettingsDialog
from desktop.window.engine_choice import EngineChoice
from desktop.window.welcome_panel import WelcomePanel
from model_runtime.chat.generation import GenerationStats, LoadRequest, ModelSummary
from model_runtime.conversations.store import (
    ConversationStore,
    ConversationStoreError,
    default_store,
)
from model_runtime.errors import EngineCrashed
from model_runtime.hardware.detect import HardwareInfo
from model_runtime.models.starter import STARTER_NAME, STARTER_NOTE, starter_model_path
from model_runtime.planning.guarded_load import PlannedLoad
from model_runtime.planning.plan import LoadPlan

SHORTCUTS = (
    ("Enter", "Send"),
    ("Shift+Enter", "New line in the prompt"),
    ("Esc", "Stop the answer"),
    ("Ctrl+Enter", "Answer now: end the model's thinking"),
    ("Ctrl+N", "New chat"),
    ("Ctrl+F", "Search chats and reasoning"),
    ("Ctrl+L", "Focus the prompt"),
    ("Ctrl+Shift+C", "Copy the last answer (Shift+click Copy: with reasoning)"),
    ("Ctrl+O", "Open a model"),
    ("Ctrl+Shift+M", "Models: download, import, choose one"),
    ("Ctrl+,", "Conversation settings (system prompt, sampling)"),
    ("Ctrl+Alt+S", "Settings: hardware, privacy, remote engines, serving"),
    ("F1", "This list"),
)


class NoticeBanner(QFrame):
    """A non-blocking error strip above the chat; after an engine crash it offers a reload."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBanner")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reload_button = QPushButton("Reload model", self)
        self.close_button = QPushButton("Dismiss", self)
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.reload_button)
        layout.addWidget(self.close_button)
        self.hide()

    def show_error(self, title: str, text: str, *, offer_reload: bool = False) -> None:
        self.label.setText(f"{title}. {text}")
        self.reload_button.setVisible(offer_reload)
        self.show()


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

        self.model_label = QLabel("No model loaded")
        self.model_label.setObjectName("modelLabel")
        self.speed_label = QLabel("")
        self.context_label = QLabel("")
        self.context_label.setObjectName("contextMeter")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.plan_label = QLabel("")
        self.plan_label.setObjectName("planLabel")
        self.details_button = QToolButton()
        self.details_button.setObjectName("planDetails")
        self.details_button.setText("Details…")
        self.details_button.setAutoRaise(True)
        self.details_button.hide()
        self.remote_label = QLabel("")
        self.remote_label.setObjectName("remoteLabel")
        self.remote_label.hide()
        self.serve_label = QLabel("")
        self.serve_label.setObjectName("serveLabel")
        self.serve_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.serve_label.hide()
        status = self.statusBar()
        status.addWidget(self.model_label, 1)
        status.addPermanentWidget(self.remote_label)
        status.addPermanentWidget(self.serve_label)
        status.addPermanentWidget(self.plan_label)
        status.addPermanentWidget(self.details_button)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.context_label)
        status.addPermanentWidget(self.speed_label)

        self.controller = ChatController(bridge, self.chat_view, self.store, self)
        self.downloads = DownloadBridge(parent=self)  # lives as long as the window; quits with it
        self.downloads.start()
        self.model_manager: ModelManagerDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.hardware = HardwareProbe(hardware, self)
        self.load_panel = LoadPanel(self)
        self.loader = LoadController(bridge, self.load_panel, self.hardware, self)
        self._build_actions()
        self.engines = EngineChoice(self.controller, bridge, self.remote_label, self)
        self.serving = ServeController(bridge, self.serve_action, self.serve_label, self)
        self._connect()
        self.composer.set_can_send(False, "Load a model first")
        self.engines.restore()  # the remote engine chosen before the last quit, if any

    # -- wiring ----------------------------------------------------------------------------

    def _build_actions(self) -> None:
        menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open model…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.choose_model_file)
        self.starter_action = QAction("Load the &starter model", self)
        self.starter_action.setEnabled(self.starter_path is not None)
        self.starter_action.triggered.connect(self.load_starter)
        self.new_action = QAction("&New chat", self)
        self.new_action.setShortcut(QKeySequence("Ctrl+N"))
        self.new_action.triggered.connect(self.new_chat)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.reload_action = QAction("&Reload model", self)
        self.reload_action.setEnabled(False)
        self.reload_action.triggered.connect(self.reload_model)
        import_action = QAction("&Import chat…", self)
        import_action.triggered.connect(self.import_chat)
        self.settings_action = QAction("Se&ttings…", self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+Alt+S"))
        self.settings_action.triggered.connect(self.show_settings)
        self.models_action = QAction("&Models…", self)
        self.models_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.models_action.triggered.connect(self.show_model_manager)
        for action in (self.open_action, self.models_action, self.starter_action):
            menu.addAction(action)
        for action in (self.reload_action, self.new_action):
            menu.addAction(action)
        menu.addSeparator()
        self.use_remote_action = QAction("Use a &remote engine…", self)
        self.use_remote_action.triggered.connect(self.show_remote_engines)
        self.use_local_action = QAction("Use the &local model", self)
        self.use_local_action.setEnabled(False)
        self.serve_action = QAction("S&erve the loaded model", self)
        self.serve_action.setToolTip(
            "An OpenAI-compatible API for other programs (Settings → Serving says where)"
        )
        for action in (self.use_remote_action, self.use_local_action, self.serve_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(import_action)
        menu.addAction(self.settings_action)
        menu.addSeparator()
        menu.addAction(quit_action)
        chat_menu = self.menuBar().addMenu("&Chat")
        self.stop_action = QAction("&Stop answer", self)
        self.stop_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.stop_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.stop_action.triggered.connect(self.controller.stop)
        chat_menu.addAction(self.stop_action)
        self.answer_now_action = QAction("&Answer now", self)
        self.answer_now_action.setShortcut(QKeySequence("Ctrl+Return"))
        self.answer_now_action.triggered.connect(self.controller.answer_now)
        chat_menu.addAction(self.answer_now_action)
        self.addAction(self.stop_action)
        search = QAction("S&earch chats", self)
        search.setShortcut(QKeySequence("Ctrl+F"))
        search.triggered.connect(self.sidebar.focus_search)
        copy_last = QAction("&Copy last answer", self)
        copy_last.setShortcut(QKeySequence("Ctrl+Shift+C"))
        copy_last.triggered.connect(self.copy_last_answer)
        focus = QAction("&Focus the prompt", self)
        focus.setShortcut(QKeySequence("Ctrl+L"))
        focus.triggered.connect(self.composer.edit.setFocus)
        settings = QAction("Conversation &settings…", self)
        settings.setShortcut(QKeySequence("Ctrl+,"))
        settings.triggered.connect(self.edit_conversation_settings)
        for action in (search, copy_last, focus, settings):
            chat_menu.addAction(action)
        help_menu = self.menuBar().addMenu("&Help")
        keys = QAction("&Keyboard shortcuts", self)
        keys.setShortcut(QKeySequence(Qt.Key.Key_F1))
        keys.triggered.connect(self.show_shortcuts)
        about = QAction("&About Ponder", self)
        about.triggered.connect(self.show_about)
        welcome = QAction("&Welcome…", self)
        welcome.triggered.connect(self.show_welcome)
        help_menu.addAction(keys)
        help_menu.addAction(welcome)
        help_menu.addAction(about)

    def _connect(self) -> None:
        self.use_local_action.triggered.connect(self.engines.use_local)
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
        self.bridge.loading.connect(self._on_loading)
        self.loader.planning.connect(self._on_loading)
        self.loader.refused.connect(self._on_refused)
        self.loader.plan_in_use.connect(self._on_plan_in_use)
        self.loader.adjusted.connect(self._on_adjusted)
        self.details_button.clicked.connect(self.loader.show_details)
        self.bridge.loaded.connect(self._on_loaded)
        self.bridge.load_failed.connect(self._on_load_failed)
        self.bridge.crashed.connect(self._on_crashed)
        self.banner.reload_button.clicked.connect(self.reload_model)
        self.sidebar.conversation_selected.connect(self.open_conversation)
        self.sidebar.search_hit_selected.connect(self.open_conversation)
        self.sidebar.conversation_deleted.connect(self._on_conversation_deleted)
        self.sidebar.new_chat_requested.connect(self.new_chat)
        self.controller.conversations_changed.connect(self._on_conversations_changed)
        self.controller.question_returned.connect(self.composer.edit.setPlainText)
        self.controller.context_used.connect(self._on_context_used)

    # -- actions ---------------------------------------------------------------------------

    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a GGUF model", "", "GGUF models (*.gguf);;All files (*)"
        )
        if path:
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

    def send(self, text: str) -> None:
        self.pages.setCurrentWidget(self.chat_view)
        self.controller.send(text)
        if self.engines.remote is None and self.serving.busy:
            self.speed_label.setText("Generating… (after a request from another program)")

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
                self.store.switch_branch(message_id)
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
        dialog.destroyed.connect(self._forget_settings)
        self.settings_dialog = dialog
        dialog.show()
        return dialog

    def _forget_settings(self) -> None:
        self.settings_dialog = None

    def show_remote_engines(self) -> None:
        """Settings on the Remote engines tab, whose "Use for chat" switches the chat over."""
        dialog = self.show_settings()
        dialog.tabs.setCurrentWidget(dialog.endpoints_tab)

    def _on_engine_changed(self) -> None:
        """The chat now talks to a remote engine, or to the local model again."""
        remote = self.engines.remote
        self.use_local_action.setEnabled(remote is not None)
        self.answer_now_action.setEnabled(remote is None)  # a server ends its own reasoning
        self.context_label.setText("")
        if self.bridge.summary is None:  # nothing local; with a remote engine, say so
            self.model_label.setText("No local model loaded" if remote else "No model loaded")
        if remote is not None:
            self.composer.set_can_send(True)
            self.chat_view.set_hint(
                f"Answers come from the remote engine {remote.name}"
                + (", on another computer." if remote.leaves_this_computer else ".")
                + "\n\nFile → Use the local model switches back."
            )
            self.pages.setCurrentWidget(self.chat_view)
        else:
            loaded = self.bridge.summary is not None
            self.composer.set_can_send(loaded, "" if loaded else "Load a model first")

    def edit_conversation_settings(self) -> None:
        dialog = ConversationSettings(self.controller.system_prompt, self.controller.params, self)
        if dialog.exec():
            self.controller.apply_settings(dialog.result_system_prompt(), dialog.result_params())

    def _on_context_used(self, tokens: int) -> None:
        """The context meter: how full the model's context is after the last answer."""
        summary = self.bridge.summary
        if (
            not tokens or summary is None or self.engines.remote is not None
        ):  # a remote n_ctx is unknown
            self.context_label.setText("")
            return
        share = tokens / summary.n_ctx
        self.context_label.setText(f"Context {tokens:,} / {summary.n_ctx:,} ({share:.0%})")
        self.context_label.setToolTip(
            "Tokens this conversation takes in the model's context. Past reasoning is not "
            "sent back, so it costs context only while the model writes it."
        )

    def copy_last_answer(self) -> None:
        answers = [m for m in self.chat_view.messages if isinstance(m, AssistantMessage)]
        if answers:  # the answer alone: Shift is down for this shortcut, not for "with reasoning"
            QGuiApplication.clipboard().setText(answers[-1].copy_text())

    def show_shortcuts(self) -> None:
        rows = "".join(
            f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>" for keys, what in SHORTCUTS
        )
        QMessageBox.information(self, "Keyboard shortcuts", f"<table cellpadding=4>{rows}</table>")

    def _on_conversations_changed(self) -> None:
        self.sidebar.current_id = self.controller.conversation_id
        self.sidebar.refresh()

    def _on_conversation_deleted(self, conversation_id: int) -> None:
        if conversation_id == self.controller.conversation_id:
            self.new_chat()

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

    # -- engine events ---------------------------------------------------------------------

    def _on_loading(self, path: str) -> None:
        self.serving.model_changed(False)  # the served model is going away
        self.banner.hide()
        self.model_label.setText(f"Loading {path.rsplit('/', 1)[-1]} …")
        self.progress.show()
        self.welcome.set_loading(True)
        self.composer.set_can_send(False, "The model is loading")

    def _on_loaded(self, summary: ModelSummary) -> None:
        self.engines.use_local()  # a model chosen now is the one to chat with
        self.serving.model_changed(True)
        self.reload_action.setEnabled(False)
        self.progress.hide()
        self.welcome.set_loading(False)
        self.model_label.setText(self._model_text(summary))
        self.composer.set_can_send(True)
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
        self.progress.hide()
        self.welcome.set_loading(False)
        loaded = self.bridge.summary
        self.model_label.setText(self._model_text(loaded) if loaded else "No model loaded")
        self.serving.model_changed(loaded is not None)
        if self.engines.remote is None:
            self.composer.set_can_send(loaded is not None, "" if loaded else "Load a model first")
        else:
            self.composer.set_can_send(True)
        if not isinstance(exc, EngineCrashed):  # a crash has its own banner
            self.banner.show_error(*describe(exc))

    def _on_refused(self, _plan: LoadPlan, exc: BaseException) -> None:
        """A plan that does not fit: nothing was loaded; the load panel says what would fit."""
        self._on_load_failed(exc)

    def _on_plan_in_use(self, plan: LoadPlan, how: str) -> None:
        self.plan_label.setText(plan_status(plan, how))
        self.plan_label.setToolTip(plan.verdict.reason)
        self.details_button.show()

    def _on_adjusted(self, done: PlannedLoad) -> None:
        self.banner.show_error(
            "Loaded with safer settings",
            f"The first try failed ({done.first_error}). Changed: {', '.join(done.changes)}.",
        )

    def _on_crashed(self, exc: BaseException) -> None:
        self.serving.model_changed(False)
        self.banner.show_error(*describe(exc), offer_reload=self.bridge.last_request is not None)
        self.reload_action.setEnabled(self.bridge.last_request is not None)
        self.model_label.setText("No model loaded")
        self.plan_label.setText("")
        self.details_button.hide()
        if self.engines.remote is None:
            self.composer.set_can_send(False, "Reload the model first")

    def _on_busy(self, busy: bool) -> None:
        self.composer.set_busy(busy)
        self.open_action.setEnabled(not busy)
        self.speed_label.setText("Generating…" if busy else "")  # a finished answer sets its speed

    def _on_answer_finished(self, stats: GenerationStats) -> None:
        self.speed_label.setText(f"{stats.tokens_per_second:.1f} tokens/s")

    def closeEvent(self, event) -> None:
        self.controller.leave()
        self.load_panel.hide()
        self.serving.stop()
        self.engines.shutdown()
        self.bridge.shutdown()
        self.downloads.close()
        super().closeEvent(event)
