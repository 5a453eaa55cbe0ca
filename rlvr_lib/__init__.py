"""rlvr_lib: a companion library to "Exploration vs Exploitation: Rethinking RLVR through Clipping, Entropy,
and Spurious Reward" (Chen et al., ICLR 2026, arXiv 2512.16912).

Layers, lowest first; a module imports only from its own layer or the ones above it in this list:

Shared pure pieces (top level)
  ``_checks``     argument checks that raise one clear error naming the parameter (notebook parameters too);
  ``_locks``      the one inter-process file lock (runs, bases, notebooks, the book build);
  ``numerics``    the kernel pins that make CPU results reproducible across machines, the machine fingerprint;
  ``clip``        clip rules as pure tensor functions, shared by the trainer and the theory lab;
  ``entropy``     the one definition of a softmax's entropy;
  ``stats``       the one 95% interval (Student t), the seed band, the interval sign;
  ``verdicts``    the Verdict type, its outcomes, how one is decided against a margin, saved and loaded.
``testbed/``      the synthetic world the tiny-LM experiments run in
  ``tasks``       the task world (difficulty, solution-style and contamination dials);
  ``models``      character tokenizer, tiny causal LMs, the one loader, the one left-padded scoring pass;
  ``pretrain``    pretraining of tiny bases, cached by configuration;
  ``bases``       the named bases, one dial changed at a time;
  ``evaluation``  greedy / exact / sampled accuracy, pass@k, entropy, style shares, clean vs contaminated.
``rl/``           GRPO with TRL
  ``rewards``     reward functions on TRL's contract;
  ``config``      the typed experiment configuration that produces a ``GRPOConfig``;
  ``records``     run directories, atomic status, the tidy loader;
  ``trainer``     the GRPOTrainer subclass (one class, one divergence: ``_compute_loss``);
  ``driver``      the run driver: record callback, step-0 evaluation cache, ``run_experiment``;
  ``executors``   where a sweep's runs train: sequential, a local process pool, a Dask cluster.
``theory/``       the theory on tabular softmax policies
  ``simulator``   GRPO on softmax policies, vectorised over seeds, and the entropy closed forms;
  ``misalignment`` the reward-misalignment model in closed form.
``experiments/``  what the notebooks call
  ``theory_lab``  the theory-lab experiments: tables and verdicts;
  ``lm_lab``      the tiny-LM experiments' one namespace, gathering the four below;
  ``lm_arms``     the tiny-LM schedules, named arms, bases by profile and the sweep;
  ``lm_tables``   tidy summaries of run records: seed bands, changes, paired differences, windows;
  ``lm_design``   the learning-rate choice, the margins and the pilot that sizes each comparison;
  ``lm_verdicts`` E1-E7's verdicts and manipulation checks;
  ``regime_map``  the tabular regime map: where random-reward GRPO raises accuracy, and by which mechanism;
  ``lm_regime``   the tiny-LM regime series: batch size, step size, clip rule and entropy profile on a transect;
  ``probes``      mechanism probes on the tiny LM: antithetic and counterfactual single steps, verdicts;
  ``plots``       the house figure style and plot functions on tidy tables.
``scale/``        real models
  ``data``        real math datasets and prompt templates;
  ``recipes``     the YAML recipes, validated before any model is loaded;
  ``entry``       the training entry point (one process or TRL's accelerate / DeepSpeed / vLLM path).
``pipeline/``     the machinery
  ``main``        the main job: bases, notebooks, book, with stage times;
  ``runner``      papermill execution with a cache keyed by source and parameters;
  ``book``        helpers of the book's own pages (scorecard, claim chapters, testbed table).

``rlvr_lib.main`` and ``rlvr_lib.entry`` are thin aliases, so that ``python -m rlvr_lib.main`` and
``python -m rlvr_lib.entry`` stay where users type them. Heavy dependencies (torch, transformers, trl) are
imported inside the modules that need them.
"""

import warnings

from rlvr_lib import numerics as _numerics

__version__ = "0.1.0"

# Two third-party messages that say nothing about an experiment, kept out of the executed notebooks: tqdm.auto
# warns in kernels without ipywidgets (papermill, the book's build), where its text bars are what we want; TRL
# 1.16 reads transformers' deprecated `is_gradient_checkpointing` alias on every trainer start.
warnings.filterwarnings("ignore", message="IProgress not found")
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)

# Kernel pins (AVX2 code paths of ATen, MKL and oneDNN), set before torch picks its kernels: see `numerics`.
_numerics.pin()
