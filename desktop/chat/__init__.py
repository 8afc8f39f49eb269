"""The conversation: its controller, the message widgets, the composer, the sidebar."""
