# -*- coding: utf-8 -*-
# SPDX-License-Identifier: Apache-2.0
"""git_deploy_key and normalize_private_key driven through ansible-playbook at -vvv.

The module tests write to a real Kubernetes API server (the ``kube_cluster``
session fixture of tests/conftest.py: ``.kubeconfig`` is the admin kubeconfig
path, ``.env`` the subprocess environment with ANSIBLE_COLLECTIONS_PATH and
KUBECONFIG). The filter test needs no cluster. Every test also scans the
complete -vvv output for any piece of the private key.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
COLLECTIONS_PATH = REPO_ROOT / 'build' / 'collections'
ANSIBLE_PLAYBOOK = str(pathlib.Path(sys.executable).parent / 'ansible-playbook')
SSH_KEYGEN = shutil.which('ssh-keygen') or '/usr/bin/ssh-keygen'

# GitHub's published host key: public, and in the exact ssh-keyscan format.
GITHUB_KNOWN_HOSTS = ('github.com ssh-ed25519 '
                      'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n')
NAMESPACE = 'default'


# Keys and the ssh-keygen oracle ---------------------------------------------------

def openssh_wrap(text, width=70):
    lines = text.strip().split('\n')
    body = ''.join(lines[1:-1])
    return '\n'.join([lines[0]] + [body[i:i + width] for i in range(0, len(body), width)] + [lines[-1]]) + '\n'


def make_rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    text = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption()).decode('ascii')
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode('ascii')
    # ssh-keygen's own layout (70 columns): what the module must store.
    return openssh_wrap(text), public


def make_ed25519_key():
    key = ed25519.Ed25519PrivateKey.generate()
    text = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption()).decode('ascii')
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode('ascii')
    return openssh_wrap(text), public


def damage(key_text):
    """What a web form plus a hand-written JSON secret do to a key."""
    crlf = '\r\n'.join('  ' + line for line in key_text.rstrip('\n').split('\n'))
    return json.dumps({'gitSshKey': crlf, 'repository': 'git@github.com:example/dags.git'})


def ssh_keygen(args, key_text):
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, 'key')
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w', newline='') as handle:
            handle.write(key_text)
        return subprocess.run([SSH_KEYGEN] + args + ['-f', path], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=60, check=False)


def derived_public_key(key_text):
    proc = ssh_keygen(['-y', '-P', ''], key_text)
    assert proc.returncode == 0, 'ssh-keygen refused the stored key: ' + proc.stderr
    return ' '.join(proc.stdout.split()[:2])


def fingerprint(key_text):
    proc = ssh_keygen(['-l'], key_text)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()[1]


def secret_fragments(key_text):
    """Every piece of the key whose presence in output would be a leak."""
    lines = key_text.strip().split('\n')[1:-1]
    fragments = {'key body': ''.join(lines),
                 'key as stored in the Secret': base64.b64encode(key_text.encode('ascii')).decode('ascii')}
    fragments['start of the stored key'] = fragments['key as stored in the Secret'][:40]
    for number, line in enumerate(lines, 1):
        if len(line) >= 16:
            fragments['body line %d' % number] = line
        else:
            # A very short last line could occur in output by chance; check it
            # together with the end of the line before it, in every join.
            tail = lines[number - 2][-16:]
            for joiner in ('', '\n', '\\n', '\r\n', '\\r\\n', ' '):
                fragments['body line %d joined by %r' % (number, joiner)] = tail + joiner + line
    return fragments


def assert_no_leak(output, *keys):
    for key_text in keys:
        for what, fragment in secret_fragments(key_text).items():
            assert fragment not in output, '%s leaked into the ansible-playbook -vvv output' % what


# ansible-playbook ---------------------------------------------------------------

def run_playbook(tmp_path, env, playbook, extra_vars, *flags):
    play_file = tmp_path / 'playbook.yml'
    play_file.write_text(playbook)
    vars_file = tmp_path / ('vars-%s.json' % uuid.uuid4().hex)
    fd = os.open(str(vars_file), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump(extra_vars, handle)
    proc = subprocess.run(
        [ANSIBLE_PLAYBOOK, '-vvv', '-i', 'localhost,', '-e', '@' + str(vars_file), str(play_file)] + list(flags),
        env=env, cwd=str(tmp_path), text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, timeout=600, check=False,
    )
    vars_file.unlink()
    return proc


MODULE_PLAYBOOK = """
- name: Deploy the git-sync key
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Store the deploy key in a Secret
      mlops.eks_platform.git_deploy_key:
        key: "{{ damaged_key }}"
        known_hosts: "{{ known_hosts }}"
        namespace: "{{ secret_namespace }}"
        name: "{{ secret_name }}"
        kubeconfig: "{{ kubeconfig }}"
        labels:
          app.kubernetes.io/part-of: airflow
        state: "{{ state }}"
      register: deploy

    - name: Keep the registered result for the test
      ansible.builtin.copy:
        content: "{{ deploy | to_nice_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
      check_mode: false
