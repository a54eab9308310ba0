"""Entry point of the bundled app: the same `lrlab` command, GUI by default."""

import sys

from lrlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
