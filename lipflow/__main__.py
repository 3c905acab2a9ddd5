import sys

from lipflow.cli import main

sys.exit(main())
