"""View settings: saved in the config folder, defaults when missing or damaged."""

from __future__ import annotations

from desktop.settings.view import FILE_NAME, ViewSettings, load_view_settings, save_view_settings
from model_runtime.paths import config_dir


def test_math_is_rendered_unless_switched_off_and_the_choice_is_kept() -> None:
    assert load_view_settings() == ViewSettings(math=True)
    save_view_settings(ViewSettings(math=False))
    assert load_view_settings() == ViewSettings(math=False)
    save_view_settings(ViewSettings(math=True))
    assert load_view_settings().math


def test_a_damaged_file_means_the_defaults() -> None:
    config_dir().mkdir(parents=True, exist_ok=True)
    for text in ("{not json", "[]", '{"version": 1}', '"math"'):
        (config_dir() / FILE_NAME).write_text(text, encoding="utf-8")
        assert load_view_settings() == ViewSettings()
