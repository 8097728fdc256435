# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the deploy key module_utils (deploy_key_material.py, known_hosts.py,
deploy_key_secret.py), the filter and the module logic.

Every repair and every refusal has its own named test. Repairs are checked
byte-exact against an independent canonical layout (keyfactory.wrap) and,
where OpenSSH is available, against ssh-keygen itself.
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448
from cryptography.x509.oid import NameOID

from ansible_collections.mlops.eks_platform.plugins.module_utils import deploy_key_material as dk
from ansible_collections.mlops.eks_platform.plugins.module_utils import deploy_key_secret as dks
from ansible_collections.mlops.eks_platform.plugins.module_utils import known_hosts as kh

try:
    from .keyfactory import (
        HAVE_SSH_KEYGEN, KINDS, SSH_KEYGEN, assert_no_key_material, kind_id, oracle_fingerprint,
        oracle_public_key, pristine, private_key, public_line, secret_fragments, wrap, write_key_file,
    )
except ImportError:  # collected without package context (plain pytest, rootdir-relative)
    from keyfactory import (
        HAVE_SSH_KEYGEN, KINDS, SSH_KEYGEN, assert_no_key_material, kind_id, oracle_fingerprint,
        oracle_public_key, pristine, private_key, public_line, secret_fragments, wrap, write_key_file,
    )

needs_ssh_keygen = pytest.mark.skipif(not HAVE_SSH_KEYGEN, reason='OpenSSH ssh-keygen not installed')

ED = pristine('ed25519', 'openssh')
RSA_PEM = pristine('rsa', 'traditional')
EC_PKCS8 = pristine('ecdsa', 'pkcs8')


def normalize(value, **kwargs):
    return dk.normalize_private_key(value, **kwargs)


def assert_repaired(value, expected_key, repair, **kwargs):
    result = normalize(value, **kwargs)
    assert repair in result.repairs
    assert result.key == expected_key
    assert result.key.encode('ascii') == expected_key.encode('ascii')
    return result


def refuse(value, reason, *keys, **kwargs):
    with pytest.raises(dk.DeployKeyError) as info:
        normalize(value, **kwargs)
    assert info.value.reason == reason
    assert str(info.value) == info.value.message
    assert_no_key_material(info.value.message, *keys)
    return info.value.message


# Clean keys ------------------------------------------------------------------

@pytest.mark.parametrize('kind', [k for k in KINDS if k != ('ed25519', 'pkcs8')], ids=kind_id)
def test_clean_key_is_returned_unchanged_with_no_repairs(kind):
    text = pristine(*kind)
    result = normalize(text)
    assert result.key == text
    assert result.repairs == []


@needs_ssh_keygen
def test_key_written_by_ssh_keygen_is_returned_unchanged(tmp_path):
    path = tmp_path / 'id_ed25519'
    subprocess.run([SSH_KEYGEN, '-q', '-t', 'ed25519', '-N', '', '-C', 'deploy@dags', '-f', str(path)],
                   check=True, stdin=subprocess.DEVNULL)
    text = path.read_text()
    result = normalize(text)
    assert result.key == text
    assert result.repairs == []
    bits, fingerprint = oracle_fingerprint(text)
    assert (result.key_size, result.fingerprint) == (bits, fingerprint)


@needs_ssh_keygen
@pytest.mark.parametrize('kind', KINDS, ids=kind_id)
def test_fingerprint_type_and_size_match_ssh_keygen(kind):
    result = normalize(pristine(*kind))
    bits, fingerprint = oracle_fingerprint(result.key)
    assert result.fingerprint == fingerprint
    assert result.key_size == bits
    assert not fingerprint.endswith('=')
    assert result.key_type == public_line(kind[0]).split()[0]


@pytest.mark.parametrize('kind', KINDS, ids=kind_id)
def test_key_format_is_reported(kind):
    expected = {'openssh': 'openssh', 'pkcs8': 'pkcs8', 'traditional': None}[kind[1]]
    if kind == ('ed25519', 'pkcs8'):
        expected = 'openssh'
    if expected is None:
        expected = 'pkcs1' if kind[0] == 'rsa' else 'sec1'
    assert normalize(pristine(*kind)).key_format == expected


def test_result_repr_and_info_never_hold_the_key():
    result = normalize(ED)
    assert_no_key_material(repr(result), ED)
    assert_no_key_material(json.dumps(result.info()), ED)
    assert set(result.info()) == {'repairs', 'key_type', 'key_size', 'fingerprint', 'key_format'}


# Repairs ---------------------------------------------------------------------

