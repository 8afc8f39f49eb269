"""Per-conversation settings: system prompt, sampling with presets, answer length."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
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

from model_runtime.generation import GenerationParams

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


def params_to_dict(params: GenerationParams) -> dict[str, float | int]:
    """What a conversation stores of its sampling settings."""
    return {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
    }


def params_from_dict(values: dict[str, object], base: GenerationParams) -> GenerationParams:
    """Stored settings over the defaults; unknown or broken values are ignored."""
    changes: dict[str, float | int] = {}
    for key, kind in (("temperature", float), ("top_p", float), ("max_tokens", int)):
        value = values.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            changes[key] = kind(value)
    return replace(base, **changes)  # type: ignore[arg-type]


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
        return replace(
            self._params,
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            max_tokens=self.max_tokens.value(),
        )

    def result_system_prompt(self) -> str:
        return self.system_prompt.toPlainText().strip()
