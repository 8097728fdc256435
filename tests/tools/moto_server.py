"""moto's server with the sandbox's patches applied (tests/tools/moto_patches/).

Each patch module documents the moto gap it covers and why the roles must not work around
it themselves. Patches only ever change the emulator, never the collection's code.
"""

import importlib
import pkgutil
import sys

# A sibling package: tests/tools is sys.path[0] when this file runs as a script (how
# tests/tools/sandbox/aws.py starts it), and on pytest's pythonpath (pytest.ini) for the tests.
import moto_patches


def apply_patches():
    applied = []
    for info in sorted(pkgutil.iter_modules(moto_patches.__path__), key=lambda i: i.name):
        module = importlib.import_module("moto_patches." + info.name)
        module.apply()
        applied.append(info.name)
    return applied


def main():
    applied = apply_patches()
    print("moto patches applied: %s" % (", ".join(applied) or "none"), file=sys.stderr, flush=True)
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