def test_repair_utf8_bom_in_text():
    assert_repaired('\ufeff' + ED, ED, dk.REPAIR_BOM)


def test_repair_utf8_bom_in_bytes():
    assert_repaired(b'\xef\xbb\xbf' + ED.encode('ascii'), ED, dk.REPAIR_BOM)


def test_repair_crlf_line_endings():
    assert_repaired(ED.replace('\n', '\r\n'), ED, dk.REPAIR_LINE_ENDINGS)


def test_repair_cr_line_endings():
    assert_repaired(RSA_PEM.replace('\n', '\r'), RSA_PEM, dk.REPAIR_LINE_ENDINGS)


def test_repair_missing_trailing_newline():
    result = assert_repaired(ED.rstrip('\n'), ED, dk.REPAIR_TRAILING_NEWLINE)
    assert result.repairs == [dk.REPAIR_TRAILING_NEWLINE]


def test_repair_doubled_trailing_newline():
    result = assert_repaired(ED + '\n', ED, dk.REPAIR_TRAILING_NEWLINE)
    assert result.repairs == [dk.REPAIR_TRAILING_NEWLINE]


def test_repair_leading_and_trailing_whitespace():
    result = assert_repaired('\n  \t' + EC_PKCS8 + '  ', EC_PKCS8, dk.REPAIR_WHITESPACE)
    assert dk.REPAIR_LINE_WRAP not in result.repairs


def test_repair_indentation():
    indented = ''.join('    ' + line + '\n' for line in ED.splitlines())
    result = assert_repaired(indented, ED, dk.REPAIR_WHITESPACE)
    assert result.repairs == [dk.REPAIR_WHITESPACE]


def test_repair_literal_backslash_n_sequences():
    result = assert_repaired(ED.replace('\n', '\\n'), ED, dk.REPAIR_ESCAPED_NEWLINES)
    assert result.repairs == [dk.REPAIR_ESCAPED_NEWLINES]


def test_repair_literal_backslash_r_n_sequences():
    assert_repaired(RSA_PEM.replace('\n', '\\r\\n'), RSA_PEM, dk.REPAIR_ESCAPED_NEWLINES)


def test_repair_body_collapsed_onto_one_line():
    lines = ED.strip().split('\n')
    collapsed = '\n'.join([lines[0], ''.join(lines[1:-1]), lines[-1]]) + '\n'
    result = assert_repaired(collapsed, ED, dk.REPAIR_LINE_WRAP)
    assert result.repairs == [dk.REPAIR_LINE_WRAP]


def test_repair_whole_key_on_one_line():
    lines = RSA_PEM.strip().split('\n')
    one_line = lines[0] + ''.join(lines[1:-1]) + lines[-1] + '\n'
    assert_repaired(one_line, RSA_PEM, dk.REPAIR_LINE_WRAP)


def test_repair_spaces_in_place_of_newlines():
    result = assert_repaired(ED.strip().replace('\n', ' ') + '\n', ED, dk.REPAIR_LINE_WRAP)
    assert result.repairs == [dk.REPAIR_LINE_WRAP]


def test_repair_rewraps_openssh_at_70_columns():
    rewrapped = wrap(ED, 64)
    assert rewrapped != ED
    result = assert_repaired(rewrapped, ED, dk.REPAIR_LINE_WRAP)
    assert {len(line) for line in result.key.split('\n')[1:-3]} == {70}


def test_repair_rewraps_pem_at_64_columns():
    rewrapped = wrap(RSA_PEM, 76)
    result = assert_repaired(rewrapped, RSA_PEM, dk.REPAIR_LINE_WRAP)
    assert {len(line) for line in result.key.split('\n')[1:-3]} == {64}


def test_repair_blank_lines_inside_body():
    assert_repaired(ED.replace('\n', '\n\n', 3), ED, dk.REPAIR_LINE_WRAP)


def test_repair_surrounding_double_quotes():
    result = assert_repaired('"' + ED + '"', ED, dk.REPAIR_QUOTES)
    assert result.repairs == [dk.REPAIR_QUOTES]


def test_repair_surrounding_single_quotes():
    assert_repaired("'" + EC_PKCS8 + "'", EC_PKCS8, dk.REPAIR_QUOTES)


def test_repair_quoted_dotenv_value_with_escaped_newlines():
    result = assert_repaired('"' + ED.replace('\n', '\\n') + '"', ED, dk.REPAIR_QUOTES)
    assert dk.REPAIR_ESCAPED_NEWLINES in result.repairs


def test_repair_one_extra_layer_of_base64():
    layered = base64.b64encode(ED.encode('ascii')).decode('ascii')
    result = assert_repaired(layered, ED, dk.REPAIR_BASE64)
    assert result.repairs == [dk.REPAIR_BASE64]


