"""Beyond this process: Ponder's OpenAI-compatible server, and remote engines it talks to."""