"""


def module_env(kube_cluster):
    env = dict(os.environ)
    env.update(kube_cluster.env)
    env.setdefault('ANSIBLE_COLLECTIONS_PATH', str(COLLECTIONS_PATH))
    env['KUBECONFIG'] = kube_cluster.kubeconfig
    env['ANSIBLE_NOCOLOR'] = '1'
    return env


def read_secret(kube_cluster, name):
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    api = client.CoreV1Api(config.new_client_from_config(config_file=kube_cluster.kubeconfig))
    try:
        return api.read_namespaced_secret(name, NAMESPACE)
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def delete_secret(kube_cluster, name):
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    api = client.CoreV1Api(config.new_client_from_config(config_file=kube_cluster.kubeconfig))
    try:
        api.delete_namespaced_secret(name, NAMESPACE)
    except ApiException as e:
        if e.status != 404:
            raise


@pytest.mark.k8s
def test_module_stores_repaired_key_idempotently_without_leaking_it(kube_cluster, tmp_path):
    key_text, public = make_rsa_key()
    other_key, _other_public = make_ed25519_key()
    secret_name = 'git-deploy-key-' + uuid.uuid4().hex[:8]
    env = module_env(kube_cluster)
    outputs = []

    def play(run_name, key=key_text, state='present', *flags):
        result_file = tmp_path / ('result-%s.json' % run_name)
        proc = run_playbook(tmp_path, env, MODULE_PLAYBOOK, {
            'damaged_key': damage(key),
            'known_hosts': GITHUB_KNOWN_HOSTS.replace('\n', '\r\n'),
            'secret_namespace': NAMESPACE,
            'secret_name': secret_name,
            'kubeconfig': kube_cluster.kubeconfig,
            'state': state,
            'result_file': str(result_file),
        }, *flags)
        outputs.append(proc.stdout)
        assert proc.returncode == 0, proc.stdout[-8000:]
        return json.loads(result_file.read_text()) if result_file.exists() else None

    try:
        first = play('first')
        assert first['changed'] is True
        assert first['fingerprint'] == fingerprint(key_text)
        assert first['key_type'] == 'ssh-rsa' and first['key_size'] == 2048
        assert {'json_secret', 'line_endings', 'whitespace', 'trailing_newline'} <= set(first['repairs'])
        assert first['known_hosts_entries'] == 1
        assert first['secret'] == {'name': secret_name, 'namespace': NAMESPACE,
                                   'data_keys': ['gitSshKey', 'knownHosts']}

        secret = read_secret(kube_cluster, secret_name)
        assert secret is not None and secret.type == 'Opaque'
        assert secret.metadata.labels['app.kubernetes.io/part-of'] == 'airflow'
        stored_key = base64.b64decode(secret.data['gitSshKey']).decode('ascii')
        assert stored_key == key_text, 'gitSshKey is not the normalised key'
        assert derived_public_key(stored_key) == public
        assert base64.b64decode(secret.data['knownHosts']).decode('ascii') == GITHUB_KNOWN_HOSTS
        version = secret.metadata.resource_version

        second = play('second')
        assert second['changed'] is False
        assert second['fingerprint'] == first['fingerprint']
        assert read_secret(kube_cluster, secret_name).metadata.resource_version == version

        # Check mode with a different key: reports the change, shows a diff of
        # fingerprints, writes nothing.
        checked = play('check', other_key, 'present', '--check', '--diff')
        assert checked['changed'] is True
        assert fingerprint(key_text) in outputs[-1] and fingerprint(other_key) in outputs[-1]
        assert read_secret(kube_cluster, secret_name).metadata.resource_version == version

        removed = play('absent', key_text, 'absent')
        assert removed['changed'] is True
        assert read_secret(kube_cluster, secret_name) is None
    finally:
        delete_secret(kube_cluster, secret_name)

    for output in outputs:
        assert_no_leak(output, key_text, other_key)
    for result_file in tmp_path.glob('result-*.json'):
        assert_no_leak(result_file.read_text(), key_text, other_key)


SECRETS_MANAGER_PLAYBOOK = """
- name: Deploy the git-sync key from Secrets Manager
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Store the key held in a JSON secret
      mlops.eks_platform.git_deploy_key:
        secret_id: "{{ secret_id }}"
        json_field: sshKey
        namespace: "{{ secret_namespace }}"
        name: "{{ secret_name }}"
      register: deploy

    - name: Keep the registered result for the test
      ansible.builtin.copy:
        content: "{{ deploy | to_nice_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


