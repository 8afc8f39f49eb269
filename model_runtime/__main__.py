"""`python -m model_runtime`: Ponder's engine from the command line, no GUI needed."""

from .cli import main

raise SystemExit(main())
