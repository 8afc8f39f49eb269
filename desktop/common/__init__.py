"""Helpers every part of the window uses: background work, throttling, styles, errors in words."""
