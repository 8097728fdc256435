# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test keys, damage functions and the ssh-keygen oracle for deploy_key tests.

Kept separate from the normaliser on purpose: the canonical layout and the
damages are re-implemented here in the simplest possible way, so the tests
check the module against an independent statement of what OpenSSH wants.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import subprocess
import tempfile

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

SSH_KEYGEN = shutil.which('ssh-keygen') or '/usr/bin/ssh-keygen'
HAVE_SSH_KEYGEN = os.access(SSH_KEYGEN, os.X_OK)

# RSA generation is the slow part of the suite; a few keys are reused.
POOL_SIZE = 3
_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)

_FORMATS = {
    'openssh': serialization.PrivateFormat.OpenSSH,
    'pkcs8': serialization.PrivateFormat.PKCS8,
    'traditional': serialization.PrivateFormat.TraditionalOpenSSL,
}

# (algorithm, format): Ed25519 has no traditional ("BEGIN ... PRIVATE KEY"
# with algorithm name) PEM form.
KINDS = (
    ('ed25519', 'openssh'),
    ('ed25519', 'pkcs8'),
    ('rsa', 'openssh'),
    ('rsa', 'pkcs8'),
    ('rsa', 'traditional'),
    ('ecdsa', 'openssh'),
    ('ecdsa', 'pkcs8'),
    ('ecdsa', 'traditional'),
)


def kind_id(kind):
    return '{0}-{1}'.format(*kind)


@functools.lru_cache(maxsize=None)
def private_key(algorithm, index=0):
    if algorithm == 'ed25519':
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == 'rsa':
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == 'ecdsa':
        return ec.generate_private_key(_CURVES[index % len(_CURVES)]())
    raise ValueError(algorithm)


def wrap(text, width):
    """Re-layout an armored key: BEGIN, body at ``width`` columns, END, one newline."""
    lines = text.strip().split('\n')
    body = ''.join(line.strip() for line in lines[1:-1])
    chunks = [body[i:i + width] for i in range(0, len(body), width)]
    return '\n'.join([lines[0].strip()] + chunks + [lines[-1].strip()]) + '\n'


def width_for(fmt):
    return 70 if fmt == 'openssh' else 64


@functools.lru_cache(maxsize=None)
def pristine(algorithm, fmt, index=0):
    """The key file exactly as OpenSSH wants it (ssh-keygen's own layout)."""
    key = private_key(algorithm, index)
    text = key.private_bytes(
        serialization.Encoding.PEM, _FORMATS[fmt], serialization.NoEncryption()).decode('ascii')
    return wrap(text, width_for(fmt))


@functools.lru_cache(maxsize=None)
def public_line(algorithm, index=0):
    """'type base64' of the public key, as ``ssh-keygen -y`` prints it."""
    key = private_key(algorithm, index)
    return key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode('ascii')


def body_lines(text):
    """Every base64 line of an armored key (what must never be leaked)."""
    return [line for line in text.strip().split('\n')[1:-1] if line]


def secret_fragments(text):
    """Substrings whose presence in any output means key material leaked."""
    fragments = set(body_lines(text))
    fragments.add(base64.b64encode(text.encode('ascii')).decode('ascii'))
    fragments.add(''.join(body_lines(text)))
    return fragments


def assert_no_key_material(output, *keys):
    for key in keys:
        for fragment in secret_fragments(key):
            assert fragment not in output, 'key material leaked into output'


def write_key_file(directory, text, name='key'):
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w', newline='') as handle:
        handle.write(text)
    return path


def ssh_keygen(*args, key_text):
    """Run real OpenSSH ssh-keygen on ``key_text`` in a 0600 temp file."""
    with tempfile.TemporaryDirectory() as directory:
        path = write_key_file(directory, key_text)
        return subprocess.run(
            [SSH_KEYGEN] + list(args) + ['-f', path],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False,
        )


def oracle_public_key(key_text):
    """The public key OpenSSH derives from the private key, or None if it refuses it."""
    proc = ssh_keygen('-y', '-P', '', key_text=key_text)
    if proc.returncode != 0:
        return None
    return ' '.join(proc.stdout.split()[:2])