def test_repair_base64_layer_wrapped_at_76_columns():
    layered = base64.encodebytes(RSA_PEM.encode('ascii')).decode('ascii')
    assert_repaired(layered, RSA_PEM, dk.REPAIR_BASE64)


def test_repair_json_secret_default_field():
    document = json.dumps({'gitSshKey': ED, 'other': 'x'})
    result = assert_repaired(document, ED, dk.REPAIR_JSON)
    assert result.repairs == [dk.REPAIR_JSON]


def test_repair_json_secret_named_field():
    document = json.dumps({'sshKey': RSA_PEM})
    assert_repaired(document, RSA_PEM, dk.REPAIR_JSON, json_field='sshKey')


def test_repair_json_secret_already_parsed_to_a_mapping():
    # What the filter receives after from_json or a lookup that returns a dict.
    result = assert_repaired({'gitSshKey': ED.replace('\n', '\r\n')}, ED, dk.REPAIR_JSON)
    assert result.repairs == [dk.REPAIR_JSON, dk.REPAIR_LINE_ENDINGS]


def test_repair_json_secret_given_to_a_str_option_as_python_repr():
    # A dict passed to the module's str option arrives as its Python repr.
    assert_repaired(str({'sshKey': RSA_PEM}), RSA_PEM, dk.REPAIR_JSON, json_field='sshKey')


def test_repair_json_secret_with_raw_newlines_in_string():
    # Hand-edited JSON often carries real line breaks inside the string.
    document = '{"gitSshKey": "' + ED + '"}'
    assert_repaired(document, ED, dk.REPAIR_JSON)


def test_repair_pkcs8_ed25519_converted_to_openssh():
    text = pristine('ed25519', 'pkcs8')
    result = normalize(text)
    assert result.repairs == [dk.REPAIR_TO_OPENSSH]
    assert result.key.startswith('-----BEGIN OPENSSH PRIVATE KEY-----\n')
    assert result.key_format == 'openssh'
    assert normalize(result.key).key == result.key, 'conversion must be stable (idempotent runs)'
    assert normalize(text).key == result.key, 'conversion must be deterministic'
    assert normalize(result.key).repairs == []


@needs_ssh_keygen
def test_repair_pkcs8_ed25519_is_accepted_by_openssh():
    result = normalize(pristine('ed25519', 'pkcs8'))
    assert oracle_public_key(result.key) == public_line('ed25519')


def test_repair_everything_at_once():
    damaged = '\ufeff' + json.dumps({'gitSshKey': '  "' + ED.replace('\n', '\\r\\n    ') + '"'})
    layered = base64.b64encode(damaged.encode('utf-8')).decode('ascii')
    result = normalize(layered)
    assert result.key == ED
    assert set(result.repairs) >= {dk.REPAIR_BASE64, dk.REPAIR_BOM, dk.REPAIR_JSON, dk.REPAIR_QUOTES,
                                   dk.REPAIR_ESCAPED_NEWLINES, dk.REPAIR_WHITESPACE}


def test_repair_names_are_all_documented():
    assert len(set(dk.REPAIRS)) == len(dk.REPAIRS)
    from ansible_collections.mlops.eks_platform.plugins.modules import git_deploy_key
    for name in dk.REPAIRS:
        assert 'V({0})'.format(name) in git_deploy_key.RETURN


# Refusals --------------------------------------------------------------------

@pytest.mark.parametrize('value', ['', '   \n\t', None, '""', "''", '\ufeff', json.dumps({'gitSshKey': ''}), b''],
                         ids=['empty', 'whitespace', 'none', 'empty-quotes', 'empty-single-quotes', 'bom-only',
                              'empty-json-field', 'empty-bytes'])
def test_refuse_empty_input(value):
    message = refuse(value, dk.REFUSE_EMPTY)
    assert 'empty' in message


def test_refuse_public_key_line():
    message = refuse(public_line('ed25519') + ' deploy@dags\n', dk.REFUSE_PUBLIC_KEY)
    assert 'public key' in message and 'private' in message


def test_refuse_authorized_keys_line_with_options():
    line = 'command="git-shell",no-pty ' + public_line('rsa') + ' ci@example\n'
    refuse(line, dk.REFUSE_PUBLIC_KEY)


def test_refuse_pem_public_key():
    pem = private_key('ecdsa').public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode('ascii')
    refuse(pem, dk.REFUSE_PUBLIC_KEY)


