"""The frozen app's entry point; PyInstaller runs it as __main__ (in engine children too)."""

import sys

from desktop.app import main

if __name__ == "__main__":
    sys.exit(main())
