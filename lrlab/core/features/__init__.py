"""Features built on stored runs and the engine: the LR range test's analysis (:mod:`.lrfind`),
comparing sessions (:mod:`.compare`), decimated series for plots (:mod:`.series`) and the loss
landscape. The run kinds (:mod:`lrlab.core.runs`) use them; they never use the run kinds."""