def test_refuse_rfc4716_public_key():
    refuse('---- BEGIN SSH2 PUBLIC KEY ----\nAAAAC3NzaC1lZDI1NTE5\n---- END SSH2 PUBLIC KEY ----\n',
           dk.REFUSE_PUBLIC_KEY)


def test_refuse_putty_ppk():
    ppk = ('PuTTY-User-Key-File-3: ssh-ed25519\r\nEncryption: none\r\nComment: deploy\r\n'
           'Public-Lines: 2\r\nAAAAC3NzaC1lZDI1NTE5AAAAIGx1\r\nZXhhbXBsZQ==\r\nPrivate-Lines: 1\r\n'
           'AAAAIHNlY3JldA==\r\nPrivate-MAC: 0011\r\n')
    message = refuse(ppk, dk.REFUSE_PUTTY)
    assert 'puttygen' in message


@needs_ssh_keygen
def test_refuse_passphrase_protected_openssh_key(tmp_path):
    path = tmp_path / 'id'
    subprocess.run([SSH_KEYGEN, '-q', '-t', 'ed25519', '-N', 'correct horse', '-f', str(path)],
                   check=True, stdin=subprocess.DEVNULL)
    text = path.read_text()
    message = refuse(text, dk.REFUSE_ENCRYPTED, text)
    assert 'passphrase' in message and 'ssh-keygen -p' in message


def test_refuse_passphrase_protected_pkcs8_key():
    text = private_key('ecdsa').private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b'secret')).decode('ascii')
    refuse(text, dk.REFUSE_ENCRYPTED, text)


def test_refuse_passphrase_protected_traditional_key():
    text = private_key('rsa').private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b'secret')).decode('ascii')
    refuse(text, dk.REFUSE_ENCRYPTED, text)


def test_refuse_truncated_armor_missing_end_line():
    cut = ED.split('-----END')[0]
    message = refuse(cut, dk.REFUSE_TRUNCATED, ED)
    assert 'END OPENSSH PRIVATE KEY' in message


def test_refuse_truncated_armor_cut_inside_end_line():
    refuse(ED[:-15], dk.REFUSE_TRUNCATED, ED)


def test_refuse_truncated_armor_missing_begin_line():
    refuse('\n'.join(ED.split('\n')[1:]), dk.REFUSE_TRUNCATED, ED)


def test_refuse_mismatched_armor():
    refuse(RSA_PEM.replace('END RSA PRIVATE KEY', 'END EC PRIVATE KEY'), dk.REFUSE_TRUNCATED, RSA_PEM)


def test_refuse_armor_missing_around_bare_body():
    body = ''.join(ED.strip().split('\n')[1:-1])
    refuse(body, dk.REFUSE_TRUNCATED, ED)


def test_refuse_truncated_body_lines_missing():
    lines = RSA_PEM.strip().split('\n')
    cut = '\n'.join(lines[:5] + lines[-1:]) + '\n'
    message = refuse(cut, dk.REFUSE_DAMAGED, RSA_PEM)
    assert 'truncated or damaged' in message


def test_refuse_truncated_body_incomplete_base64():
    lines = ED.strip().split('\n')
    cut = '\n'.join(lines[:2] + [lines[2][:-3]] + lines[-1:]) + '\n'
    refuse(cut, dk.REFUSE_TRUNCATED, ED)


def test_refuse_truncated_openssh_structure():
    lines = ED.strip().split('\n')
    cut = '\n'.join(lines[:2] + lines[-1:]) + '\n'
    reason = pytest.raises(dk.DeployKeyError, normalize, cut).value.reason
    assert reason in (dk.REFUSE_TRUNCATED, dk.REFUSE_DAMAGED)


def test_refuse_body_with_non_base64_characters():
    lines = ED.strip().split('\n')
    lines[2] = lines[2][:10] + '%' + lines[2][11:]
    refuse('\n'.join(lines) + '\n', dk.REFUSE_DAMAGED, ED)


def test_refuse_x509_certificate():
    key = private_key('ecdsa')
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'git.example.com')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    message = refuse(cert.public_bytes(serialization.Encoding.PEM).decode('ascii'), dk.REFUSE_CERTIFICATE)
    assert 'certificate' in message


def test_refuse_openssh_certificate():
    ca = private_key('ed25519', 1)
    cert = (serialization.SSHCertificateBuilder().public_key(private_key('ed25519').public_key())
            .serial(1).type(serialization.SSHCertificateType.USER).valid_principals([b'git'])
            .valid_after(0).valid_before(2 ** 40).sign(ca))
    line = cert.public_bytes().decode('ascii') + ' deploy-cert\n'
    assert '-cert-v01@openssh.com' in line
    refuse(line, dk.REFUSE_CERTIFICATE)


