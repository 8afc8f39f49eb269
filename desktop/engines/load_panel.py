"""The load panel: how a model will be loaded here, whether it fits, and the person's overrides."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.common.style_state import set_state
from desktop.engines.fit_badge import offload_target
from model_runtime.planning.memory_estimate import kv_type_usable
from model_runtime.planning.plan import Fit, LoadPlan, PlanOverrides
from model_runtime.units import size_text

CONTEXTS = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)
KV_CHOICES = ("f16", "q8_0", "q4_0")
AUTO = -1  # the spin boxes' "Auto" value
VERDICT_WORDS = {
    Fit.FITS: "✓ Fits",
    Fit.FITS_WITH_OFFLOAD: "✓ Fits with offload",
    Fit.DOES_NOT_FIT: "✗ Does not fit",
}


def gpu_layers_text(plan: LoadPlan) -> str:
    """'CPU only', 'all 28 layers on the GPU' or '20 of 28 layers on RPC workers'."""
    n = plan.profile.n_layer if plan.profile is not None else plan.n_gpu_layers
    if plan.n_gpu_layers == 0:
        return "CPU only"
    where = offload_target(plan)
    if plan.n_gpu_layers > n:
        return f"all {n} layers on {where}"
    return f"{plan.n_gpu_layers} of {n} layers on {where}"


def plural(n: int, word: str) -> str:
    """'1 thread', '2 threads'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def plan_status(plan: LoadPlan, how: str = "Auto-tuned", *, draft_loaded: bool = True) -> str:
    """The status bar's short line: 'Auto-tuned: context 8,192 · 2 threads · CPU only' (a draft
    model the engine could not load is not named)."""
    parts = [f"context {plan.n_ctx:,}", plural(plan.n_threads, "thread"), gpu_layers_text(plan)]
    if plan.type_k != "f16":
        parts.append(f"KV cache {plan.type_k}")
    if plan.cpu_expert_layers:
        parts.append(f"experts of {plan.cpu_expert_layers} layers in RAM")
    if plan.speculation.mode == "model" and draft_loaded:
        parts.append(f"draft model {Path(plan.speculation.draft_path).name}")
    return f"{how}: " + " · ".join(parts)


def choice_is_auto(choice: PlanOverrides) -> bool:
    """True when the person left every setting of the panel to the planner."""
    return all(
        getattr(choice, name) is None
        for name in ("n_ctx", "n_gpu_layers", "cpu_expert_layers", "type_k", "draft")
    )


def drafting_text(plan: LoadPlan) -> str:
    """'prompt lookup', 'off' or 'SmolLM2.gguf (98 MiB in system memory)'."""
    spec, estimate = plan.speculation, plan.draft_estimate
    if spec.mode != "model":
        return "prompt lookup (while it pays)" if spec.mode == "lookup" else "off"
    where = "on the GPU" if spec.draft_n_gpu_layers else "in system memory"
    size = estimate.host_total + estimate.device_total if estimate is not None else 0
    return f"{Path(spec.draft_path).name} ({size_text(size)} {where})"


def _model_text(plan: LoadPlan) -> str:
    """'llama · Q4_1 · 135M parameters · 30 layers · 94 MiB'."""
    p = plan.profile
    if p is None:
        return ""
    params = f"{p.n_params / 1e9:.1f}B" if p.n_params >= 1e9 else f"{p.n_params / 1e6:.0f}M"
    moe = f" · MoE, {p.n_expert} experts" if p.is_moe else ""
    return (
        f"{p.architecture} · {p.quantization} · {params} parameters · {p.n_layer} layers"
        f"{moe} · {size_text(p.file_size)}"
    )


def _machine_text(plan: LoadPlan) -> str:
    hw = plan.hardware
    if hw is None:
        return ""
    gpus = "".join(f", {g.name} ({size_text(g.memory_free)} free)" for g in hw.usable_gpus)
    return (
        f"This computer: {plural(hw.cpu.physical_cores, 'core')}, {size_text(hw.ram_total)} RAM "
        f"({size_text(hw.ram_available)} free){gpus}"
    )


