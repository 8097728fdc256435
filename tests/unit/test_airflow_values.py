"""The chart values airflow_helm renders, validated against the official chart's own schema.

Every combination the role can produce (DAG mode x executor x remote logging x ingress, 24 of
them; eight also carry a variant that changes the shape of the values: the seeds' git-sync
settings, a pinned revision, custom images, PgBouncer and metrics off, HTTPS ingress, KMS logs,
extra values) is rendered by the role's own tasks
(``tasks_from: validate`` then ``tasks_from: values``) in one ansible-playbook run, then checked
with ``jsonschema`` against ``../shared/reference/airflow-chart-1.19.0/values.schema.json``,
alone and merged over the official ``values.yaml`` (what Helm validates). The schema accepts
unknown top-level keys, so the test closes the root too: a wrong key anywhere fails.

No server is involved: validate.yml makes no API call and values.yml only renders a template.
"""

import copy
import json
import os

import pytest
import yaml

from airflow_cases import BASE_VARS, CASES, DAG_MODES, EXECUTORS, GUARD_VALUE, PRODUCT, REFERENCE_DIR, VARIANTS


def _require_reference():
    missing = [name for name in ("values.yaml", "values.schema.json")
               if not os.path.isfile(os.path.join(REFERENCE_DIR, name))]
    if missing:
        pytest.fail("The official Airflow chart reference data is missing: %s not found in %s (expected beside "
                    "the checkout as ../shared/reference/airflow-chart-1.19.0/)." % (", ".join(missing), REFERENCE_DIR))


_REFERENCE = {}


def _load_reference():
    if "schema" in _REFERENCE:
        return _REFERENCE["schema"], _REFERENCE["defaults"]
    _require_reference()
    with open(os.path.join(REFERENCE_DIR, "values.schema.json")) as handle:
        schema = json.load(handle)
    with open(os.path.join(REFERENCE_DIR, "values.yaml")) as handle:
        defaults = yaml.safe_load(handle)
    _REFERENCE.update(schema=schema, defaults=defaults, strict=_strict(schema))
    return schema, defaults


def _strict(schema):
    """The official schema with its root closed (it lists every top-level key but allows others)."""
    strict = copy.deepcopy(schema)
    strict["additionalProperties"] = False
    return strict


