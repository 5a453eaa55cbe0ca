"""Experiment helpers the notebooks call: theory-lab and tiny-LM experiments, and the plot functions."""
