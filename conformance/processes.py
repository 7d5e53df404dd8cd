"""Child processes that end with the command that started them.

A command killed with SIGKILL cannot clean up after itself: a pytest process it started would go on
measuring or training beside the next run on the same cores, and its timings would be nobody's.
On Linux the kernel sends such a child SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``);
elsewhere the child is left as before.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Callable

_PR_SET_PDEATHSIG = 1
# Looked up here, in the parent: the child runs between fork and exec, where loading a library
# could wait forever on a lock another of the parent's threads held at the fork.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def ending_with_this_process() -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess``: the child gets SIGTERM when the process that started it dies."""
    parent = os.getpid()

    def end_with_parent() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took hold
            os._exit(1)

    return end_with_parent