@pytest.mark.aws
@pytest.mark.k8s
def test_module_reads_key_from_secrets_manager(aws, kube_cluster, tmp_path):
    key_text, public = make_ed25519_key()
    secret_id = 'airflow/git-sync-' + uuid.uuid4().hex[:8]
    # A JSON secret whose writer escaped the newlines twice.
    aws.client('secretsmanager').create_secret(
        Name=secret_id, SecretString=json.dumps({'sshKey': key_text.replace('\n', '\\n'), 'user': 'git'}))
    secret_name = 'git-deploy-key-' + uuid.uuid4().hex[:8]
    env = dict(aws.env)
    env['KUBECONFIG'] = kube_cluster.kubeconfig
    env['ANSIBLE_NOCOLOR'] = '1'
    result_file = tmp_path / 'result.json'
    try:
        proc = run_playbook(tmp_path, env, SECRETS_MANAGER_PLAYBOOK, {
            'secret_id': secret_id, 'secret_namespace': NAMESPACE, 'secret_name': secret_name,
            'result_file': str(result_file),
        })
        assert proc.returncode == 0, proc.stdout[-8000:]
        result = json.loads(result_file.read_text())
        assert result['changed'] is True
        assert result['repairs'] == ['json_secret', 'escaped_newlines']
        assert result['fingerprint'] == fingerprint(key_text)
        assert 'will not be verified' in proc.stdout
        stored_key = base64.b64decode(read_secret(kube_cluster, secret_name).data['gitSshKey']).decode('ascii')
        assert stored_key == key_text
        assert derived_public_key(stored_key) == public
    finally:
        delete_secret(kube_cluster, secret_name)
    assert_no_leak(proc.stdout + result_file.read_text(), key_text)


def test_leak_scanner_catches_every_form_of_the_key():
    key_text, _public = make_rsa_key()
    lines = key_text.strip().split('\n')
    for leaked in (key_text, json.dumps(key_text), lines[3], key_text.replace('\n', '\r\n'),
                   base64.b64encode(key_text.encode('ascii')).decode('ascii'), ''.join(lines[1:-1])):
        with pytest.raises(AssertionError):
            assert_no_leak('noise ' + leaked + ' noise', key_text)
    assert_no_leak('SHA256:' + fingerprint(key_text), key_text)


FILTER_PLAYBOOK = """
- name: Normalise a deploy key with the filter
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Repair the key
      ansible.builtin.set_fact:
        git_ssh_key: "{{ damaged_key | mlops.eks_platform.normalize_private_key }}"
      no_log: true

    - name: Repair a key held in a JSON secret under another field
      ansible.builtin.set_fact:
        named_field_key: "{{ named_json | mlops.eks_platform.normalize_private_key(json_field='sshKey') }}"
      no_log: true

    - name: Write it where ssh-keygen can read it
      ansible.builtin.copy:
        content: "{{ git_ssh_key }}"
        dest: "{{ key_file }}"
        mode: "0600"
      no_log: true

    - name: Fingerprint it with OpenSSH
      ansible.builtin.command:
        argv: ["{{ ssh_keygen }}", "-lf", "{{ key_file }}"]
      register: key_fingerprint
      changed_when: false

    - name: The fingerprint is the original key's
      ansible.builtin.assert:
        that:
          - key_fingerprint.stdout.split()[1] == expected_fingerprint
          - named_field_key == git_ssh_key
        quiet: true

    - name: A refused key fails with the reason, and the key is not in the message
      block:
        - name: Normalise a passphrase-protected key (refused)
          ansible.builtin.debug:
            msg: "{{ encrypted_key | mlops.eks_platform.normalize_private_key }}"
      rescue:
        - name: The refusal names the problem
          ansible.builtin.assert:
            that:
              - ansible_failed_result.msg is search('protected by a passphrase')
            quiet: true
"""


def test_filter_in_playbook_normalises_key_without_leaking_it(tmp_path):
    key_text, public = make_ed25519_key()
    encrypted = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b'not typed by git-sync')).decode('ascii')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH), ANSIBLE_NOCOLOR='1')
    key_file = tmp_path / 'id_git'
    proc = run_playbook(tmp_path, env, FILTER_PLAYBOOK, {
        'damaged_key': '"' + key_text.rstrip('\n').replace('\n', '\\n') + '"',
        'named_json': json.dumps({'sshKey': key_text.replace('\n', '\r\n')}),
        'encrypted_key': encrypted,
        'key_file': str(key_file),
        'ssh_keygen': SSH_KEYGEN,
        'expected_fingerprint': fingerprint(key_text),
    })
    assert proc.returncode == 0, proc.stdout[-8000:]
    assert 'protected by a passphrase' in proc.stdout
    assert key_file.read_text() == key_text
    assert derived_public_key(key_file.read_text()) == public
    assert_no_leak(proc.stdout, key_text, encrypted)
