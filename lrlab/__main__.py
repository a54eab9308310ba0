import sys

from lrlab.cli import main

sys.exit(main())
