"""Run specs: validation names every bad field; JSON round trips are lossless."""

from __future__ import annotations

import json

import pytest

from lrlab.core.decl.spec import RunSpec, SpecError

EXAMPLE = {
    "dataset": {"name": "digits", "val_fraction": 0.2},
    "model": {"kind": "mlp", "hidden": [128], "activation": "relu"},
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0},
    "schedule": {"kind": "cosine", "T_max": 2000, "eta_min": 0.0},
    "batch_size": 64,
    "epochs": 10,
    "seed": 0,
    "device": "auto",
}


def test_example_spec_loads_and_fills_defaults():
    spec = RunSpec.from_json(EXAMPLE)
    assert spec.optimizer["lr"] == 0.1 and spec.optimizer["nesterov"] is False
    assert spec.model["hidden"] == (128,)
    assert spec.task == "classification"
    out = spec.to_json()
    for key, value in EXAMPLE.items():
        if isinstance(value, dict):
            assert value.items() <= out[key].items()
        else:
            assert out[key] == value


def test_round_trip_through_json_text_is_lossless():
    spec = RunSpec.from_json(EXAMPLE)
    text = json.dumps(spec.to_json())
    again = RunSpec.from_json(json.loads(text))
    assert again == spec
    assert json.dumps(again.to_json()) == text


def test_every_problem_reported_with_its_path():
    bad = dict(EXAMPLE, optimizer={"name": "sgd", "lr": -1}, schedule={"kind": "cosin"},
               batch_size=0, colour="red", model={"kind": "mlp", "hidden": [0, 3.5]})
    with pytest.raises(SpecError) as err:
        RunSpec.from_json(bad)
    text = str(err.value)
    assert "optimizer.lr: must be a finite number > 0 and <= 1000, got -1" in text
    assert "schedule.kind: unknown 'cosin', did you mean 'cosine'?" in text
    assert "batch_size: must be an integer in [1, 1000000], got 0" in text
    assert "colour: unknown field" in text
    assert "model.hidden[0]: must be an integer" in text and "model.hidden[1]" in text
    assert len(err.value.problems) == 6


@pytest.mark.parametrize("patch, message", [
    ({"device": "gpu"}, "device: must be one of auto, cpu, cuda, cuda:N, mps"),
    ({"seed": -1}, "seed: must be an integer"),
    ({"seed": True}, "seed: must be an integer"),
    ({"optimizer": {"name": "adamm"}}, "optimizer.name: unknown 'adamm', did you mean 'adam'?"),
    ({"optimizer": {"name": "sgd", "nesterov": True}}, "optimizer.nesterov: needs momentum > 0"),
    ({"optimizer": {"name": "adam", "betas": [0.9]}}, "optimizer.betas: must have exactly 2 item(s)"),
    ({"dataset": {"name": "moons", "noise": "lots"}}, "dataset.noise: must be a finite number"),
    ({"dataset": {"name": "iris", "noise": 0.1}}, "dataset.noise: unknown field"),
    ({"dataset": {}}, "dataset.name: is required"),
])
def test_field_errors(patch, message):
    with pytest.raises(SpecError) as err:
        RunSpec.from_json(dict(EXAMPLE, **patch))
    assert message in str(err.value)


def test_with_changes_validates_again():
    spec = RunSpec.from_json(EXAMPLE)
    assert spec.with_changes({"optimizer.lr": 0.01, "seed": 3}).lr == 0.01
    with pytest.raises(SpecError, match=r"optimizer\.lr"):
        spec.with_changes({"optimizer.lr": 0})


def test_with_changes_switching_kind_drops_only_the_old_kinds_defaults():
    spec = RunSpec.from_json(dict(EXAMPLE, optimizer={"name": "adagrad", "lr": 0.05}))
    adam = spec.with_changes({"optimizer.name": "adam"})
    assert adam.optimizer.kind == "adam" and adam.lr == 0.05 and adam.optimizer["betas"] == (0.9, 0.999)
    decaying = RunSpec.from_json(dict(EXAMPLE, optimizer={"name": "adagrad", "lr": 0.05, "lr_decay": 0.1}))
    with pytest.raises(SpecError, match=r"optimizer\.lr_decay: unknown field"):
        decaying.with_changes({"optimizer.name": "adam"})
    with pytest.raises(SpecError, match=r"schedule\.T_max\.x: no such field to set: schedule\.T_max is 2000, not"):
        spec.with_changes({"schedule.T_max.x": 1})


def test_the_optimizer_field_list_is_the_optimizer_edits_own_declaration():
    """Which hyperparameters a mid-run edit or a fork may change is declared once, by the
    "optimizer" edit; the edit panel, the fork and the trainer's messages read it from there."""
    from lrlab.core.decl.schedules import EDITS
    from lrlab.core.decl.spec import OPTIMIZER_FIELDS, editable_hyperparameters

    assert tuple(p.name for p in EDITS.params_of("optimizer")) == OPTIMIZER_FIELDS

    def of(name: str) -> tuple[str, ...]:
        return editable_hyperparameters(RunSpec.from_json({"optimizer": {"name": name}}).optimizer)

    assert of("sgd") == ("momentum", "weight_decay", "dampening")
    assert of("adam") == ("weight_decay", "betas", "eps")
    assert of("rmsprop") == ("momentum", "weight_decay", "alpha", "eps")
