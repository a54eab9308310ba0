"""Token sequences generated from a seed, for the transformer: modular arithmetic (the grokking
task), copy and reverse, and character-level language modelling of a UTF-8 text file.

The datasets are declared in ``lrlab.core.decl.datasets``; these are their loaders' bodies. Each
returns int64 arrays ``x`` (N, T) of token ids and ``y`` (N,) of target ids, one target per sample:
the token that follows the sample's tokens. Tokens and targets share one numbering, so the
number of tokens is the number of classes and the transformer's vocabulary. numpy is imported
inside the functions: declarations load nothing heavy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrlab.core.decl.params import Kinded, SpecError

#: the largest text file read (its windows are copies: 1M windows of 64 characters is 0.5 GB)
TEXT_LIMIT = 64 * 2**20


def modular(spec: Kinded) -> tuple[Any, Any]:
    """Every pair (a, b) of residues mod p as the tokens ``[a, OP, b, EQ]`` (OP = p, EQ = p + 1)
    and the target ``a op b mod p``; division is multiplication by b's inverse (b != 0, p prime)."""
    import numpy as np

    p, op = spec["p"], spec["op"]
    if op == "/" and any(p % d == 0 for d in range(2, int(p ** 0.5) + 1)):
        raise SpecError([("dataset.p", f"must be prime for op '/' (every b needs an inverse), got {p}")])
    a, b = (g.reshape(-1) for g in np.meshgrid(np.arange(p), np.arange(1 if op == "/" else 0, p), indexing="ij"))
    if op == "+":
        c = (a + b) % p
    elif op == "-":
        c = (a - b) % p
    elif op == "*":
        c = (a * b) % p
    else:  # b^(p-2) is b's inverse mod a prime p (Fermat)
        c = (a * np.array([pow(int(v), p - 2, p) for v in b])) % p
    x = np.stack([a, np.full_like(a, p), b, np.full_like(a, p + 1)], axis=1)
    return x.astype(np.int64), c.astype(np.int64)


def _sequence_task(spec: Kinded, reverse: bool) -> tuple[Any, Any]:
    """Random sequences s of ``length`` symbols; a sample is s, SEP and the first j symbols of the
    answer (s, or s reversed), left-padded with PAD to 2 x length tokens; its target is answer[j]
    (j uniform). SEP = symbols, PAD = symbols + 1."""
    import numpy as np

    n, length, symbols = spec["n_samples"], spec["length"], spec["symbols"]
    rng = np.random.default_rng(spec["random_state"])
    s = rng.integers(0, symbols, size=(n, length))
    answer = s[:, ::-1] if reverse else s
    j = rng.integers(0, length, size=n)
    width = 2 * length
    x = np.full((n, width), symbols + 1, dtype=np.int64)
    for i in range(n):  # left padding keeps the query at the last position
        row = np.concatenate([s[i], [symbols], answer[i, :j[i]]])
        x[i, width - len(row):] = row
    return x, answer[np.arange(n), j].astype(np.int64)


def copy(spec: Kinded) -> tuple[Any, Any]:
    return _sequence_task(spec, reverse=False)


def reverse(spec: Kinded) -> tuple[Any, Any]:
    return _sequence_task(spec, reverse=True)


def read_text_file(path: str) -> str:
    """The whole text of a UTF-8 file; SpecError on ``dataset.path`` for anything else."""
    from lrlab.core.decl.files import read_text

    try:
        return read_text(Path(path).expanduser(), TEXT_LIMIT)
    except FileNotFoundError:
        raise SpecError([("dataset.path", f"no such file: {path}")]) from None
    except UnicodeDecodeError as err:
        raise SpecError([("dataset.path", f"{path} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at "
                                          f"offset {err.start:,}); save it as UTF-8")]) from None
    except (OSError, ValueError) as err:
        raise SpecError([("dataset.path", f"cannot read {path}: {err}")]) from None


def text(spec: Kinded, n_val: int) -> tuple[Any, Any]:
    """``n_samples`` windows of ``context`` characters and the character after each, as indices
    into the file's sorted alphabet, the last ``n_val`` of them (the text family's share,
    declared with it) for validation. The text is cut at ``1 - val_fraction`` of its length:
    training windows start in the head, validation windows lie wholly in the tail, so no
    validation character was trained on as a target."""
    import numpy as np

    chars = read_text_file(spec["path"])
    context, n = spec["context"], spec["n_samples"]
    cut = int(len(chars) * (1 - spec["val_fraction"]))
    need = context + 2
    if cut < need or len(chars) - cut < need:
        shortest = int(need / min(spec["val_fraction"], 1 - spec["val_fraction"])) + 1
        raise SpecError([("dataset.path", f"{spec['path']} has {len(chars):,} characters: too short for windows of "
                                          f"{context} in both its head and its {spec['val_fraction']:g} tail; "
                                          f"it needs at least {shortest:,}, or a smaller dataset.context")])
    alphabet = sorted(set(chars))
    lookup = {c: i for i, c in enumerate(alphabet)}
    tokens = np.fromiter((lookup[c] for c in chars), dtype=np.int64, count=len(chars))
    rng = np.random.default_rng(spec["split_seed"])
    starts = np.concatenate([rng.integers(0, cut - context, size=n - n_val),
                             rng.integers(cut, len(chars) - context, size=n_val)])
    x = tokens[starts[:, None] + np.arange(context)]
    return x, tokens[starts + context]
