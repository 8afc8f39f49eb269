"""The main window: it composes the parts, declares the actions, and shows the status."""
