"""The profile's packages and everything they require, as this interpreter has them installed.

Usage: python -I venv_packages.py SPEC_JSON
SPEC_JSON: {"roots": ["kailash", "kailash[db-postgres]", ...]}
Answers one line of JSON: {"python", "executable", "packages": [{"name", "version", "sha256",
"editable", "root"}], "missing": [root names not installed]}.

A package's sha256 is taken over its RECORD: the sorted "path,hash" lines of the files the
wheel put into site-packages (installer bookkeeping and scripts outside site-packages left out,
so that pip and uv, and any venv location, give the same value). Editable installs point at a
checkout and have no such hash (null).
"""

import csv
import hashlib
import json
import re
import sys
from importlib import metadata

try:
    from packaging.markers import UndefinedEnvironmentName
    from packaging.requirements import Requirement
except Exception:  # noqa: BLE001 - fall back to pip's copy, then to names alone
    try:
        from pip._vendor.packaging.markers import UndefinedEnvironmentName
        from pip._vendor.packaging.requirements import Requirement
    except Exception:  # noqa: BLE001
        Requirement = None
        UndefinedEnvironmentName = Exception

BOOKKEEPING = {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD", "uv_cache.json"}
NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text):
    """(name, extras, marker or None) of a requirement string."""
    if Requirement is not None:
        try:
            r = Requirement(text)
            return norm(r.name), set(r.extras), r.marker
        except Exception:  # noqa: BLE001 - an unparsable requirement is read by name alone
            pass
    m = NAME.match(text)
    if not m:
        return None, set(), None
    extras = {e.strip() for e in (m.group(2) or "").split(",") if e.strip()}
    return norm(m.group(1)), extras, None


def applies(marker, extras):
    if marker is None:
        return True
    for extra in sorted(extras) or [""]:
        try:
            if marker.evaluate({"extra": extra}):
                return True
        except UndefinedEnvironmentName:
            return True
        except Exception:  # noqa: BLE001 - a marker that cannot be evaluated is kept
            return True
    return False


def editable(dist):
    try:
        info = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return False
    return bool(info.get("dir_info", {}).get("editable"))


def record_hash(dist):
    text = dist.read_text("RECORD")
    if not text:
        return None
    lines = []
    for row in csv.reader(text.splitlines()):
        if len(row) < 2 or not row[1]:
            continue
        path = row[0].replace("\\", "/")
        if path.startswith("..") or path.startswith("/"):
            continue
        base = path.rsplit("/", 1)[-1]
        if ".dist-info/" in path and base in BOOKKEEPING:
            continue
        lines.append(path + "," + row[1])
    lines.sort()
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def installed():
    out = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and norm(name) not in out:
            out[norm(name)] = dist
    return out


def closure(roots, dists):
    """Every installed package the roots require, with the extras asked of each."""
    wanted = {}
    missing = []
    queue = []
    for text in roots:
        name, extras, _ = parse(text)
        if name is None:
            continue
        if name not in dists:
            missing.append(name)
            continue
        queue.append((name, extras, True))
    while queue:
        name, extras, root = queue.pop()
        seen = wanted.get(name)
        if seen is not None and extras <= seen["extras"]:
            seen["root"] = seen["root"] or root
            continue
        entry = seen or {"extras": set(), "root": root}
        entry["extras"] |= extras
        wanted[name] = entry
        for req in dists[name].requires or []:
            dep, dep_extras, marker = parse(req)
            if dep in dists and applies(marker, entry["extras"]):
                queue.append((dep, dep_extras, False))
    return wanted, missing


def main():
    spec = json.loads(sys.argv[1])
    dists = installed()
    wanted, missing = closure(spec.get("roots", []), dists)
    packages = []
    for name in sorted(wanted):
        dist = dists[name]
        is_editable = editable(dist)
        packages.append(
            {
                "name": name,
                "version": dist.version,
                "sha256": None if is_editable else record_hash(dist),
                "editable": is_editable,
                "root": wanted[name]["root"],
            }
        )
    print(
        json.dumps(
            {
                "python": "%d.%d.%d" % sys.version_info[:3],
                "executable": sys.executable,
                "packages": packages,
                "missing": sorted(set(missing)),
            }
        )
    )


if __name__ == "__main__":
    main()
