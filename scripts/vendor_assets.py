"""Copy the front-end packages pinned in package.json (installed from the npm registry) into static/vendor, where
Django serves them: the UI loads nothing from a CDN, and a fresh clone runs without Node.js because the copies are
committed. After changing a version in package.json:

    npm install --ignore-scripts && python scripts/vendor_assets.py

tests/test_vendor_assets.py fails when a committed copy is not the version package.json pins."""

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "static" / "vendor"
# package -> (files inside the package, folder under static/vendor)
FILES = {
    "bootstrap": (
        [
            "dist/css/bootstrap.min.css",
            "dist/css/bootstrap.min.css.map",
            "dist/js/bootstrap.bundle.min.js",
            "dist/js/bootstrap.bundle.min.js.map",
            "LICENSE",
        ],
        "bootstrap",
    ),
    "htmx.org": (["dist/htmx.min.js", "LICENSE"], "htmx"),
}


def main() -> int:
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]
    for package, (files, folder) in FILES.items():
        source = ROOT / "node_modules" / package
        try:
            installed = json.loads((source / "package.json").read_text())["version"]
        except FileNotFoundError:
            print(f"{package} is not installed: run `npm install --ignore-scripts` first", file=sys.stderr)
            return 1
        if installed != pinned[package]:
            print(f"{package} {installed} is installed but package.json pins {pinned[package]}", file=sys.stderr)
            return 1
        target = VENDOR / folder
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copyfile(source / name, target / Path(name).name)
        (target / "VERSION").write_text(f"{package}@{installed}\n")
        print(f"static/vendor/{folder}: {package} {installed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
