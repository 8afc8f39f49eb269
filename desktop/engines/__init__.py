"""The engines the window drives: the Qt bridge, planned loads, serving, remote engines."""
