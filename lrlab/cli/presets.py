"""``lrlab presets``: the bundled experiments, by name."""

from __future__ import annotations

import argparse

from lrlab.cli.common import Commands, add_json, command, print_json


def add_parser(commands: Commands) -> None:
    p = command(commands, "presets", "list the bundled presets",
                "The bundled experiments in teaching order: LR too high, too low and well chosen, schedules, "
                "optimizers. Any command that takes a run spec takes a preset's name instead.",
                ["lrlab presets", "lrlab run lr-too-high"])
    add_json(p, "each preset's name, title, group, explanation and run spec")
    p.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    from lrlab import api

    presets = api.presets()
    if args.json:
        print_json(presets, indent=2)
        return 0
    for p in presets:
        print(f"{p['name']:<28} {p['title']}")
    return 0
