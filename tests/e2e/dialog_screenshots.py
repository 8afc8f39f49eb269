"""Save the first-run welcome and the About dialog as PNGs, for a person to look at.

`python tests/e2e/dialog_screenshots.py OUT_DIR` (any Qt platform; offscreen works). The
hardware is this machine's, detected for real, as the dialogs show it to a user.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def main(out_dir: Path) -> int:
    os.environ.setdefault("PONDER_HOME", tempfile.mkdtemp(prefix="ponder-shots-"))
    from PySide6.QtCore import QEventLoop, QTimer

    from desktop.app import create_application
    from desktop.dialogs.about import AboutDialog
    from desktop.dialogs.welcome import FirstRunDialog
    from desktop.engines.hardware_probe import HardwareProbe

    app = create_application()
    probe = HardwareProbe()
    loop = QEventLoop()
    probe.detected.connect(lambda _hw: loop.quit())
    probe.request()
    QTimer.singleShot(120_000, loop.quit)
    loop.exec()
    out_dir.mkdir(parents=True, exist_ok=True)

    welcome = FirstRunDialog(probe, starter_available=True)
    welcome.show()
    app.processEvents()
    welcome.grab().save(str(out_dir / "first-run.png"))
    about = AboutDialog(probe)
    about.show()
    app.processEvents()
    about.grab().save(str(out_dir / "about.png"))
    about.tabs.setCurrentIndex(1)
    app.processEvents()
    about.grab().save(str(out_dir / "about-components.png"))
    about.tabs.setCurrentIndex(2)
    app.processEvents()
    about.grab().save(str(out_dir / "about-models.png"))
    for name in ("first-run.png", "about.png", "about-components.png", "about-models.png"):
        print(out_dir / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")))
