"""The synthetic testbed: task world, tiny models, their pretraining, the named bases and held-out evaluation."""