def _merge(base, override):
    """Helm's merge of user values over the chart's values.yaml (maps merge, the rest replaces)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


_VALIDATORS = {}


def _errors(schema, values):
    import jsonschema

    key = id(schema)
    if key not in _VALIDATORS:
        validator_cls = jsonschema.validators.validator_for(schema)
        validator_cls.check_schema(schema)
        _VALIDATORS[key] = (schema, validator_cls(schema))
    validator = _VALIDATORS[key][1]
    return ["%s: %s" % ("/".join(str(p) for p in error.absolute_path) or "<root>", error.message[:300])
            for error in validator.iter_errors(values)]


@pytest.fixture(scope="module")
def rendered(airflow_rendered):
    _require_reference()
    return airflow_rendered


def test_reference_schema_covers_every_default_key():
    schema, defaults = _load_reference()
    assert set(defaults) <= set(schema["properties"]), set(defaults) - set(schema["properties"])


def test_combination_matrix_is_complete():
    assert len(set(PRODUCT)) == len(DAG_MODES) * len(EXECUTORS) * 2 * 2 == 24
    assert set(PRODUCT) == set(CASES)
    assert set(VARIANTS) <= set(PRODUCT)


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_validate_against_the_official_schema(name, rendered):
    defaults = _load_reference()[1]
    values = rendered[0][name]
    strict = _REFERENCE["strict"]
    errors = _errors(strict, values)
    assert not errors, "%s: values the role renders break the official schema:\n%s" % (name, "\n".join(errors))
    merged_errors = _errors(strict, _merge(defaults, values))
    assert not merged_errors, "%s: merged over values.yaml:\n%s" % (name, "\n".join(merged_errors))


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_say_what_the_issue_asks(name, rendered):
    values = rendered[0][name]
    case = dict(BASE_VARS)
    case.update(CASES[name])
    mode = case.get("airflow_helm_dags_mode", "gitsync")
    executor = case.get("airflow_helm_executor", "KubernetesExecutor")
    logging = case.get("airflow_helm_logging_enabled", True)
    ingress = case.get("airflow_helm_ingress_enabled", False)
    pgbouncer = case.get("airflow_helm_pgbouncer_enabled", True)

    assert values["executor"] == executor
    assert values["postgresql"] == {"enabled": False}
    assert values["data"]["metadataSecretName"] == ("airflow-metadata-pgbouncer" if pgbouncer else "airflow-metadata")
    assert values["pgbouncer"]["enabled"] is pgbouncer
    # Secrets: names only, never values; the admin password never the chart default.
    for key in ("fernetKey", "apiSecretKey", "jwtSecret", "webserverSecretKey"):
        assert key not in values
    assert values["fernetKeySecretName"] == "airflow-fernet-key"
    assert values["apiSecretKeySecretName"] == "airflow-api-secret-key"
    assert values["jwtSecretName"] == "airflow-jwt-secret"
    assert values["createUserJob"]["defaultUser"] == {"password": ""}
    assert "env" not in values["createUserJob"]
    assert values["createUserJob"]["extraVolumes"][0]["secret"]["secretName"] == "airflow-admin-credentials"
    assert "--password" not in " ".join(values["createUserJob"]["args"])
    assert BASE_VARS["airflow_helm_git_ssh_key"] not in json.dumps(values)
    # ServiceAccounts are the role's own (IRSA-annotated by the role).
    for component, suffix in (("scheduler", "scheduler"), ("workers", "worker"), ("apiServer", "api-server"),
                              ("triggerer", "triggerer"), ("dagProcessor", "dag-processor")):
        assert values[component]["serviceAccount"] == {"create": False, "name": "airflow-" + suffix}
        assert values[component]["resources"]["requests"]
    # Celery needs Redis with a generated password; KubernetesExecutor needs neither.
    if executor == "CeleryExecutor":
        assert values["redis"]["enabled"] is True
        assert values["redis"]["passwordSecretName"] == "airflow-redis-password"
        assert values["redis"]["persistence"] == {"enabled": False}
        assert values["redis"]["securityContexts"]["pod"]["runAsUser"] == 999
    else:
        assert values["redis"] == {"enabled": False}
    # Named under every executor, so the chart never renders a placeholder broker-url Secret.
    assert values["data"]["brokerUrlSecretName"] == "airflow-broker-url"
    assert values["triggerer"]["persistence"] == {"enabled": False}
    assert values["workers"]["persistence"] == {"enabled": False}
    # DAG delivery.
    git_sync = values["dags"]["gitSync"]
    if mode == "gitsync":
        assert git_sync["enabled"] is True
        assert git_sync["sshKeySecret"] == "airflow-ssh-secret"
        assert "sshKey" not in git_sync
        assert git_sync["knownHosts"] == BASE_VARS["airflow_helm_git_known_hosts"]
        assert git_sync["repo"] == BASE_VARS["airflow_helm_git_repo"]
        assert git_sync["depth"] == case.get("airflow_helm_git_depth", 1)
        assert git_sync["subPath"] == case.get("airflow_helm_git_sub_path", "dags")
        assert values["dags"]["persistence"]["enabled"] is False
    else:
        assert git_sync == {"enabled": False}
    if mode == "gitbundle":
        bundle = values["dagProcessor"]["dagBundleConfigList"]
        assert bundle[0]["classpath"] == "airflow.providers.git.bundles.git.GitDagBundle"
        assert bundle[0]["kwargs"]["git_conn_id"] == "dags_git"
        assert bundle[0]["kwargs"]["tracking_ref"] == case.get("airflow_helm_git_rev", "main").replace("HEAD", "main")
        connection = json.loads([e for e in values["env"] if e["name"] == "AIRFLOW_CONN_DAGS_GIT"][0]["value"])
        assert connection["extra"]["strict_host_key_checking"] == "yes"
        assert set(connection["extra"]) == {"key_file", "known_hosts_file", "strict_host_key_checking"}
        assert connection["extra"]["known_hosts_file"] == "/etc/ssh/ssh_known_hosts"
        for component in ("dagProcessor", "workers", "triggerer"):
            assert values[component]["extraVolumes"][0]["secret"]["secretName"] == "airflow-ssh-secret"
    else:
        assert "dagBundleConfigList" not in values["dagProcessor"]
    assert "volumes" not in values and "volumeMounts" not in values
    if mode == "efs":
        assert values["dags"]["persistence"] == {"enabled": True, "existingClaim": "airflow-dags",
                                                 "accessMode": "ReadWriteMany"}
    # Remote logging through IRSA: no static keys in the connection.
    if logging:
        assert values["config"]["logging"]["remote_logging"] == "True"
        assert values["config"]["logging"]["remote_base_log_folder"] == \
            "s3://unit-eks-airflow-logs-123456789012-eu-west-1/logs"
        connection = json.loads([e for e in values["env"] if e["name"] == "AIRFLOW_CONN_AWS_LOGS"][0]["value"])
        assert connection == {"conn_type": "aws", "extra": {"region_name": "eu-west-1"}}
    else:
        assert "logging" not in values["config"]
        assert not [e for e in values.get("env", []) if e["name"] == "AIRFLOW_CONN_AWS_LOGS"]
    # Ingress with ALB annotations.
    if ingress:
        api_ingress = values["ingress"]["apiServer"]
        assert api_ingress["enabled"] is True
        assert api_ingress["ingressClassName"] == "alb"
        assert api_ingress["annotations"]["alb.ingress.kubernetes.io/target-type"] == "ip"
    else:
        assert "ingress" not in values
    assert values["statsd"]["enabled"] is case.get("airflow_helm_metrics_enabled", True)


def test_extra_values_and_image_variants(rendered):
    values = rendered[0]
    extra = values["gitsync-KubernetesExecutor-nologs-noingress"]
    assert extra["config"]["core"]["parallelism"] == 64
    assert extra["config"]["core"]["load_examples"] == "False"
    assert extra["workers"]["nodeSelector"] == {"mlops.eks_platform/node-group": "core"}
    assert extra["scheduler"]["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "4Gi"}}
    digest = values["efs-KubernetesExecutor-logs-ingress"]["images"]
    assert digest["airflow"]["repository"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/airflow"
    assert digest["airflow"]["tag"] == "ctx-0123456789abcdef01234567"
    assert digest["airflow"]["digest"] == "sha256:" + "a" * 64
    assert digest["pod_template"]["tag"] == "ctx-0123456789abcdef01234567"
    tagged = values["efs-CeleryExecutor-nologs-noingress"]["images"]["airflow"]
    assert (tagged["repository"], tagged["tag"]) == ("registry.example.com:5000/mlops/airflow", "3.1.7-1")
    assert "images" not in values["gitsync-KubernetesExecutor-logs-noingress"]
    https = values["gitsync-CeleryExecutor-nologs-ingress"]["ingress"]["apiServer"]
    assert https["annotations"]["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:")
    assert https["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert "hosts" not in https


def test_inline_secrets_in_extra_values_are_refused(rendered):
    guards = rendered[1]
    assert set(guards) == {"refuse-fernet", "refuse-ssh-key", "refuse-admin-password", "refuse-db-password"}
    for name, outcome in guards.items():
        assert outcome != "accepted", "%s: validate.yml accepted a secret in airflow_helm_extra_values" % name
        assert "may not pass secrets inline" in outcome, outcome
        assert GUARD_VALUE not in outcome, "%s: the refusal printed the secret" % name


@pytest.mark.parametrize("mutation, where", [
    (lambda v: v["dags"]["gitSync"].update({"sshKeySecrett": "typo"}), "dags/gitSync"),
    (lambda v: v.update({"pgbouncr": {"enabled": True}}), "<root>"),
    (lambda v: v["createUserJob"]["defaultUser"].update({"passwrd": "x"}), "createUserJob/defaultUser"),
    (lambda v: v["dags"]["gitSync"].update({"depth": "5"}), "dags/gitSync/depth"),
])
def test_a_wrong_key_fails_the_schema(mutation, where, rendered):
    _load_reference()
    strict = _REFERENCE["strict"]
    values = copy.deepcopy(rendered[0]["gitsync-KubernetesExecutor-logs-ingress"])
    assert not _errors(strict, values)
    mutation(values)
    errors = _errors(strict, values)
    assert errors, "the schema accepted a wrong key or type at %s" % where
    assert any(error.startswith(where) for error in errors), errors
