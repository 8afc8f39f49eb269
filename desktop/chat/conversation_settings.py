"""Per-conversation settings: system prompt, sampling with presets, answer length."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from model_runtime.chat.generation import GenerationParams

R1_NOTE = (
    "DeepSeek-R1 and its distills work best without a system prompt: put instructions in "
    "your message. R1-0528 models accept one."
)

# name -> (temperature, top_p); DeepSeek recommends 0.6 / 0.95 for R1.
PRESETS: dict[str, tuple[float, float]] = {
    "R1 recommended": (0.6, 0.95),
    "Precise": (0.3, 0.9),
    "Creative": (0.9, 0.98),
}
CUSTOM = "Custom"

# what the budget box offers: (label, tokens, seconds)
BUDGETS: tuple[tuple[str, int | None, float | None], ...] = (
    ("No limit", None, None),
    ("1,000 tokens", 1000, None),
    ("4,000 tokens", 4000, None),
    ("16,000 tokens", 16000, None),
    ("30 seconds", None, 30.0),
    ("2 minutes", None, 120.0),
    ("10 minutes", None, 600.0),
)


def budget_label(tokens: int | None, seconds: float | None) -> str:
    """Words for a thinking budget not in the list ("300 tokens", "45 seconds")."""
    parts = [f"{tokens:,} tokens"] if tokens is not None else []
    if seconds is not None:
        parts.append(f"{seconds:g} seconds")
    return " or ".join(parts) or "No limit"


LOOP_POLICIES = {
    "answer": "End the thinking and answer",
    "stop": "Stop the answer",
    "off": "Do nothing",
}


class ConversationSettings(QDialog):
    """Edits one conversation's system prompt and sampling; Ok applies, Cancel changes nothing."""

    def __init__(
        self, system_prompt: str, params: GenerationParams, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Conversation settings")
        self.setMinimumWidth(480)
        self._params = params
        self.system_prompt = QPlainTextEdit(system_prompt, self)
        self.system_prompt.setPlaceholderText("None (recommended for DeepSeek-R1)")
        self.system_prompt.setFixedHeight(90)
        note = QLabel(R1_NOTE, self)
        note.setWordWrap(True)
        note.setObjectName("settingsNote")
        self.preset = QComboBox(self)
        self.preset.addItems([*PRESETS, CUSTOM])
        self.temperature = QDoubleSpinBox(self)
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setValue(params.temperature)
        self.top_p = QDoubleSpinBox(self)
        self.top_p.setRange(0.05, 1.0)
        self.top_p.setSingleStep(0.01)
        self.top_p.setValue(params.top_p)
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setRange(16, 131072)
        self.max_tokens.setSingleStep(512)
        self.max_tokens.setValue(params.max_tokens)
        self.max_tokens.setToolTip("Reasoning counts too: R1 often thinks for thousands of tokens.")
        self.budget = QComboBox(self)
        for label, tokens, seconds in BUDGETS:
            self.budget.addItem(label, (tokens, seconds))
        current = (params.thinking.budget_tokens, params.thinking.budget_seconds)
        # QComboBox.findData never matches a Python tuple: look the budget up here
        known = [(tokens, seconds) for _, tokens, seconds in BUDGETS]
        if current not in known:  # a budget set elsewhere: keep it selectable
            self.budget.addItem(budget_label(*current), current)
        self.budget.setCurrentIndex(known.index(current) if current in known else len(known))
        self.budget.setToolTip(
            "When the model has thought this long, Ponder ends its reasoning and it answers. "
            "Time counts from its first thinking token, as “Thought for” does; reading the "
            "prompt before it is not counted."
        )
        self.loop_policy = QComboBox(self)
        for key, label in LOOP_POLICIES.items():
            self.loop_policy.addItem(label, key)
        self.loop_policy.setCurrentIndex(self.loop_policy.findData(params.thinking.loop_policy))
        self.loop_policy.setToolTip(
            "An answer that repeats itself on and on is stopped too, unless this is Do nothing."
        )
        self.keep_reasoning = QCheckBox("Send past reasoning back to the model", self)
        self.keep_reasoning.setChecked(params.keep_reasoning)
        self.keep_reasoning.setToolTip(
            "Off by default, as DeepSeek advises for R1: past reasoning only fills the context."
        )
        self._sync_preset()
        self.preset.currentTextChanged.connect(self._apply_preset)
        self.temperature.valueChanged.connect(self._sync_preset)
        self.top_p.valueChanged.connect(self._sync_preset)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("System prompt", self.system_prompt)
        form.addRow("", note)
        form.addRow("Preset", self.preset)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Max tokens per answer", self.max_tokens)
        form.addRow("Thinking budget", self.budget)
        form.addRow("When reasoning loops", self.loop_policy)
        form.addRow("", self.keep_reasoning)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _apply_preset(self, name: str) -> None:
        if name in PRESETS:
            temperature, top_p = PRESETS[name]
            self.temperature.setValue(temperature)
            self.top_p.setValue(top_p)

    def _sync_preset(self) -> None:
        values = (round(self.temperature.value(), 2), round(self.top_p.value(), 2))
        name = next((n for n, preset in PRESETS.items() if preset == values), CUSTOM)
        self.preset.blockSignals(True)
        self.preset.setCurrentText(name)
        self.preset.blockSignals(False)

    def result_params(self) -> GenerationParams:
        tokens, seconds = self.budget.currentData()
        thinking = replace(
            self._params.thinking,
            budget_tokens=tokens,
            budget_seconds=seconds,
            loop_policy=self.loop_policy.currentData(),
        )
        return replace(
            self._params,
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            max_tokens=self.max_tokens.value(),
            thinking=thinking,
            keep_reasoning=self.keep_reasoning.isChecked(),
        )

    def result_system_prompt(self) -> str:
        return self.system_prompt.toPlainText().strip()
