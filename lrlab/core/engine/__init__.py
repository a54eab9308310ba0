"""The engine: torch at work. Data on the device, models, the real ``torch.optim`` optimizers,
the stacked maths of sweeps, devices, effective-LR quantiles, snapshots of a run's whole state,
resource limits, and private torch APIs behind :mod:`.compat`. Imports declarations only."""
