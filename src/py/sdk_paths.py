"""Locate installed packages without importing them; answer JSON on stdout.

Usage: python sdk_paths.py NAME [NAME ...]
For each name: {"paths": [...source directories or files...], "version": "x.y.z" or null},
or null when the package is not installed.
"""

import importlib.util
import json
import sys


def locate(name):
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return None
    paths = list(spec.submodule_search_locations or [])
    if not paths and spec.origin:
        paths = [spec.origin]
    try:
        from importlib.metadata import version

        ver = version(name)
    except Exception:
        ver = None
    return {"paths": paths, "version": ver}


print(json.dumps({name: locate(name) for name in sys.argv[1:]}))
