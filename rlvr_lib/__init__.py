"""rlvr_lib: a companion library to "Exploration vs Exploitation: Rethinking RLVR through Clipping, Entropy,
and Spurious Reward" (Chen et al., ICLR 2026, arXiv 2512.16912).

Modules, one idea each:

* ``tasks``       the synthetic task world (difficulty, solution-style and contamination dials);
* ``models``      character tokenizer, tiny causal LMs, the one loader for local paths and hub names;
* ``pretrain``    pretraining of tiny bases, cached by configuration;
* ``evaluation``  greedy / exact / sampled accuracy, pass@k, entropy, style shares, clean vs contaminated;
* ``clip``        clip rules as pure tensor functions (shared by the trainer and the theory lab);
* ``rewards``     reward functions on TRL's contract;
* ``config``      the typed experiment configuration that produces a ``GRPOConfig``;
* ``trainer``     the GRPOTrainer subclass, diagnostics and the run driver;
* ``records``     run directories, atomic status, the tidy loader;
* ``theory``      tabular softmax-policy simulations of the paper's theory;
* ``misalignment`` the reward-misalignment model in closed form;
* ``stats`` and ``plots``  intervals, verdicts, and the house figure style.

Heavy dependencies (torch, transformers, trl) are imported inside the modules that need them.
"""

import warnings

__version__ = "0.1.0"

# Two third-party messages that say nothing about an experiment, kept out of the executed notebooks: tqdm.auto
# warns in kernels without ipywidgets (papermill, the book's build), where its text bars are what we want; TRL
# 1.16 reads transformers' deprecated `is_gradient_checkpointing` alias on every trainer start.
warnings.filterwarnings("ignore", message="IProgress not found")
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
