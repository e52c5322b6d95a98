import sys

from base.cli import main

sys.exit(main())
