"""Small file helpers shared by the writers: permissions of files written atomically.

`tempfile.mkstemp` creates files with mode 0600 and `mkdtemp` folders with 0700, which
would make every report and station file private to its writer once moved into place.
`umask_mode` gives them the modes an ordinary `open()`/`mkdir()` would have.
"""

from __future__ import annotations

import os
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def umask_mode(path: str | Path) -> None:
    """Set `path` to 0666 (files) or 0777 (folders) minus the process umask."""
    base = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, base & ~_umask())
