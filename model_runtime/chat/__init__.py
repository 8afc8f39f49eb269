"""One turn with a model: messages and parameters, the reasoning parser, thinking control,
the prompt."""