class MemoryBar(QWidget):
    """One memory figure: a bar of needed against available, and the numbers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        self.bar.setFixedWidth(140)
        self.label = QLabel(self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.label, 1)

    def set_figures(self, needed: int, available: int, empty_text: str = "") -> None:
        if not available and not needed:
            self.bar.hide()
            self.label.setText(empty_text)
            return
        self.bar.show()
        share = needed / available if available else 2.0
        self.bar.setValue(min(100, round(100 * share)))
        set_state(self.bar, "over", share > 1)
        self.label.setText(f"{size_text(needed)} of {size_text(available)} available")


class LoadPanel(QDialog):
    """Shows a plan and lets the person change it; non-modal, so the window stays usable."""

    choice_changed = Signal(object)  # PlanOverrides: the panel's four settings
    load_requested = Signal(object, bool, bool)  # choice, remember for this model, force

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loadPanel")
        self.setModal(False)
        self.setWindowTitle("Load settings")
        self.setMinimumWidth(560)
        self.plan: LoadPlan | None = None
        self._filling = False

        self._make_labels()
        self.gpu_layers_value = QLabel(self)
        self.context_value = QLabel(self)
        self.kv_value = QLabel(self)
        self.experts_value = QLabel(self)
        self.threads_value = QLabel(self)
        self.flash_value = QLabel(self)
        self.draft_value = QLabel(self)
        self.draft_value.setWordWrap(True)
        self.ram_bar = MemoryBar(self)
        self.gpu_bar = MemoryBar(self)

        self.gpu_layers = QSpinBox(self)
        self.gpu_layers.setSpecialValueText("Auto")
        self.context = QComboBox(self)
        self.kv_type = QComboBox(self)
        self.experts = QSpinBox(self)
        self.experts.setSpecialValueText("Auto")
        self.draft = QComboBox(self)
        self.draft.setToolTip(
            "Speculative decoding: guessed tokens that the model checks in one step. Prompt "
            "lookup guesses from the conversation; a draft model (a smaller one with the same "
            "vocabulary) guesses with its own. Either guesses only while it pays."
        )
        self.remember = QCheckBox("Remember for this model", self)
        self.remember.setToolTip("Use these settings every time this model is loaded.")

        plan_box, memory_box = self._make_boxes()
        buttons = self._make_buttons()
        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addSpacing(4)
        layout.addWidget(self.verdict, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.reason)
        layout.addWidget(self.advice)
        layout.addWidget(plan_box)
        layout.addWidget(memory_box)
        layout.addWidget(self.remember)
        layout.addLayout(buttons)

        self.force_box: QMessageBox | None = None  # the warning before forcing, while open
        self.force_confirm: QAbstractButton | None = None

        for spin in (self.gpu_layers, self.experts):
            spin.valueChanged.connect(self._emit_choice)
        for combo in (self.context, self.kv_type, self.draft):
            combo.currentIndexChanged.connect(self._emit_choice)
        self.load_button.clicked.connect(lambda: self._request(force=False))
        self.force_button.clicked.connect(self._confirm_force)
        self.close_button.clicked.connect(self.hide)

    def _make_labels(self) -> None:
        """The model's name, the verdict with its reason and advice, the machine's line."""
        self.title = QLabel(self)
        self.title.setObjectName("loadPanelTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        self.subtitle = QLabel(self)
        self.subtitle.setObjectName("loadPanelSubtitle")
        self.subtitle.setTextFormat(Qt.TextFormat.PlainText)
        self.verdict = QLabel(self)
        self.verdict.setObjectName("verdictLabel")
        self.reason = QLabel(self)
        self.reason.setObjectName("verdictReason")
        self.reason.setTextFormat(Qt.TextFormat.PlainText)
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.advice = QLabel(self)
        self.advice.setObjectName("verdictAdvice")
        self.advice.setTextFormat(Qt.TextFormat.PlainText)
        self.advice.setWordWrap(True)
        self.machine = QLabel(self)
        self.machine.setObjectName("machineLine")
        self.machine.setTextFormat(Qt.TextFormat.PlainText)
        self.machine.setWordWrap(True)

    def _make_boxes(self) -> tuple[QGroupBox, QGroupBox]:
        """The plan's settings (value, and a control to change it) and the memory bars."""
        plan_box = QGroupBox("Plan", self)
        grid = QGridLayout(plan_box)
        grid.setColumnStretch(1, 1)
        grid.setHorizontalSpacing(16)
        header = QLabel("Change", plan_box)
        header.setObjectName("columnHeader")
        grid.addWidget(header, 0, 2)
        rows: list[tuple[str, QWidget, QWidget | None]] = [
            ("GPU layers", self.gpu_layers_value, self.gpu_layers),
            ("Context", self.context_value, self.context),
            ("KV cache", self.kv_value, self.kv_type),
            ("Experts in RAM", self.experts_value, self.experts),
            ("Threads", self.threads_value, None),
            ("Flash attention", self.flash_value, None),
            ("Drafting", self.draft_value, self.draft),
        ]
        self._expert_row: list[QWidget] = []
        for row, (name, value, control) in enumerate(rows, start=1):
            label = QLabel(name, plan_box)
            grid.addWidget(label, row, 0)
            grid.addWidget(value, row, 1)
            if control is not None:
                control.setMinimumWidth(150)
                grid.addWidget(control, row, 2)
            if value is self.experts_value:
                self._expert_row = [label, value, self.experts]
        memory_box = QGroupBox("Memory", self)
        memory = QGridLayout(memory_box)
        memory.setColumnStretch(1, 1)
        memory.setHorizontalSpacing(16)
        memory.addWidget(QLabel("System RAM", memory_box), 0, 0)
        memory.addWidget(self.ram_bar, 0, 1)
        memory.addWidget(QLabel("GPU memory", memory_box), 1, 0)
        memory.addWidget(self.gpu_bar, 1, 1)
        memory.addWidget(self.machine, 2, 0, 1, 2)

        return plan_box, memory_box

    def _make_buttons(self) -> QHBoxLayout:
        self.force_button = QPushButton("Load anyway…", self)
        self.force_button.setObjectName("forceButton")
        self.close_button = QPushButton("Close", self)
        self.load_button = QPushButton("Load", self)
        self.load_button.setObjectName("loadButton")
        self.load_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.force_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.load_button)

        return buttons

    # -- what the controller calls -----------------------------------------------------------

    def show_plan(self, plan: LoadPlan, choice: PlanOverrides, pinned: bool) -> None:
        """A new model's plan: set the controls from the person's choice, then show the plan."""
        self._filling = True
        try:
            self._fill_controls(plan, choice)
            self.remember.setChecked(pinned)
        finally:
            self._filling = False
        self.update_plan(plan)

    def update_plan(self, plan: LoadPlan) -> None:
        """Show a (re)computed plan; the controls keep what the person set."""
        self.plan = plan
        p, v = plan.profile, plan.verdict
        name = Path(plan.model_path).name
        self.title.setText(name)
        self.title.setToolTip(plan.model_path)
        self.subtitle.setText(_model_text(plan))
        self.setWindowTitle(f"Load settings — {name}")
        fit = "forced" if plan.forced else {Fit.DOES_NOT_FIT: "no"}.get(v.fit, "yes")
        self.verdict.setText("⚠ Forced: does not fit" if plan.forced else VERDICT_WORDS[v.fit])
        set_state(self.verdict, "fit", fit)
        auto = choice_is_auto(self.choice())
        lead = "Auto-tuned for this computer because it " if auto else "With your settings it "
        lead = lead if v.ok else ""
        reason = v.reason[0].lower() + v.reason[1:] if lead else v.reason
        self.reason.setText(lead + reason)
        advice = [f"• {s}" for s in v.suggestions] + [f"• {n}" for n in plan.notes]
        self.advice.setText("\n".join(advice))
        self.advice.setVisible(bool(advice))
        self.machine.setText(_machine_text(plan))

        self.gpu_layers_value.setText(gpu_layers_text(plan))
        trained = p.n_ctx_train if p is not None else plan.n_ctx
        at_most = f" (at most {v.max_ctx:,} fit)" if 0 < v.max_ctx < plan.n_ctx else ""
        self.context_value.setText(f"{plan.n_ctx:,} tokens{at_most}")
        self.context_value.setToolTip(f"The model was trained on {trained:,} tokens of context.")
        kv = plan.type_k if plan.type_k == plan.type_v else f"{plan.type_k} / {plan.type_v}"
        self.kv_value.setText(kv)
        n_layer = p.n_layer if p is not None else 0
        experts = plan.cpu_expert_layers
        self.experts_value.setText(f"{experts} of {n_layer} layers" if experts else "none")
        self.threads_value.setText(str(plan.n_threads))
        self.flash_value.setText("on" if plan.flash_attn else "off")
        self.draft_value.setText(drafting_text(plan))
        auto_ctx = self.context.currentIndex() == 0
        self.context.setItemText(0, f"Auto ({plan.n_ctx:,})" if auto_ctx else "Auto")
        self.ram_bar.set_figures(v.host_needed, v.host_available)
        self.gpu_bar.set_figures(v.device_needed, v.device_available, "no usable GPU")

        self.load_button.setEnabled(v.ok or plan.forced)
        self.force_button.setVisible(not v.ok and not plan.forced)

    def show_problem(self, text: str) -> None:
        """A choice the planner rejected: say why, and offer no load."""
        self.reason.setText(text)
        self.load_button.setEnabled(False)

    def choice(self) -> PlanOverrides:
        """The four settings as the controls hold them (None: left to the planner)."""
        kv = self.kv_type.currentData()
        ngl, experts = self.gpu_layers.value(), self.experts.value()
        return PlanOverrides(
            n_ctx=self.context.currentData(),
            n_gpu_layers=None if ngl == AUTO else ngl,
            cpu_expert_layers=None if experts == AUTO or not self.experts.isEnabled() else experts,
            type_k=kv,
            type_v=kv,
            draft=self.draft.currentData(),
        )

    # -- internals ---------------------------------------------------------------------------

    def _fill_controls(self, plan: LoadPlan, choice: PlanOverrides) -> None:
        p = plan.profile
        n_layer = p.n_layer if p is not None else 0
        trained = p.n_ctx_train if p is not None else plan.n_ctx
        has_gpu = plan.hardware is not None and bool(plan.hardware.usable_gpus)
        self.gpu_layers.setRange(AUTO, n_layer + 1)
        self.gpu_layers.setValue(AUTO if choice.n_gpu_layers is None else choice.n_gpu_layers)
        self.gpu_layers.setEnabled(has_gpu)
        self.gpu_layers.setToolTip(
            "Layers (and the output layer) to put on the GPU"
            if has_gpu
            else "No GPU this llama.cpp build can use"
        )
        moe = p is not None and p.is_moe
        self.experts.setRange(AUTO, n_layer)
        self.experts.setValue(
            AUTO if choice.cpu_expert_layers is None else choice.cpu_expert_layers
        )
        self.experts.setEnabled(moe and has_gpu)
        self.experts.setToolTip("Keep the experts of this many first layers in system memory")
        for widget in self._expert_row:
            widget.setVisible(moe)

        sizes = {c for c in CONTEXTS if c <= trained} | {trained}
        if plan.verdict.max_ctx:
            sizes.add(plan.verdict.max_ctx)
        if choice.n_ctx:
            sizes.add(choice.n_ctx)
        self.context.clear()
        self.context.addItem("Auto", None)
        for size in sorted(sizes):
            label = f"{size:,}"
            if size == plan.verdict.max_ctx and size < trained:
                label += " (longest that fits)"
            self.context.addItem(label, size)
        self.context.setCurrentIndex(max(0, self.context.findData(choice.n_ctx)))

        self.kv_type.clear()
        self.kv_type.addItem("Auto (f16)", None)
        for name in KV_CHOICES:
            if p is None or kv_type_usable(p, name):
                self.kv_type.addItem(name, name)
        self.kv_type.setCurrentIndex(max(0, self.kv_type.findData(choice.type_k)))
        self._fill_drafts(plan, choice)

    def _fill_drafts(self, plan: LoadPlan, choice: PlanOverrides) -> None:
        """Prompt lookup, off, and the known models that can draft for this one."""
        self.draft.clear()
        self.draft.addItem("Auto (prompt lookup)", None)
        self.draft.addItem("Off", "off")
        for candidate in plan.draft_candidates:
            pair = " — its natural draft" if candidate.natural else ""
            label = f"{candidate.name} ({size_text(candidate.profile.file_size)}){pair}"
            self.draft.addItem(label, candidate.path)
        self.draft.setCurrentIndex(max(0, self.draft.findData(choice.draft)))

    def _emit_choice(self) -> None:
        if not self._filling:
            self.choice_changed.emit(self.choice())

    def _request(self, *, force: bool) -> None:
        self.load_requested.emit(self.choice(), self.remember.isChecked(), force)

    def _confirm_force(self) -> None:
        """Warn before forcing; the box is window-modal and goes away when answered."""
        reason = self.plan.verdict.reason if self.plan is not None else ""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Load a model that does not fit?",
            f"{reason}\n\nLoading it anyway may make this computer swap to disk until it is "
            "barely usable, or the engine may be killed for lack of memory. Your "
            "conversations are safe either way.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        self.force_confirm = box.addButton("Load anyway", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(self._on_force_answer)
        self.force_box = box
        box.open()

    def _on_force_answer(self, button: QAbstractButton) -> None:
        confirmed = button is self.force_confirm
        self.force_box = self.force_confirm = None
        if confirmed:
            self._request(force=True)
