"""Real models: real math data and prompt templates, recipes, and the training entry point (TRL scale-out)."""
