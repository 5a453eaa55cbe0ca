"""Named base models of the testbed: one dial changed at a time from the default.

=================  ===============================================================================
name               what differs from ``default``
=================  ===============================================================================
default            reliable style preferred (60% of corpus solutions), 300 pretraining steps
shortcut           the unreliable shortcut style preferred (reliable_share = 0.3)
contaminated       half of the evaluation items replaced by harder 4-digit problems that are copied,
                   solved, 20 times each into the corpus (a clean base does not solve them)
free-choice        the entropy-profile dial: solutions in the ``free`` format (each column's digits in a
                   free order), so the base carries more entropy per token at the same task
steps-N            base strength: ``default``'s pretraining run stopped after N of its 300 steps (N in 150,
                   175, 200, 250; its checkpoints, written on the way by that one run): with ``default`` a
                   five-base strength series at the same style share, data order and initialisation
=================  ===============================================================================
"""

from __future__ import annotations

from rlvr_lib._checks import check_choice
from rlvr_lib.testbed.pretrain import PretrainConfig
from rlvr_lib.testbed.tasks import TaskConfig

DEFAULT = PretrainConfig()
STRENGTH_STEPS = (150, 175, 200, 250)  # with the default's 300: the strength series

BASES: dict[str, PretrainConfig] = {
    "default": DEFAULT,
    "shortcut": DEFAULT.with_(reliable_share=0.3),
    "contaminated": DEFAULT.with_(contamination=0.5, contamination_digits=4),
    "free-choice": DEFAULT.with_(task=TaskConfig(format="free")),
    **{f"steps-{n}": DEFAULT.with_(stop_at=n) for n in STRENGTH_STEPS},
}


def base_config(name: str) -> PretrainConfig:
    check_choice("base", name, BASES)
    return BASES[name]
