"""The new models and sequence datasets in the Experiment form: generated from their declarations,
with the core's messages inline and Start disabled until they are fixed."""

from __future__ import annotations

from guitools import set_spec


def test_a_transformer_on_modular_arithmetic_from_the_form(window):
    set_spec(window, {"dataset": {"name": "modular", "p": 11}, "model": {"kind": "transformer", "d_model": 32},
                      "steps": 5, "device": "cpu"})
    spec = window.experiment.validate()
    assert spec is not None and spec.model.kind == "transformer" and spec.dataset["p"] == 11
    assert window.act_start.isEnabled()


def test_bad_model_fields_show_inline_and_block_start(window):
    exp = window.experiment
    set_spec(window, {"dataset": {"name": "modular"}, "model": {"kind": "transformer"}, "steps": 5, "device": "cpu"})
    data = exp.json()
    data["model"]["heads"] = 3
    exp.set_json(data)
    assert exp.validate() is None
    assert exp.problems["model.heads"] == "must divide d_model (128), got 3"
    assert not window.act_start.isEnabled()
    data = exp.json()
    data["dataset"] = {"name": "text"}  # no file named yet
    data["model"]["heads"] = 4
    exp.set_json(data)
    assert exp.validate() is None and "dataset.path" in exp.problems
