# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The environment to run ansible-playbook, molecule, helm and kubectl from this checkout.

What `make` exports (the venv's tools first on PATH, the repository's ansible.cfg, the checkout as
the collection through build/collections), without colour, and without the caller's real AWS
or cluster identity, so a test or a benchmark never reaches a real account or cluster.
Used by tests/conftest.py, tests/integration/site_capture.py and bench/deploy.py.
"""

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)
# A developer's identity: never passed on.
IDENTITY = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "KUBECONFIG")


def checkout_env(unset=(), venv_bin=VENV_BIN):
    """os.environ with the checkout's settings (``venv_bin`` first on PATH), without IDENTITY and
    the names in ``unset``."""
    env = dict(os.environ)
    env.update({
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
        "ANSIBLE_CONFIG": os.path.join(REPO_ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO_ROOT, "build", "collections"),
        "ANSIBLE_HOME": os.path.join(REPO_ROOT, "build", "ansible-home"),
        "PYTHONPATH": os.path.join(REPO_ROOT, "build", "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    })
    for key in IDENTITY + tuple(unset):
        env.pop(key, None)
    return env
