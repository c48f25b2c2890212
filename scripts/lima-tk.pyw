"""Windows: double-click this file to start lima-tk without a console window.

It runs scripts/launch.py with the Python that opens .pyw files (pythonw): the first start sets up
lima-tk's own environment in a small window with a progress bar. Make a shortcut to this file
(right-click > Send to > Desktop) to start lima-tk from the desktop or the Start menu.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from launch import main  # noqa: E402 - the folder of this file must be on the path first

sys.exit(main())
