"""The typed experiment configuration: one clear error per bad value, the on-policy guard, run identity."""

import pytest

from rlvr_lib._checks import ConfigError
from rlvr_lib.rl.config import ExperimentConfig


def test_on_policy_guard():
    with pytest.raises(ConfigError, match="can never act"):
        ExperimentConfig(clip_rule="symmetric", steps_per_generation=1, num_iterations=1)
    ExperimentConfig(clip_rule="none", steps_per_generation=1)
    ExperimentConfig(clip_rule="symmetric", steps_per_generation=1, allow_inert_clip=True)
    ExperimentConfig(clip_rule="symmetric", steps_per_generation=1, num_iterations=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(learning_rat=1e-5), "unknown parameter"),
        (dict(epsilon="0.2"), "epsilon must be of type float"),
        (dict(max_steps=2.5), "max_steps must be of type int"),
        (dict(num_generations=1), "num_generations must be an int"),
        (dict(reward={"oracle": 1.0}), "reward must be one of"),
        (dict(reward_p=1.2), "reward_p"),
        (dict(loss_type="sum"), "loss_type must be one of"),
        (dict(clip_rule="two_sided"), "delta must be set"),
    ],
)
def test_bad_experiment_parameters(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ExperimentConfig.from_dict(kwargs)


def test_run_id_ignores_labels_and_tracks_every_setting():
    a = ExperimentConfig(name="a", output_root="x", experiment="e")
    assert a.run_id == ExperimentConfig(name="b", output_root="y", experiment="f").run_id
    assert a.run_id == ExperimentConfig(clip_rule="symmetric", epsilon=0.2).run_id  # explicit defaults: same run
    assert a.run_id != ExperimentConfig(epsilon=0.3).run_id != ExperimentConfig(seed=1).run_id


def test_grpo_config_expresses_the_clip_rule_through_trl():
    g = ExperimentConfig(clip_rule="upper_only", epsilon=0.2).grpo_config("/tmp/x")
    assert g.epsilon == 1e9 and g.epsilon_high == pytest.approx(0.2)
    g = ExperimentConfig(clip_rule="none").grpo_config("/tmp/x")
    assert g.epsilon == g.epsilon_high == 1e9