def test_refuse_unknown_armor():
    message = refuse('-----BEGIN FOO BAR-----\nAAAA\n-----END FOO BAR-----\n', dk.REFUSE_UNKNOWN_ARMOR)
    assert 'FOO BAR' in message and 'OPENSSH PRIVATE KEY' in message


def test_refuse_ssh_com_private_key():
    refuse('---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nAAAA\n---- END SSH2 ENCRYPTED PRIVATE KEY ----\n',
           dk.REFUSE_UNKNOWN_ARMOR)


def test_refuse_text_without_any_armor():
    message = refuse('please see the vault for the key', dk.REFUSE_UNKNOWN_ARMOR)
    assert 'No private key found' in message


def test_refuse_dsa_key():
    text = dsa.generate_private_key(key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode('ascii')
    message = refuse(text, dk.REFUSE_UNSUPPORTED_TYPE, text)
    assert 'DSA' in message


def test_refuse_key_type_openssh_cannot_use():
    text = ed448.Ed448PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode('ascii')
    refuse(text, dk.REFUSE_UNSUPPORTED_TYPE, text)


def test_refuse_ecdsa_curve_openssh_cannot_use():
    text = ec.generate_private_key(ec.SECP256K1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode('ascii')
    refuse(text, dk.REFUSE_UNSUPPORTED_TYPE, text)


def test_refuse_text_after_end_line():
    message = refuse(ED + public_line('ed25519') + '\n', dk.REFUSE_EXTRA_TEXT, ED)
    assert 'after' in message


def test_refuse_text_before_begin_line():
    refuse('Bag Attributes\n' + RSA_PEM, dk.REFUSE_EXTRA_TEXT, RSA_PEM)


def test_refuse_two_keys():
    message = refuse(ED + RSA_PEM, dk.REFUSE_MULTIPLE, ED, RSA_PEM)
    assert '2 PEM blocks' in message


def test_refuse_invalid_json():
    refuse('{"gitSshKey": "' + ED.replace('\n', '\\n') + '"', dk.REFUSE_JSON, ED)


def test_refuse_json_without_the_field_names_fields_but_never_values():
    document = json.dumps({'sshKey': ED, ED: 'pasted as a name'})
    message = refuse(document, dk.REFUSE_JSON, ED)
    assert "'gitSshKey'" in message and 'sshKey' in message and 'json_field' in message


def test_refuse_python_expression_that_is_not_a_literal():
    refuse("{'gitSshKey': __import__('os').getcwd()}", dk.REFUSE_JSON)


def test_refuse_mapping_without_the_field():
    refuse({'sshKey': ED}, dk.REFUSE_JSON, ED)


def test_refuse_json_field_that_is_not_a_string():
    refuse(json.dumps({'gitSshKey': ['a']}), dk.REFUSE_JSON)


def test_refuse_bytes_that_are_not_utf8():
    refuse(b'\x30\x82\x04\xa4\x02\x01\x00\x02\x82\x01\x01\x00\xff\xfe', dk.REFUSE_NOT_TEXT)


def test_refuse_non_string_input():
    refuse(12345, dk.REFUSE_NOT_TEXT)


def test_refuse_too_many_layers():
    value = ED
    for _layer in range(10):
        value = base64.b64encode(value.encode('ascii')).decode('ascii')
    refuse(value, dk.REFUSE_UNKNOWN_ARMOR, ED)


def test_refusal_without_cryptography(monkeypatch):
    monkeypatch.setattr(dk, 'HAS_CRYPTOGRAPHY', False)
    message = refuse(ED, dk.REFUSE_NO_CRYPTOGRAPHY, ED)
    assert 'cryptography' in message


# known_hosts -------------------------------------------------------------------

GITHUB = 'github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'


def hashed_entry():
    salt = base64.b64encode(b's' * 20).decode('ascii')
    digest = base64.b64encode(b'h' * 20).decode('ascii')
    return '|1|{0}|{1} {2}'.format(salt, digest, public_line('ecdsa'))


def test_known_hosts_valid_entries_are_counted_and_normalised():
    text = '\r\n# GitHub\r\n' + GITHUB + '\r\n\r\n[git.example.com]:2222,10.0.0.1 ' + public_line('rsa') + ' c\r\n'
    text += '@cert-authority *.example.com ' + public_line('ed25519') + '\r\n' + hashed_entry() + '\r\n'
    normalised, entries = kh.validate_known_hosts(text)
    assert entries == 4
    assert '\r' not in normalised
    assert normalised.startswith('# GitHub\n') and normalised.endswith('\n') and not normalised.endswith('\n\n')


def test_known_hosts_ssh_keyscan_output_is_accepted_unchanged():
    text = GITHUB + '\n'
    assert kh.validate_known_hosts(text) == (text, 1)


@pytest.mark.parametrize('line,problem', [
    (public_line('ed25519'), 'host name field is missing'),
    ('github.com ssh-ed25519', 'expected host names'),
    ('github.com ssh-ed25519 AAAA%%%', 'not valid base64'),
    ('github.com ssh-rsa ' + GITHUB.split()[2], 'does not match its key type'),
    ('@trusted github.com ' + public_line('ed25519'), 'unknown marker'),
    ('|1|abc|def ' + public_line('ed25519'), 'hashed host name'),
    ('github.com SSH_ED25519 ' + GITHUB.split()[2], 'not a key type'),
    ('github.com ssh-ed25519 AAAA', 'too short'),
], ids=['bare-public-key', 'no-key', 'bad-base64', 'type-mismatch', 'bad-marker', 'bad-hash', 'bad-type', 'short'])
def test_known_hosts_invalid_line_is_refused_with_its_line_number(line, problem):
    with pytest.raises(dk.DeployKeyError) as info:
        kh.validate_known_hosts('# first\n' + GITHUB + '\n' + line + '\n')
    assert info.value.reason == dk.REFUSE_KNOWN_HOSTS
    assert 'line 3' in info.value.message and problem in info.value.message


def test_known_hosts_with_private_key_pasted_is_refused_without_echo():
    with pytest.raises(dk.DeployKeyError) as info:
        kh.validate_known_hosts(ED)
    assert 'private key' in info.value.message
    assert_no_key_material(info.value.message, ED)


def test_known_hosts_with_only_comments_is_refused():
    with pytest.raises(dk.DeployKeyError):
        kh.validate_known_hosts('# nothing here\n\n')


# Secret planning (the module's logic, without Kubernetes) ----------------------

def stored(data, labels=None, secret_type='Opaque'):
    return {
        'apiVersion': 'v1', 'kind': 'Secret', 'type': secret_type,
        'metadata': {'name': 'git', 'namespace': 'airflow', 'resourceVersion': '7', 'labels': labels or {}},
        'data': data,
    }


def test_secret_data_has_the_keys_the_airflow_chart_expects():
    data = dks.secret_data(ED, GITHUB + '\n')
    assert set(data) == {'gitSshKey', 'knownHosts'}
    assert base64.b64decode(data['gitSshKey']).decode('ascii') == ED
    assert set(dks.secret_data(ED)) == {'gitSshKey'}


def test_plan_creates_missing_secret():
    plan = dks.plan_secret(None, 'git', 'airflow', dks.secret_data(ED), {'team': 'ml'})
    assert plan['action'] == 'create'
    assert plan['body']['type'] == 'Opaque'
    assert plan['body']['metadata'] == {'name': 'git', 'namespace': 'airflow', 'labels': {'team': 'ml'}}
    assert plan['diff']['before'] == {}


def test_plan_is_idempotent_when_data_and_labels_match():
    data = dks.secret_data(ED, GITHUB + '\n')
    plan = dks.plan_secret(stored(data, {'team': 'ml', 'helm': 'x'}), 'git', 'airflow', data, {'team': 'ml'})
    assert plan['action'] is None
    assert plan['diff']['before'] == plan['diff']['after']


def test_plan_replaces_when_key_changes_and_keeps_foreign_labels():
    old = stored(dks.secret_data(RSA_PEM), {'helm': 'x'})
    plan = dks.plan_secret(old, 'git', 'airflow', dks.secret_data(ED), {'team': 'ml'})
    assert plan['action'] == 'replace'
    assert plan['body']['metadata']['labels'] == {'helm': 'x', 'team': 'ml'}
    assert plan['body']['metadata']['resourceVersion'] == '7'


def test_plan_replaces_when_stored_key_is_damaged_copy_of_same_key():
    damaged = base64.b64encode(ED.replace('\n', '\r\n').encode('ascii')).decode('ascii')
    plan = dks.plan_secret(stored({'gitSshKey': damaged}), 'git', 'airflow', dks.secret_data(ED), {})
    assert plan['action'] == 'replace'
    assert 'needs repair: line_endings' in plan['diff']['before']['data']['gitSshKey']


def test_plan_drops_stale_known_hosts():
    old = stored(dks.secret_data(ED, GITHUB + '\n'))
    plan = dks.plan_secret(old, 'git', 'airflow', dks.secret_data(ED), {})
    assert plan['action'] == 'replace'
    assert set(plan['body']['data']) == {'gitSshKey'}


def test_plan_label_change_alone_replaces():
    data = dks.secret_data(ED)
    plan = dks.plan_secret(stored(data, {'team': 'old'}), 'git', 'airflow', data, {'team': 'ml'})
    assert plan['action'] == 'replace'


def test_plan_refuses_to_touch_secret_of_another_type():
    with pytest.raises(dks.SecretConflict) as info:
        dks.plan_secret(stored({}, secret_type='kubernetes.io/ssh-auth'), 'git', 'airflow', dks.secret_data(ED), {})
    assert 'kubernetes.io/ssh-auth' in str(info.value)


def test_plan_absent_deletes_existing_and_ignores_missing():
    assert dks.plan_secret(stored(dks.secret_data(ED)), 'git', 'airflow', None, {}, state='absent')['action'] == 'delete'
    assert dks.plan_secret(None, 'git', 'airflow', None, {}, state='absent')['action'] is None


def test_plan_diff_shows_fingerprints_never_key_material():
    old = stored(dks.secret_data(RSA_PEM, GITHUB + '\n'))
    plan = dks.plan_secret(old, 'git', 'airflow', dks.secret_data(ED, GITHUB + '\n'), {})
    rendered = json.dumps(plan['diff'])
    assert_no_key_material(rendered, ED, RSA_PEM)
    assert normalize(ED).fingerprint in rendered and normalize(RSA_PEM).fingerprint in rendered
    assert GITHUB in rendered


def test_describe_secret_data_marks_unusable_and_foreign_entries():
    view = dks.describe_secret_data({
        'gitSshKey': base64.b64encode(b'not a key').decode('ascii'),
        'extra': base64.b64encode(ED.encode('ascii')).decode('ascii'),
        'knownHosts': '***',
    })
    assert view['gitSshKey'].endswith('(unusable: unknown_armor)')
    assert view['extra'] == '<{0} bytes, not shown>'.format(len(ED))
    assert view['knownHosts'] == '<not base64 text>'


# The filter --------------------------------------------------------------------

def test_filter_returns_the_normalised_key():
    from ansible_collections.mlops.eks_platform.plugins.filter.normalize_private_key import FilterModule
    normalize_filter = FilterModule().filters()['normalize_private_key']
    assert normalize_filter(ED.replace('\n', '\r\n')) == ED
    assert normalize_filter(json.dumps({'sshKey': ED}), json_field='sshKey') == ED


def test_filter_raises_filter_error_with_the_refusal_message():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.mlops.eks_platform.plugins.filter.normalize_private_key import normalize_private_key
    with pytest.raises(AnsibleFilterError) as info:
        normalize_private_key(public_line('ed25519'))
    assert 'public key' in str(info.value)
    assert info.value.__cause__ is None


# The module, with Kubernetes replaced by an in-memory API ------------------------

class FakeApiException(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class FakeCoreV1:
    def __init__(self):
        self.secrets = {}
        self.writes = 0

    def read_namespaced_secret(self, name, namespace):
        if (namespace, name) not in self.secrets:
            raise FakeApiException(404, 'Not Found')
        return copy.deepcopy(self.secrets[(namespace, name)])

    def create_namespaced_secret(self, namespace, body):
        self.writes += 1
        body = copy.deepcopy(body)
        body['metadata']['resourceVersion'] = str(self.writes)
        self.secrets[(namespace, body['metadata']['name'])] = body

    def replace_namespaced_secret(self, name, namespace, body):
        self.writes += 1
        self.secrets[(namespace, name)] = copy.deepcopy(body)

    def delete_namespaced_secret(self, name, namespace):
        self.writes += 1
        del self.secrets[(namespace, name)]


class FakeApiClient:
    @staticmethod
    def sanitize_for_serialization(value):
        return value


@pytest.fixture
def module_runner(monkeypatch, capsys):
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.mlops.eks_platform.plugins.modules import git_deploy_key

    core = FakeCoreV1()
    monkeypatch.setattr(git_deploy_key, 'kubernetes_api', lambda module: (core, FakeApiClient()))
    monkeypatch.setattr(git_deploy_key, 'ApiException', FakeApiException)

    def run(check_mode=False, diff=False, **args):
        args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                git_deploy_key.main()
        out = capsys.readouterr().out
        return json.loads(out), out

    run.core = core
    return run


def test_module_writes_repaired_key_then_is_idempotent(module_runner):
    damaged = '"' + ED.replace('\n', '\\n') + '"'
    args = dict(key=damaged, known_hosts=GITHUB, namespace='airflow', name='git', labels={'team': 'ml'})
    first, out1 = module_runner(**args)
    assert first['changed'] is True
    assert first['repairs'] == ['quotes', 'escaped_newlines']
    assert first['fingerprint'] == normalize(ED).fingerprint
    assert first['known_hosts_entries'] == 1
    secret = module_runner.core.secrets[('airflow', 'git')]
    assert base64.b64decode(secret['data']['gitSshKey']).decode('ascii') == ED
    assert base64.b64decode(secret['data']['knownHosts']).decode('ascii') == GITHUB + '\n'
    second, out2 = module_runner(**args)
    assert second['changed'] is False
    assert module_runner.core.writes == 1
    for output in (out1, out2):
        assert_no_key_material(output, ED)
        assert 'BEGIN OPENSSH' not in output


def test_module_accepts_a_dict_for_key(module_runner):
    result, out = module_runner(key={'gitSshKey': ED}, namespace='airflow', name='git')
    assert result['changed'] is True and result['repairs'] == ['json_secret']
    assert_no_key_material(out, ED)


def test_module_check_mode_and_diff_do_not_write_or_reveal(module_runner):
    result, out = module_runner(check_mode=True, diff=True, key=ED, namespace='airflow', name='git')
    assert result['changed'] is True
    assert module_runner.core.writes == 0
    assert result['diff']['before'] == {}
    assert normalize(ED).fingerprint in result['diff']['after']['data']['gitSshKey']
    assert_no_key_material(out, ED)
    assert any('will not be verified' in w for w in result.get('warnings', []))


def test_module_refusal_fails_without_writing(module_runner):
    result, out = module_runner(key=public_line('ed25519'), namespace='airflow', name='git')
    assert result['failed'] is True
    assert result['reason'] == 'public_key'
    assert module_runner.core.writes == 0


def test_module_invalid_known_hosts_fails_without_writing(module_runner):
    result, _out = module_runner(key=ED, known_hosts=public_line('ed25519'), namespace='airflow', name='git')
    assert result['failed'] is True and 'known_hosts line 1' in result['msg']
    assert module_runner.core.writes == 0


def test_module_absent_deletes_the_secret(module_runner):
    module_runner(key=ED, namespace='airflow', name='git')
    result, _out = module_runner(state='absent', namespace='airflow', name='git')
    assert result['changed'] is True and not module_runner.core.secrets
    result, _out = module_runner(state='absent', namespace='airflow', name='git')
    assert result['changed'] is False


def test_module_without_cryptography_fails_with_missing_library(module_runner, monkeypatch):
    from ansible_collections.mlops.eks_platform.plugins.modules import git_deploy_key
    monkeypatch.setattr(git_deploy_key, 'HAS_CRYPTOGRAPHY', False)
    result, out = module_runner(key=ED, namespace='airflow', name='git')
    assert result['failed'] is True and 'cryptography' in result['msg']
    assert_no_key_material(out, ED)


def test_module_requires_a_key_source(module_runner):
    result, _out = module_runner(namespace='airflow')
    assert result['failed'] is True and 'key' in result['msg'] and 'secret_id' in result['msg']


def test_module_key_and_secret_id_are_mutually_exclusive(module_runner):
    result, _out = module_runner(key=ED, secret_id='prod/git', namespace='airflow')
    assert result['failed'] is True and 'mutually exclusive' in result['msg']
    assert_no_key_material(_out, ED)


def test_module_reads_json_secret_from_secrets_manager(module_runner, monkeypatch):
    from ansible_collections.mlops.eks_platform.plugins.modules import git_deploy_key

    calls = []

    class FakeSecretsManager:
        def get_secret_value(self, **kwargs):
            calls.append(kwargs)
            return {'SecretString': json.dumps({'sshKey': RSA_PEM.replace('\n', '\r\n')})}

    def fake_client(self, service, retry_decorator=None, **kwargs):
        assert service == 'secretsmanager' and retry_decorator is not None
        return FakeSecretsManager()

    monkeypatch.setattr(git_deploy_key.AnsibleAWSModule, 'client', fake_client)
    result, out = module_runner(secret_id='prod/git', json_field='sshKey', namespace='airflow', name='git',
                                region='eu-west-1')
    assert result['changed'] is True, result
    assert calls == [{'SecretId': 'prod/git', 'aws_retry': True}]
    assert result['repairs'] == ['json_secret', 'line_endings']
    assert_no_key_material(out, RSA_PEM)


def test_written_key_file_mode_helper_is_private(tmp_path):
    path = write_key_file(str(tmp_path), ED)
    import os
    import stat
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret_fragments(ED)
