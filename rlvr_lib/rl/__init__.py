"""GRPO with TRL: rewards, the typed experiment configuration, run records, the trainer subclass and the run driver."""
