"""The tiny-LM experiments: arms, sweeps over seeds, tidy summaries and verdicts.

Every notebook ``notebooks/lm_*.py`` calls :func:`sweep` with a dict of ARMS (label -> configuration
overrides) and its seeds. All runs share one experiment namespace (``tinylm``) under ``runs_dir``, so a
configuration that two notebooks both need (the default base with a random reward, say) is trained once and
found by the other (run identity is the hash of the configuration, see ``config.run_id``); it is one piece of
evidence, shown on every page that uses it but never counted twice.

Design (see the book's pilot page): arms share seeds, and a seed fixes the first rollout batch and the random
reward stream, so arms that coincide up to their first update are compared on common random numbers and
every comparison is paired by seed. The primary outcome is the exact expected accuracy (``eval/exact_acc``,
teacher-forced, no sampling noise); greedy and sampled accuracy are secondary. How many seeds each key
comparison gets is chosen by the pilot (:func:`pilot_table`) on the tuning seeds, which are never reported.

Profiles: ``full`` trains the named bases of ``bases`` with the :data:`FULL` schedule; ``smoke`` swaps in a very
small base of the same dials and a few steps, for the test suite. Reported seeds count up from 0; the
hyperparameter and pilot seeds (1000 and up) are disjoint from them.

The code lives in four modules, one job each, and this module gathers their names so that notebooks and readers
use one namespace (``from rlvr_lib.experiments import lm_lab as lm``):

* :mod:`~rlvr_lib.experiments.lm_arms`: schedules, named arms, bases by profile, :func:`sweep`;
* :mod:`~rlvr_lib.experiments.lm_tables`: seed bands, changes, paired differences, windows;
* :mod:`~rlvr_lib.experiments.lm_design`: the learning-rate choice, the margins and the pilot;
* :mod:`~rlvr_lib.experiments.lm_verdicts`: E1-E7's verdicts and manipulation checks.
"""

from __future__ import annotations

from rlvr_lib.experiments import lm_arms, lm_design, lm_tables, lm_verdicts

# every public and private name of the four modules, and what they import (mean_ci, Verdict, ...), as before
for _module in (lm_arms, lm_tables, lm_design, lm_verdicts):
    globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})
del _module
