"""Will a model fit, and how to load it: the memory estimate, the planner and its guardrails."""
