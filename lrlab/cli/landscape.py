"""``lrlab landscape``: optimizers on a 2-D loss surface: final points, PNG and CSV.

The short forms (``adam:lr=0.05,betas=0.9:0.999``) are the API's grammar
(:func:`lrlab.api.landscape`); this module only names each input by its flag.
"""

from __future__ import annotations

import argparse
import sys

from lrlab.cli.common import (
    Commands,
    add_edit,
    add_json,
    add_out,
    command,
    offscreen_app,
    parse_edits,
    positive_int,
    print_json,
)

#: what set each part of the landscape, as problems name it (``--opt 2: lr must be ...``)
WORDS = {"surface": "SURFACE", "demo": "--demo", "optimizer": "--opt {n}", "schedule": "--schedule {n}",
         "schedules": "--schedule", "start": "--start", "steps": "--steps", "seed": "--seed", "edit": "--edit {step}",
         "nothing": "landscape: name a SURFACE (e.g. quadratic; 'lrlab landscape --list' lists them) or a --demo",
         "count": "give one for every trajectory or one for {n} --opt, got {k}",
         "start_form": "expected X,Y (two numbers; --start=-1.5,2 for a negative x)"}


def add_parser(commands: Commands) -> None:
    p = command(commands, "landscape", "optimizers on a 2-D loss surface",
                "Run real torch.optim optimizers with lrlab schedules on a 2-D surface and print each "
                "trajectory's final point, loss and status (converged, running, diverged at step N: it left "
                "the view box). Optimizers and schedules are NAME:key=value,...; lists take colons "
                "(betas=0.9:0.999).",
                ["lrlab landscape --list",
                 "lrlab landscape quadratic --opt sgd:lr=0.1 --opt adam:lr=0.05,betas=0.9:0.999 --png l.png",
                 "lrlab landscape --demo saddle --edit '40:{\"kind\":\"scale\",\"factor\":0.5,\"trajectory\":2}'"])
    p.add_argument("surface", nargs="?", metavar="SURFACE",
                   help="quadratic, rosenbrock, beale, himmelblau, saddle or noisy_bowl, with parameters as "
                        "quadratic:condition=100 (see --list)")
    p.add_argument("--list", action="store_true", help="name the surfaces with their formulas, and the demos")
    p.add_argument("--demo", metavar="NAME", help="a bundled set-up, e.g. quadratic-all (see --list)")
    p.add_argument("--opt", action="append", metavar="NAME:K=V,...",
                   help="a trajectory's optimizer, e.g. sgd:lr=0.1 or adam:lr=0.05,betas=0.9:0.999 (repeat, up to 6)")
    p.add_argument("--schedule", action="append", metavar="KIND:K=V,...",
                   help="LR schedule: one for all trajectories or one per --opt, e.g. cosine:T_max=run")
    p.add_argument("--start", metavar="X,Y", help="start point inside the view box (--start=-1.5,2 for a negative x)")
    p.add_argument("--steps", type=positive_int("--steps"), help="optimizer steps (default 200)")
    p.add_argument("--seed", type=positive_int("--seed"), help="seed of the noisy bowl's gradient noise")
    add_edit(p, '40:{"kind":"scale","factor":0.5,"trajectory":2}')
    p.add_argument("--png", metavar="FILE", help="write the picture as PNG (no display needed)")
    p.add_argument("--csv", metavar="FILE", help="write trajectory,optimizer,step,x,y,loss,lr,status rows")
    add_out(p, "file", "also save the run as a session of kind landscape (default: not saved)")
    add_json(p, "each trajectory's final point, loss, status and path (the file names go to stderr)")
    p.set_defaults(func=execute, file_outputs=("out", "png", "csv"))


def execute(args: argparse.Namespace) -> int:
    from lrlab import api
    from lrlab.core.features.landscape import DEMOS, describe_critical, describe_results, surface_list

    if args.list:
        for kind, title, formula in surface_list():
            print(f"{kind:<12} {title}\n             {formula}")
        print("\ndemos (--demo NAME):")
        for name, demo in DEMOS.items():
            print(f"  {name:<24} {demo.title}")
        return 0
    land = api.landscape(args.surface, demo=args.demo, optimizers=args.opt or (), schedules=args.schedule or (),
                         start=args.start, steps=args.steps, seed=args.seed,
                         edits=parse_edits(args.edit or [], check=False), out=args.out, words=WORDS)
    notes = sys.stderr if args.json else sys.stdout  # with --json, stdout holds the JSON alone
    if args.json:
        print_json({"spec": land.spec.to_json(), "steps": land.step, "trajectories": land.results()})
    else:
        surface = land.surface
        x, y = land.start
        print(f"{surface.kind}: {surface.describe()}; start ({x:g}, {y:g}); {land.step} of {land.spec.steps} steps")
        print(describe_critical(surface))
        for line in describe_results(land):
            print(line)
    if args.out:
        print(args.out, file=notes)
    if args.csv:
        from lrlab.core.features.landscape import write_csv

        rows = write_csv(land, args.csv)
        print(f"{args.csv}: {rows} rows", file=notes)
    if args.png:
        offscreen_app()
        from lrlab.gui.landscape import render_png

        render_png(land, args.png)
        print(args.png, file=notes)
    return 0
