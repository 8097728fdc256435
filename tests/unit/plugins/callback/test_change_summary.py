"""The change_summary callback, through real ansible-playbook runs on localhost (no servers)."""

import os
import subprocess
import sys
import textwrap

import pytest

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SECRET = "s3cr3t-Value-that-must-not-show"

PLAYBOOK = textwrap.dedent("""\
    - name: Exercise the change summary
      hosts: localhost
      gather_facts: false
      tasks:
        - name: A task that changes
          ansible.builtin.command: "true"
          changed_when: true

        - name: A task that changes nothing
          ansible.builtin.command: "true"
          changed_when: false

        - name: A loop that changes two of three items
          ansible.builtin.command: "true"
          changed_when: item != 'b'
          loop: [a, b, c]
          loop_control:
            label: "item-{{ item }}"

        - name: A secret loop
          ansible.builtin.command: "true"
          changed_when: true
          loop: ["%s"]
          no_log: true
    """ % SECRET)


def run(tmp_path, *extra):
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, "build", "collections"),
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable, str(playbook)] + list(extra),
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.split("CHANGE SUMMARY", 1)[-1] if "CHANGE SUMMARY" in proc.stdout else None


def test_lists_changed_tasks_with_loop_labels_and_counts(tmp_path):
    summary = run(tmp_path)
    assert summary is not None, "the callback enabled in ansible.cfg printed nothing"
    assert "3 task(s) changed:" in summary
    assert "(playbook): 3" in summary
    assert "- A task that changes\n" in summary
    assert "- A loop that changes two of three items (item-a, item-c)" in summary
    assert "A task that changes nothing" not in summary


def test_no_log_loop_items_are_not_named(tmp_path):
    summary = run(tmp_path, "-vvv")
    assert "- A secret loop\n" in summary
    assert SECRET not in summary


@pytest.mark.parametrize("check", [False, True])
def test_check_mode_says_would_change(tmp_path, check):
    summary = run(tmp_path, *(["--check"] if check else []))
    # command is skipped in check mode, so nothing would change; the wording follows the mode.
    if check:
        assert "Nothing would change" in summary
    else:
        assert "task(s) changed" in summary
