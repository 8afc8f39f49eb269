"""Files that go with a question: reading them (text, PDF, Word, HTML), counting what they take
of the context, and retrieving the passages that matter when a file is too long for it."""
