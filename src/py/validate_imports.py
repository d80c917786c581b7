"""Validate `module:Name` imports in the project's own context; answer one line of JSON.

Usage: python validate_imports.py SPEC_JSON
SPEC_JSON: {"imports": [...], "instantiate": [...], "preload": [...], "path": [...]}
Runs with the project directory as cwd and first on sys.path; the user's PYTHONPATH is kept.
Each import answers {"name", "status": "ok"|"error", "type", "error", "missing_module"}.
"""

import importlib
import json
import os
import sys


def describe(exc):
    """The exception's type and message, and the module whose absence caused it, if any."""
    missing = None
    seen = set()
    e = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ImportError) and getattr(e, "name", None):
            missing = e.name
            break
        e = e.__cause__ or e.__context__
    return {
        "type": type(exc).__name__,
        "error": str(exc)[:500],
        "missing_module": missing,
    }


def check(item, instantiate):
    module, _, attr = item.partition(":")
    result = {"name": item}
    try:
        obj = importlib.import_module(module)
        if attr:
            obj = getattr(obj, attr)
        if item in instantiate:
            obj()
        result["status"] = "ok"
    except BaseException as exc:  # noqa: BLE001 - every failure is reported, none raised
        result["status"] = "error"
        result.update(describe(exc))
    return result


def main():
    spec = json.loads(sys.argv[1])
    for p in reversed([os.getcwd()] + spec.get("path", [])):
        if p not in sys.path:
            sys.path.insert(0, p)
    out = {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "executable": sys.executable,
        "preload": [],
        "imports": [],
    }
    for mod in spec.get("preload", []):
        out["preload"].append(check(mod, []))
    instantiate = set(spec.get("instantiate", []))
    for item in spec.get("imports", []):
        out["imports"].append(check(item, instantiate))
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
