"""The AWX side as code: the execution environment builds a context, the configuration
playbook is valid and refuses to run without a controller, and every job template points
at a playbook and an inventory that exist in this repository."""

import os

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AWX = os.path.join(REPO_ROOT, "awx")


def load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def test_ansible_builder_creates_a_build_context(tmp_path, ansible_env, run_cmd):
    context = tmp_path / "context"
    run_cmd(["ansible-builder", "create", "-f", os.path.join(AWX, "execution-environment.yml"),
             "-c", str(context), "--output-filename", "Containerfile"], ansible_env)
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="quay.io/ansible/awx-ee:24.6.1"' in containerfile
    assert "install-kube-tools.sh" in containerfile
    build = context / "_build"
    assert (build / "scripts" / "install-kube-tools.sh").exists()
    python_reqs = (build / "requirements.txt").read_text()
    for pin in ("boto3==", "kubernetes==", "cryptography=="):
        assert pin in python_reqs
    galaxy = load(build / "requirements.yml")
    assert sorted(c["name"] for c in galaxy["collections"]) == ["amazon.aws", "community.aws", "kubernetes.core"]
    assert "openssh" in (build / "bindep.txt").read_text()


def test_configure_playbook_passes_syntax_check(ansible_env, run_cmd):
    run_cmd(["ansible-playbook", "--syntax-check", os.path.join(AWX, "configure.yml")], ansible_env)


def test_configure_playbook_refuses_to_run_without_a_controller(ansible_env, run_cmd):
    env = dict(ansible_env)
    env.pop("CONTROLLER_HOST", None)
    env.pop("CONTROLLER_OAUTH_TOKEN", None)
    proc = run_cmd(["ansible-playbook", os.path.join(AWX, "configure.yml")], env, check=False)
    assert proc.returncode != 0
    assert "Set CONTROLLER_HOST" in proc.stdout
    assert "Create the organization" not in proc.stdout


def test_job_templates_reference_existing_playbooks_and_inventories():
    config = load(os.path.join(AWX, "controller", "config.yml"))
    names = [jt["name"] for jt in config["awx_job_templates"]]
    assert {"site", "cluster", "data", "images", "apps", "teardown"} <= set(names)
    for jt in config["awx_job_templates"]:
        path = os.path.join(REPO_ROOT, jt["playbook"])
        assert os.path.isfile(path), "job template %s: %s does not exist" % (jt["name"], jt["playbook"])
        plays = load(path)
        assert isinstance(plays, list) and plays, jt["playbook"]
    for inventory in config["awx_inventories"]:
        hosts = load(os.path.join(REPO_ROOT, inventory["source_path"]))
        assert inventory["environment"] in hosts, "%s has no group %s" % (inventory["source_path"], inventory["environment"])
        group_vars = os.path.join(REPO_ROOT, os.path.dirname(inventory["source_path"]), "group_vars",
                                  inventory["environment"], "main.yml")
        assert load(group_vars)["platform_environment"] == inventory["environment"]
    surveys = ("awx_survey_environment", "awx_survey_image_tag", "awx_survey_teardown_confirm")
    survey_vars = {config[k]["variable"] for k in surveys}
    assert survey_vars == {"target_environment", "platform_image_tag", "teardown_confirm"}
