# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""No secret leaks from a deployment: `ansible-playbook site.yml -i inventories/sandbox -vvv`
on a sandbox of its own, with DAGs from Git over SSH and a deploy key generated for the run
(pasted with CRLF line ends and no final newline, so the key's repair path runs too).

Every secret value the run generated or handled is collected afterwards: each field of every
Secrets Manager secret (the database passwords, the Airflow Fernet, API and JWT keys, the admin
password) and each secret as a whole, the data of every Kubernetes Secret the roles wrote
(connection URIs, PgBouncer's users, the deploy key as stored), the deploy key as generated and
as pasted, and the kubeconfig's client key. Fields that are public by design are left out by
name (user names, host, port, database names, known_hosts, pgbouncer.ini), and so are values
shorter than 12 characters (none of the generated ones is).

Each value is searched as is, JSON- and URL-escaped, in base64 at the three alignments it can
take inside longer base64 text, and for a private key each body line that is unique to the key,
in: the run's stdout, stderr and Ansible log (ANSIBLE_LOG_PATH); Helm's release records (the
values and the rendered manifests); every ConfigMap, workload and pod spec in the cluster; and
every file written since the run started under the repository, /tmp and ~/.ansible, ~/.kube,
~/.cache/helm, ~/.config/helm (the sandbox's own state, which plays AWS and the cluster, is not
searched). A hit names the place, the secret's origin and the form, never the value.

The run is shared with tests/integration/test_static_security.py and the other readers of the
session fixture site_run (tests/integration/conftest.py, site_capture.py): once per pytest
process, about three minutes on two cores.
"""

import base64
import json
import secrets as random_secrets
import urllib.parse

import pytest

import site_capture
from figures import write_figures

pytestmark = [pytest.mark.aws, pytest.mark.k8s]

# What the sandbox deployment must have generated, by origin prefix: each is searched.
EXPECTED_GENERATED = [
    "Secrets Manager mlops-sandbox/rds-metadata/master[password]",
    "Secrets Manager mlops-sandbox/rds-metadata/airflow[password]",
    "Secrets Manager mlops-sandbox/rds-metadata/mlflow[password]",
    "Secrets Manager mlops/mlops-sandbox/airflow/airflow/app[fernet_key]",
    "Secrets Manager mlops/mlops-sandbox/airflow/airflow/app[api_secret_key]",
    "Secrets Manager mlops/mlops-sandbox/airflow/airflow/app[jwt_secret]",
    "Secrets Manager mlops/mlops-sandbox/airflow/airflow/admin[password]",
    "Kubernetes Secret mlflow/mlflow-backend-store[uri]",
    "Kubernetes Secret airflow/airflow-metadata[connection]",
    "Kubernetes Secret airflow/airflow-pgbouncer-config[users.txt]",
    "deploy key (as generated)",
    "deploy key (as pasted: CRLF, no final newline)",
]


def test_site_yml_runs_at_vvv_with_a_deploy_key(site_run, request):
    assert site_run["recap"], "no PLAY RECAP in the output"
    assert "failed=0" in site_run["recap"] and "unreachable=0" in site_run["recap"], site_run["recap"]
    assert site_run["verbose"], "the output does not look like -vvv (no connection lines or module invocations)"
    write_figures(request, [
        "secrets scan: site.yml -vvv (gitsync with a generated deploy key) ran in %.0f s, %d lines of output; %s"
        % (site_run["playbook_seconds"], site_run["stdout_lines"], site_run["recap"].split(":", 1)[1].strip()),
    ])


def test_every_generated_secret_is_collected(site_run, request):
    secrets = site_run["secrets"]
    origins = secrets["origins"]
    missing = [name for name in EXPECTED_GENERATED if name not in origins]
    assert not missing, "not collected (so not searched): %s" % missing
    # The Secret git-sync reads holds the repaired key, the value "deploy key (as generated)".
    assert "airflow/airflow-ssh-secret" in secrets["kubernetes_secrets"]
    assert not secrets["short"], "values too short to search: %s" % secrets["short"]
    generated = {origin: length for origin, length in secrets["lengths"].items() if origin.startswith("Secrets Manager ")
                 and origin.endswith("]")}
    assert generated and min(generated.values()) >= 32, generated
    write_figures(request, [
        "secrets scan: %d distinct secret values collected (%d Secrets Manager secrets, %d Kubernetes Secrets, "
        "the deploy key, the kubeconfig's client key); %d public fields left out by name, %d values too short"
        % (secrets["count"], len(secrets["secrets_manager"]), len(secrets["kubernetes_secrets"]),
           len(secrets["public"]), len(secrets["short"])),
    ])


def test_no_secret_in_output_logs_or_files(site_run, request):
    scan = site_run["scan"]
    scanned = scan["scanned"]
    assert scanned["places"] >= 4 and scanned["files"] > 0 and scan["needles"] > site_run["secrets"]["count"]
    hits = ["%s: %s (%s)" % (hit["where"], hit["secret"], hit["form"]) for hit in scan["hits"]]
    assert not hits, "secret values found (place: secret, form):\n" + "\n".join(hits)
    write_figures(request, [
        "secrets scan: %d values in %d forms searched in %d places (output, log, Helm records, cluster specs) and "
        "%d files written since the run started (%.1f MB), %d unreadable; %d hits in %.1f s"
        % (site_run["secrets"]["count"], scan["needles"], scanned["places"], scanned["files"],
           scanned["bytes"] / 1e6, scanned["unreadable"], len(hits), scan["seconds"]),
    ])


def test_the_scan_finds_a_planted_secret_in_every_form(tmp_path, request):
    """The scanner itself: a password and a private key planted in the forms a leak takes are
    all found (a scan that finds nothing proves little unless it can find something)."""
    # "+/=" are escaped in a URL, so the URL-encoded form differs from the raw one.
    password = "Planted+/=" + random_secrets.token_hex(16)
    key = site_capture.keygen(str(tmp_path), "planted")
    found = site_capture.Secrets()
    found.add("planted password", password)
    found.add("planted key", key)
    root = tmp_path / "root"
    root.mkdir()
    body = [line for line in key.splitlines() if not line.startswith("-----")]
    planted = {
        "raw.log": "ok: [localhost] => password=%s\n" % password,
        "url.log": "postgresql://airflow:%s@db:5432/airflow\n" % urllib.parse.quote(password, safe=""),
        "json.log": json.dumps({"msg": key}),
        "base64-aligned.yml": "data:\n  password: %s\n" % base64.b64encode(password.encode()).decode(),
        "base64-shift-1.txt": base64.b64encode(("x%s!" % password).encode()).decode(),
        "base64-shift-2.txt": base64.b64encode(("xy%s!!" % password).encode()).decode(),
        "key-line.txt": "fragment %s fragment" % body[len(body) // 2],
    }
    for name, text in planted.items():
        (root / name).write_text(text)
    (root / "clean.txt").write_text("nothing secret here: " + "A" * 100)
    result = site_capture.scan_places(found, set(), [("planted stdout", ("changed: " + password).encode())],
                                      [str(root)], 0, set())
    places = {hit["where"] for hit in result["hits"]}
    expected = {str(root / name) for name in planted} | {"planted stdout"}
    assert places == expected, "missed: %s; unexpected: %s" % (sorted(expected - places), sorted(places - expected))
    write_figures(request, [
        "secrets scan self-test: a planted password and key found in all %d planted places (raw, URL-encoded, "
        "JSON-escaped, base64 at 3 alignments, one key line), none in a clean file" % len(expected),
    ])
