"""Mirage image generation: decode clinical files, render identical PNGs for
real and synthetic images, and write or check blinded image pools.

Public API: `build_pool`, `check_pool`, `load_manifest`, `verify_files`.
The pool builder (pydicom, Pillow, tqdm) and the checker (scipy, pandas) are
imported on first use, so `from generation.manifest import load_manifest`
stays light for the web app.
"""

from generation.manifest import CODE_VERSION as __version__
from generation.manifest import ManifestError, load_manifest, verify_files

_LAZY = {
    "build_pool": "generation.pool",
    "PoolError": "generation.pool",
    "PoolSummary": "generation.pool",
    "check_pool": "generation.check",
    "CheckResult": "generation.check",
}

__all__ = ["__version__", "ManifestError", "load_manifest", "verify_files", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'generation' has no attribute {name!r}")