def oracle_fingerprint(key_text):
    """(bits, 'SHA256:...') as ``ssh-keygen -lf`` prints them."""
    proc = ssh_keygen('-l', key_text=key_text)
    assert proc.returncode == 0, proc.stderr
    fields = proc.stdout.split()
    return int(fields[0]), fields[1]


# Damages ---------------------------------------------------------------------
# Each takes and returns the whole text.  Order in DAMAGE_ORDER is the order
# in which they are stacked when combined: changes to the body first, then
# to line breaks, then wrappers, BOM outermost, as they happen in practice.

def _collapse_body(text):
    lines = text.strip('\n').split('\n')
    return '\n'.join([lines[0], ''.join(lines[1:-1]), lines[-1]]) + '\n'


def _rewrap_76(text):
    return wrap(text, 76)


def _indent(text):
    return ''.join('    ' + line + '\n' for line in text.rstrip('\n').split('\n'))


def _json(text):
    return json.dumps({'gitSshKey': text, 'repo': 'git@github.com:example/dags.git'})


DAMAGES = {
    'collapsed_body': (_collapse_body, 'line_wrap'),
    'rewrap_76': (_rewrap_76, 'line_wrap'),
    'indentation': (_indent, 'whitespace'),
    'no_final_newline': (lambda t: t.rstrip('\n'), 'trailing_newline'),
    'doubled_newline': (lambda t: t + '\n', 'trailing_newline'),
    'spaces_for_newlines': (lambda t: t.replace('\n', ' '), 'line_wrap'),
    'crlf': (lambda t: t.replace('\n', '\r\n'), 'line_endings'),
    'cr': (lambda t: t.replace('\n', '\r'), 'line_endings'),
    'escaped_newlines': (lambda t: t.replace('\n', '\\n'), 'escaped_newlines'),
    'surrounding_whitespace': (lambda t: '  \n\t' + t + '   \n ', 'whitespace'),
    'double_quotes': (lambda t: '"' + t + '"', 'quotes'),
    'single_quotes': (lambda t: "'" + t + "'", 'quotes'),
    'json_secret': (_json, 'json_secret'),
    'base64_layer': (lambda t: base64.b64encode(t.encode('utf-8')).decode('ascii'), 'base64_layer'),
    'utf8_bom': (lambda t: '\ufeff' + t, 'utf8_bom'),
}
DAMAGE_ORDER = tuple(DAMAGES)

# Pairs that describe one damage twice or contradict each other.
EXCLUSIVE = (
    frozenset(('crlf', 'cr')),
    frozenset(('no_final_newline', 'doubled_newline')),
    frozenset(('double_quotes', 'single_quotes')),
    frozenset(('collapsed_body', 'rewrap_76')),
)

# Realistic pairs seen in the wild, checked deterministically on every kind.
DAMAGE_PAIRS = (
    ('crlf', 'no_final_newline'),
    ('crlf', 'double_quotes'),
    ('escaped_newlines', 'double_quotes'),
    ('escaped_newlines', 'json_secret'),
    ('escaped_newlines', 'no_final_newline'),
    ('escaped_newlines', 'base64_layer'),
    ('utf8_bom', 'crlf'),
    ('utf8_bom', 'json_secret'),
    ('utf8_bom', 'spaces_for_newlines'),
    ('indentation', 'crlf'),
    ('indentation', 'doubled_newline'),
    ('indentation', 'escaped_newlines'),
    ('collapsed_body', 'single_quotes'),
    ('collapsed_body', 'json_secret'),
    ('spaces_for_newlines', 'double_quotes'),
    ('json_secret', 'base64_layer'),
    ('double_quotes', 'base64_layer'),
    ('surrounding_whitespace', 'json_secret'),
    ('cr', 'surrounding_whitespace'),
    ('doubled_newline', 'crlf'),
    ('rewrap_76', 'crlf'),
)


def apply_damages(text, names):
    for name in DAMAGE_ORDER:
        if name in names:
            text = DAMAGES[name][0](text)
    return text


def compatible(names):
    names = frozenset(names)
    return not any(pair <= names for pair in EXCLUSIVE)
