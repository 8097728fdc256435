"""moto's server with the sandbox's patches applied (tests/tools/moto_patches/).

Each patch module documents the moto gap it covers and why the roles must not work around
it themselves. Patches only ever change the emulator, never the collection's code.
"""

import importlib
import os
import pkgutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def apply_patches():
    sys.path.insert(0, HERE)
    import moto_patches

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
