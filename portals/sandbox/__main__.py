import sys

from portals.sandbox.cli import main

sys.exit(main())
