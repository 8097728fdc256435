# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The known_hosts_problems filter: the git_deploy_key module's known_hosts rules, every problem listed.

airflow_helm validates airflow_helm_git_known_hosts with this filter before any API call, and the
git_deploy_key module refuses the same text later; these tests hold the two to one rule set.
"""

from __future__ import annotations

import base64

import pytest

from ansible_collections.mlops.eks_platform.plugins.filter.known_hosts_problems import FilterModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.deploy_key_material import DeployKeyError
from ansible_collections.mlops.eks_platform.plugins.module_utils.known_hosts import validate_known_hosts

known_hosts_problems = FilterModule().filters()['known_hosts_problems']


def _string(data):
    return len(data).to_bytes(4, 'big') + data


def key_data(key_type, body=b'k' * 32):
    """Base64 key data whose embedded type is key_type, as ssh-keyscan prints it."""
    return base64.b64encode(_string(key_type.encode('ascii')) + _string(body)).decode('ascii')


GITHUB = 'github.com ssh-ed25519 ' + key_data('ssh-ed25519')
SALT = base64.b64encode(b's' * 20).decode('ascii')
DIGEST = base64.b64encode(b'h' * 20).decode('ascii')

# (line, problem): each line is refused by the module with this problem.
BAD_LINES = [
    ('ssh-ed25519 ' + key_data('ssh-ed25519'), 'the host name field is missing'),
    ('github.com ssh-ed25519', 'expected host names, a key type and a base64 key'),
    ('github.com ssh-ed25519 AAAA%%%', 'the key is not valid base64'),
    ('github.com ssh-rsa ' + key_data('ssh-ed25519'), 'the key data does not match its key type'),
    ('@trusted github.com ssh-ed25519 ' + key_data('ssh-ed25519'), 'unknown marker'),
    ('github.com SSH_ED25519 ' + key_data('ssh-ed25519'), 'the key type field is not a key type'),
    ('github.com ssh-ed25519 AAAA', 'the key is too short'),
    # The two rules the role's former Jinja copy lacked.
    ('|1|abc|def ssh-ed25519 ' + key_data('ssh-ed25519'), 'the hashed host name is not valid base64'),
    ('|1|{0} ssh-ed25519 {1}'.format(SALT, key_data('ssh-ed25519')), 'is not in |1|salt|hash form'),
    ('|1|{0}|{1} ssh-ed25519 {2}'.format(SALT, base64.b64encode(b'h' * 8).decode('ascii'), key_data('ssh-ed25519')),
     'the hashed host name has the wrong length'),
    ('github.com,,gitlab.com ssh-ed25519 ' + key_data('ssh-ed25519'), 'the host name list has an empty'),
]
BAD_IDS = ['bare-public-key', 'no-key', 'bad-base64', 'type-mismatch', 'bad-marker', 'bad-type', 'short',
           'hashed-host-not-base64', 'hashed-host-not-salt-hash', 'hashed-host-wrong-length', 'empty-host']


def test_valid_known_hosts_has_no_problems():
    text = '# github.com:22 SSH-2.0-babeld\r\n' + GITHUB + '\r\n\r\n'
    text += '[git.example.com]:2222,10.0.0.1 ssh-rsa ' + key_data('ssh-rsa') + ' comment\n'
    text += '@cert-authority *.example.com ssh-ed25519 ' + key_data('ssh-ed25519') + '\n'
    text += '|1|{0}|{1} ecdsa-sha2-nistp256 {2}\n'.format(SALT, DIGEST, key_data('ecdsa-sha2-nistp256'))
    assert known_hosts_problems(text) == []
    assert validate_known_hosts(text)[1] == 4


@pytest.mark.parametrize('line,problem', BAD_LINES, ids=BAD_IDS)
def test_bad_line_is_named_by_its_number(line, problem):
    problems = known_hosts_problems('# first\n' + GITHUB + '\n' + line + '\n')
    assert len(problems) == 1, problems
    assert problems[0].startswith('line 3: ') and problem in problems[0], problems


@pytest.mark.parametrize('line,problem', BAD_LINES, ids=BAD_IDS)
def test_the_module_refuses_what_the_filter_reports_with_the_same_words(line, problem):
    text = GITHUB + '\n' + line + '\n'
    reported = known_hosts_problems(text)
    with pytest.raises(DeployKeyError) as refused:
        validate_known_hosts(text)
    assert refused.value.reason == 'known_hosts'
    assert refused.value.message.startswith('known_hosts ' + reported[0] + '.'), (refused.value.message, reported)
    assert problem in refused.value.message


def test_every_bad_line_is_listed_in_order():
    text = '\n'.join([BAD_LINES[0][0], GITHUB, BAD_LINES[-1][0], BAD_LINES[3][0]])
    problems = known_hosts_problems(text)
    assert [problem.split(':')[0] for problem in problems] == ['line 1', 'line 3', 'line 4']
    assert 'host name field is missing' in problems[0]
    assert 'empty or unprintable entry' in problems[1]
    assert 'does not match its key type' in problems[2]


@pytest.mark.parametrize('value,problem', [
    ('# ssh-keyscan found nothing\n\n', 'it has no entries'),
    ('', 'it has no entries'),
    (b'\xff\xfe not utf-8', 'it is not UTF-8 text'),
    (None, 'it is not a string'),
    (['github.com'], 'it is not a string'),
], ids=['only-comments', 'empty', 'not-utf8', 'none', 'list'])
def test_whole_value_problems(value, problem):
    assert known_hosts_problems(value) == [problem]
    with pytest.raises(DeployKeyError):
        validate_known_hosts(value)


def test_a_pasted_private_key_is_refused_without_echoing_it():
    body = 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW'
    private = '-----BEGIN OPENSSH PRIVATE KEY-----\n' + body + '\n-----END OPENSSH PRIVATE KEY-----\n'
    problems = known_hosts_problems(GITHUB + '\n' + private)
    assert problems == ['it holds a private key']
    assert body not in ' '.join(problems)


def test_line_content_is_never_echoed():
    secret_looking = 'host-with-secret-name ssh-ed25519 AAAA%%%'
    problems = known_hosts_problems(secret_looking)
    assert problems == ['line 1: the key is not valid base64']
    assert 'host-with-secret-name' not in problems[0]


def test_bytes_input_is_read_as_text():
    assert known_hosts_problems((GITHUB + '\n').encode('utf-8')) == []
