"""The theory on tabular softmax policies: the GRPO simulator and the reward-misalignment model."""
