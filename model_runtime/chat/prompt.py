"""Turns a conversation into the prompt text the model expects, with the GGUF's own template."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from model_runtime.chat.generation import Message
from model_runtime.chat.reasoning import strip_reasoning
from model_runtime.errors import ModelFileError

# Used when a GGUF carries no chat template at all.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

THINK_OPEN = "<think>"


@dataclass(frozen=True)
class Prompt:
    """Rendered prompt text and whether the template already opened a thinking block."""

    text: str
    starts_in_thinking: bool


def wire_messages(
    messages: Sequence[Message], *, keep_reasoning: bool = False
) -> list[dict[str, str]]:
    """Messages as the template sees them; past reasoning is left out unless asked (R1 rule).

    Some templates (R1's own) drop the reasoning of earlier turns themselves either way.
    """
    wire = []
    for message in messages:
        content = message.content
        if message.role == "assistant":
            content = strip_reasoning(content)
            if keep_reasoning and message.reasoning.strip():
                content = f"{THINK_OPEN}\n{message.reasoning.strip()}\n</think>\n\n{content}"
        wire.append({"role": message.role, "content": content})
    return wire


class PromptRenderer:
    """The model's template compiled once, rendered per request in llama-cpp-python's sandbox."""

    def __init__(self, template: str | None, *, bos_token: str, eos_token: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        try:
            self._formatter = Jinja2ChatFormatter(
                template=template or CHATML_TEMPLATE,
                eos_token=eos_token,
                bos_token=bos_token,
                add_generation_prompt=True,
            )
        except Exception as exc:  # a template that doesn't compile is the model file's fault
            raise ModelFileError(f"The model's chat template is broken: {exc}") from exc

    def render(self, messages: Sequence[Message], *, keep_reasoning: bool = False) -> Prompt:
        wire = wire_messages(messages, keep_reasoning=keep_reasoning)
        try:
            text = self._formatter(messages=wire).prompt  # type: ignore[arg-type]
        except Exception as exc:  # e.g. raise_exception("Conversation roles must alternate")
            raise ModelFileError(f"The model's chat template refused this chat: {exc}") from exc
        return Prompt(text=text, starts_in_thinking=text.rstrip().endswith(THINK_OPEN))
