"""``lrlab pbt``: population-based training, a population that discovers its own LR schedule."""

from __future__ import annotations

import argparse

from lrlab.cli.common import (
    Commands,
    UsageError,
    add_json,
    add_out,
    add_quiet,
    add_set,
    add_spec,
    check_new_folder,
    command,
    file_stopped,
    print_json,
    spec_argument,
    warn,
)


def add_parser(commands: Commands) -> None:
    p = command(commands, "pbt", "population-based training: copy the best, perturb the LR",
                "Population-based training (Jaderberg et al., 2017): POPULATION copies of a run spec or preset "
                "train at once from LRs spread around its LR (a tenth to ten times). Every INTERVAL steps the "
                "members in the bottom QUANTILE by validation metric copy the weights and optimizer state of a "
                "member in the top QUANTILE (exploit) and multiply its LR by one of the PERTURB factors "
                "(explore), drawn with --seed. Writes one session per member and summary.json into a folder; "
                "the winner's LR over the run is printed as a schedule spec for the spec's LR. --transfer then "
                "trains that schedule from scratch as one run, to see whether it transfers.",
                ["lrlab pbt lr-well-chosen --population 8 --interval 100 -o pbt",
                 "lrlab pbt adam --population 16 --interval 50 --perturb 0.5,2 --json"])
    add_spec(p)
    p.add_argument("--population", type=int, required=True, metavar="K", help="members (2 to 256)")
    p.add_argument("--interval", type=int, required=True, metavar="STEPS",
                   help="steps between two exploit/explore rounds (at most the run's length)")
    p.add_argument("--quantile", type=float, default=0.25,
                   help="share of the population copied from and replaced, in (0, 0.5] (default 0.25)")
    p.add_argument("--perturb", default="0.8,1.25", metavar="LOW,HIGH",
                   help="the two factors an inherited LR is multiplied by, each > 0 (default 0.8,1.25)")
    p.add_argument("--seed", type=int, default=0, help="seed of the exploit and explore draws (default 0)")
    p.add_argument("--transfer", action="store_true",
                   help="then train the winner's schedule from scratch as one run and compare")
    add_set(p, "optimizer.name=adam")
    add_out(p, "folder", "a session per member and summary.json (new or empty; default: a new folder in the "
                         "sessions folder)")
    add_json(p, "the winner (its member, schedule and final validation metric), the members and their lineage")
    add_quiet(p)
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run the population with Ray Tune's PopulationBasedTraining scheduler (HOST:6379; without "
                        "ADDRESS: RAY_ADDRESS, else a local instance); needs pip install 'lrlab[cluster]'")
    p.set_defaults(func=execute, inputs=("spec",), folder_outputs=("out",))


def _perturb(text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise UsageError(f"--perturb: expected two factors LOW,HIGH, each > 0 (e.g. 0.8,1.25), got {text!r}") from None
    if not (low > 0 and high > 0) or low == float("inf") or high == float("inf"):
        raise UsageError(f"--perturb: each factor must be a finite number > 0, got {text!r}")
    return low, high


def execute(args: argparse.Namespace) -> int:
    from lrlab import api
    from lrlab.core.decl.params import SpecError
    from lrlab.core.runs.pbt import check_pbt

    perturb = _perturb(args.perturb)
    try:
        check_pbt(args.population, args.interval, args.quantile, perturb)
    except SpecError as err:  # named as the flags are
        path, message = err.problems[0]
        raise UsageError(f"--{path}: {message}") from None
    if args.seed < 0:
        raise UsageError(f"--seed: must be a whole number >= 0, got {args.seed}")
    label, spec = spec_argument(args)
    check_new_folder(args.out)
    try:
        result = api.start_pbt(label, spec, population=args.population, interval=args.interval,
                               quantile=args.quantile, perturb=perturb, seed=args.seed, out=args.out,
                               transfer=args.transfer, ray=args.ray, progress=not (args.quiet or args.json))
    except SpecError as err:
        if err.problems and err.problems[0][0] == "interval":
            raise UsageError(f"--interval: {err.problems[0][1]}") from None
        raise
    if file_stopped(result):
        return 1
    for failure in result.failures:
        warn(f"failed on the cluster: {failure}")
    if args.json:
        print_json(result.to_json(), indent=2)
        return 0
    print(result.folder)
    for m in result.members:
        metric = "-" if m["final_val_metric"] is None else f"{m['final_val_metric']:.4g}"
        steps = ", ".join(f"{s}: copied {src} (lr {lr:.3g})" for s, src, lr in m["lineage"]) or "never copied"
        print(f"member {m['member']}: final val {metric}; {steps}")
    if result.winner is None:
        print("winner: none, every member diverged: try lower LRs")
    else:
        w = result.winner
        print(f"winner: member {w['member']}, final validation metric {w['final_val_metric']:.4g}")
        import json

        print(f"its schedule (for optimizer.lr {spec.lr:g}): {json.dumps(w['schedule'])}")
    print(f"{result.exploits} exploits, {result.wall_time:.1f} s")
    if result.transfer is not None:
        t = result.transfer
        print(f"from scratch: final validation metric {t['final_val_metric']:.4g} ({t['session']})")
    return 0
