"""`python -m dagster_project.cli`: the `highneeds` command."""

import sys

from . import main

sys.exit(main())
