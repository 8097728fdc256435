# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Normalise and prove SSH private keys used as git-sync deploy keys.

Keys travel through Secrets Manager, web forms, AWX surveys and YAML files
before they reach git-sync, and each hop can damage them in ways OpenSSH only
reports from inside a pod ("error in libcrypto", "invalid format").  This is
the single implementation behind the ``normalize_private_key`` filter and the
``git_deploy_key`` module: it undoes the known kinds of damage, refuses what
cannot be repaired, and proves the result by parsing it with cryptography.

The known_hosts rules are in ``known_hosts`` and the Kubernetes Secret
planning of the module in ``deploy_key_secret``; both use the refusal
type defined here, :class:`DeployKeyError`.

Nothing here may ever put key material into an exception, a result or a log:
messages are built from constant text, armor labels and line numbers only.
"""

from __future__ import annotations

import ast
import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping

try:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
except ImportError as exc:  # the module reports this through missing_required_lib
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None


# Repair names are part of the public interface (module result, filter docs).
REPAIR_BOM = 'utf8_bom'
REPAIR_LINE_ENDINGS = 'line_endings'
REPAIR_TRAILING_NEWLINE = 'trailing_newline'
REPAIR_WHITESPACE = 'whitespace'
REPAIR_ESCAPED_NEWLINES = 'escaped_newlines'
REPAIR_LINE_WRAP = 'line_wrap'
REPAIR_QUOTES = 'quotes'
REPAIR_BASE64 = 'base64_layer'
REPAIR_JSON = 'json_secret'
REPAIR_TO_OPENSSH = 'pkcs8_ed25519_to_openssh'

REPAIRS = (
    REPAIR_BOM, REPAIR_LINE_ENDINGS, REPAIR_TRAILING_NEWLINE, REPAIR_WHITESPACE,
    REPAIR_ESCAPED_NEWLINES, REPAIR_LINE_WRAP, REPAIR_QUOTES, REPAIR_BASE64,
    REPAIR_JSON, REPAIR_TO_OPENSSH,
)

# Refusal reasons, also public: callers and tests match on them, not on wording.
REFUSE_EMPTY = 'empty'
REFUSE_PUBLIC_KEY = 'public_key'
REFUSE_PUTTY = 'putty'
REFUSE_ENCRYPTED = 'encrypted'
REFUSE_TRUNCATED = 'truncated'
REFUSE_CERTIFICATE = 'certificate'
REFUSE_UNKNOWN_ARMOR = 'unknown_armor'
REFUSE_DAMAGED = 'damaged'
REFUSE_UNSUPPORTED_TYPE = 'unsupported_key_type'
REFUSE_NOT_TEXT = 'not_text'
REFUSE_JSON = 'json'
REFUSE_EXTRA_TEXT = 'extra_text'
REFUSE_MULTIPLE = 'multiple_blocks'
REFUSE_KNOWN_HOSTS = 'known_hosts'
REFUSE_NO_CRYPTOGRAPHY = 'missing_cryptography'

DEFAULT_JSON_FIELD = 'gitSshKey'

OPENSSH_LABEL = 'OPENSSH PRIVATE KEY'
# OpenSSH writes its own format at 70 columns, OpenSSL writes PEM at 64;
# these are the layouts the respective parsers were written against.
WRAP_WIDTH = {
    OPENSSH_LABEL: 70,
    'PRIVATE KEY': 64,
    'RSA PRIVATE KEY': 64,
    'EC PRIVATE KEY': 64,
}
KEY_FORMATS = {
    OPENSSH_LABEL: 'openssh',
    'PRIVATE KEY': 'pkcs8',
    'RSA PRIVATE KEY': 'pkcs1',
    'EC PRIVATE KEY': 'sec1',
}

_OPENSSH_MAGIC = b'openssh-key-v1\x00'
# Wrappers nest (a quoted JSON document inside base64 ...); a small bound
# keeps hostile input from looping while covering every realistic stack.
_MAX_LAYERS = 6
_MIN_BASE64_LAYER = 16

_BEGIN_RE = re.compile(r'-----BEGIN ([A-Z0-9][A-Z0-9 ]{0,40}?)-----')
_END_RE = re.compile(r'-----END ([A-Z0-9][A-Z0-9 ]{0,40}?)-----')
_BASE64_LAYER_RE = re.compile(r'[A-Za-z0-9+/=\s]+')
_BASE64_BODY_RE = re.compile(r'[A-Za-z0-9+/]*={0,2}')
_PUTTY_RE = re.compile(r'^\s*PuTTY-User-Key-File-\d+\s*:', re.MULTILINE)
_SSH2_ARMOR_RE = re.compile(r'----\s*BEGIN SSH2 (ENCRYPTED PRIVATE|PUBLIC) KEY\s*----')
_CERT_LINE_RE = re.compile(r'(^|\s)[a-z0-9.@-]+-cert-v0\d@openssh\.com\s+AAAA', re.MULTILINE)
_PUBLIC_LINE_RE = re.compile(
    r'(^|\s)(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9.@-]+)\s+AAAA[A-Za-z0-9+/]',
    re.MULTILINE,
)
_JSON_FIELD_NAME_RE = re.compile(r'[A-Za-z0-9_.-]{1,64}')
_PEM_ENCRYPTED_RE = re.compile(r'^\s*(Proc-Type:\s*4,\s*ENCRYPTED|DEK-Info:)', re.MULTILINE)
_PEM_HEADER_RE = re.compile(r'^\s*[A-Za-z][A-Za-z0-9-]*:', re.MULTILINE)

_CURVE_NAMES = {
    'secp256r1': 'nistp256',
    'secp384r1': 'nistp384',
    'secp521r1': 'nistp521',
}
# OpenSSH refuses shorter RSA moduli (SSH_RSA_MINIMUM_MODULUS_SIZE).
_RSA_MIN_BITS = 1024

_SUPPORTED_LABELS = "'OPENSSH PRIVATE KEY', 'PRIVATE KEY', 'RSA PRIVATE KEY' or 'EC PRIVATE KEY'"

MSG_EMPTY = (
    "The private key is empty. Provide the whole private key file, from its "
    "'-----BEGIN ... PRIVATE KEY-----' line to its '-----END ... PRIVATE KEY-----' line; "
    "if it comes from a secret, check that the secret (or the selected JSON field) has a value."
)
MSG_PUBLIC_KEY = (
    "This is a public key (a .pub file or an authorized_keys line), not a private key. "
    "git-sync needs the private half: provide the key file without '.pub' (for example id_ed25519) "
    "and register the public line as the deploy key on the Git server."
)
MSG_CERTIFICATE = (
    "This is a certificate, not a private key. git-sync authenticates with the private key file "
    "itself (for example id_ed25519, '-----BEGIN OPENSSH PRIVATE KEY-----'); provide that instead."
)
MSG_PUTTY = (
    "This is a PuTTY .ppk key, which OpenSSH cannot read. Convert it with "
    "'puttygen KEY.ppk -O private-openssh -o id_git' (or PuTTYgen: Conversions > Export OpenSSH key), "
    "without a passphrase, and provide the converted file."
)
MSG_ENCRYPTED = (
    "The private key is protected by a passphrase, and git-sync runs unattended and cannot enter it. "
    "Remove the passphrase from a copy of the key with 'ssh-keygen -p -N \"\" -f COPY_OF_KEY' "
    "(or create a dedicated deploy key without one) and provide that."
)
MSG_TRUNCATED_ARMOR = (
    "The private key is truncated: {detail}. It was cut off when it was pasted or stored; "
    "copy the whole key file again, from the '-----BEGIN' line to the '-----END' line."
)
MSG_TRUNCATED_BODY = (
    "The private key body is truncated or damaged: {detail}. It was cut or altered when it was "
    "pasted or stored; copy the whole key file again."
)
MSG_UNKNOWN_ARMOR = (
    "Unsupported armor '{label}': expected an SSH private key ({supported}). Convert the key to "
    "OpenSSH format with 'ssh-keygen -p -N \"\" -f COPY_OF_KEY', or create a new deploy key with "
    "'ssh-keygen -t ed25519'."
)
MSG_NO_ARMOR = (
    "No private key found: the value has no '-----BEGIN ... PRIVATE KEY-----' line. Provide the "
    "contents of the private key file (for example id_ed25519)."
)
MSG_UNSUPPORTED = (
    "The key type is not usable by git-sync: {detail}. Create a new deploy key with "
    "'ssh-keygen -t ed25519' and register its public half on the Git server."
)


class DeployKeyError(ValueError):
    """A refusal: ``reason`` is a stable code, ``message`` says what to do.

    Subclassing ValueError lets generic callers treat it as bad input; the
    message is all the exception carries, so printing it is always safe.
    """

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


class NormalizedKey:
    """The repaired key and what was proven about it.

    ``repr`` deliberately omits the key so an accidental debug print of this
    object cannot leak it.
    """

    def __init__(self, key, repairs, key_type, key_size, fingerprint, key_format):
        self.key = key
        self.repairs = repairs
        self.key_type = key_type
        self.key_size = key_size
        self.fingerprint = fingerprint
        self.key_format = key_format

    def info(self):
        """Everything about the key that is safe to return or log."""
        return {
            'repairs': list(self.repairs),
            'key_type': self.key_type,
            'key_size': self.key_size,
            'fingerprint': self.fingerprint,
            'key_format': self.key_format,
        }

    def __repr__(self):
        return '<NormalizedKey {0} {1}>'.format(self.key_type, self.fingerprint)


class _Repairs:
    """Ordered, duplicate-free list of repair names."""

    def __init__(self):
        self.names = []

    def add(self, name):
        if name not in self.names:
            self.names.append(name)


def normalize_private_key(value, json_field=DEFAULT_JSON_FIELD):
    """Repair ``value`` (str or bytes) into a key file OpenSSH accepts.

    Returns a NormalizedKey; raises DeployKeyError for anything that cannot
    be made into an unencrypted OpenSSH-compatible private key.
    """
    if not HAS_CRYPTOGRAPHY:
        raise DeployKeyError(
            REFUSE_NO_CRYPTOGRAPHY,
            "The Python library 'cryptography' is required to verify private keys; "
            "install it on the host that runs this (pip install cryptography).",
        )
    repairs = _Repairs()
    if isinstance(value, Mapping):
        # Already-parsed secrets (a from_json result, a Secrets Manager
        # lookup turned into a dict) carry the key in a field.
        value = _select_field(value, json_field or DEFAULT_JSON_FIELD)
        repairs.add(REPAIR_JSON)
    text = _to_text(value, repairs)
    text = _peel_layers(text, json_field or DEFAULT_JSON_FIELD, repairs)
    text = _fix_newlines(text, repairs)
    label, prefix, body, suffix = _locate_armor(text)
    for name in _layout_repairs(label, prefix, body, suffix):
        repairs.add(name)
    der = _decode_body(label, body)
    if label == OPENSSH_LABEL:
        _refuse_encrypted_openssh(der)
    canonical = _armor(label, der)
    key = _load(label, canonical)
    key_type, key_size = _describe(key)
    key_format = KEY_FORMATS[label]
    if isinstance(key, ed25519.Ed25519PrivateKey) and label != OPENSSH_LABEL:
        # OpenSSH releases still found in git-sync images (9.2 verified)
        # reject Ed25519 in PEM form with "invalid format".
        canonical = _ed25519_openssh_file(key)
        key = _load(OPENSSH_LABEL, canonical)
        key_format = KEY_FORMATS[OPENSSH_LABEL]
        repairs.add(REPAIR_TO_OPENSSH)
    return NormalizedKey(
        key=canonical,
        repairs=repairs.names,
        key_type=key_type,
        key_size=key_size,
        fingerprint=fingerprint_of(key),
        key_format=key_format,
    )


def _to_text(value, repairs):
    if value is None:
        raise DeployKeyError(REFUSE_EMPTY, MSG_EMPTY)
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value)
        if value.startswith(b'\xef\xbb\xbf'):
            repairs.add(REPAIR_BOM)
            value = value[3:]
        try:
            value = value.decode('utf-8')
        except UnicodeDecodeError:
            raise DeployKeyError(
                REFUSE_NOT_TEXT,
                "The private key is not text (it is not valid UTF-8). Provide the key file as "
                "text in OpenSSH or PEM format; binary DER keys can be converted with "
                "'openssl pkey -inform DER -in KEY.der -out KEY.pem'.",
            ) from None
    if not isinstance(value, str):
        raise DeployKeyError(
            REFUSE_NOT_TEXT,
            "The private key must be a string, got a {0}. Quote it in YAML, or read it with "
            "lookup('file', ...).".format(type(value).__name__),
        )
    return value


def _peel_layers(text, json_field, repairs):
    """Strip wrappers (BOM, quotes, JSON, base64) until the key text is exposed.

    Whitespace around a wrapper is the wrapper's formatting, not damage to
    the key, so it is dropped without being reported.
    """
    for _layer in range(_MAX_LAYERS):
        if '\ufeff' in text:
            # A zero-width no-break space is never part of a key, wherever
            # an editor or a concatenation left it.
            text = text.replace('\ufeff', '')
            repairs.add(REPAIR_BOM)
        core = text.strip()
        if not core:
            raise DeployKeyError(REFUSE_EMPTY, MSG_EMPTY)
        if len(core) >= 2 and core[0] == core[-1] and core[0] in '"\'':
            text = core[1:-1]
            repairs.add(REPAIR_QUOTES)
            continue
        if core.startswith('{'):
            text = _json_field(core, json_field)
            repairs.add(REPAIR_JSON)
            continue
        decoded = _base64_layer(core)
        if decoded is not None:
            text = decoded
            repairs.add(REPAIR_BASE64)
            continue
        return text
    raise DeployKeyError(
        REFUSE_UNKNOWN_ARMOR,
        "The value is wrapped in too many layers of quoting, JSON or base64 to be a key. "
        "Store the private key file as plain text.",
    )


def _json_field(document, json_field):
    try:
        # strict=False accepts raw newlines inside strings, which is exactly
        # how hand-edited JSON secrets usually carry a multi-line key.
        data = json.loads(document, strict=False)
    except ValueError:
        data = _python_literal(document)
    if not isinstance(data, dict):
        raise DeployKeyError(
            REFUSE_JSON,
            "The JSON value is not an object. Store the key as plain text, or as a JSON object "
            "such as {\"gitSshKey\": \"<key>\"}.",
        )
    return _select_field(data, json_field)


def _python_literal(document):
    # Ansible turns a dict given to a str option into its Python repr
    # ({'gitSshKey': '...'}), which is not JSON; literal_eval reads it
    # without executing anything.
    try:
        return ast.literal_eval(document)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise DeployKeyError(
            REFUSE_JSON,
            "The value starts with '{' but is not valid JSON. Store the key as plain text, or as "
            "a JSON object such as {\"gitSshKey\": \"<key with \\n line breaks>\"}.",
        ) from None


def _select_field(data, json_field):
    if json_field not in data:
        # Field names are listed to help pick json_field, but only names that
        # look like identifiers: a key pasted as a name must not be echoed.
        names = sorted(name for name in data if isinstance(name, str) and _JSON_FIELD_NAME_RE.fullmatch(name))
        raise DeployKeyError(
            REFUSE_JSON,
            "The JSON secret has no field '{0}' (fields: {1}). Select the field that holds the "
            "private key with the json_field option.".format(
                json_field if _JSON_FIELD_NAME_RE.fullmatch(json_field) else '<invalid name>',
                ', '.join(names) or 'none usable'),
        )
    value = data[json_field]
    if value is None or value == '':
        raise DeployKeyError(REFUSE_EMPTY, MSG_EMPTY)
    if not isinstance(value, str):
        raise DeployKeyError(
            REFUSE_JSON,
            "The JSON field '{0}' is not a string. It must hold the private key file as a "
            "string.".format(json_field),
        )
    return value


def _base64_layer(core):
    """Decode one layer of base64 around key text, or return None."""
    if len(core) < _MIN_BASE64_LAYER or not _BASE64_LAYER_RE.fullmatch(core):
        return None
    try:
        raw = base64.b64decode(''.join(core.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if raw.startswith(_OPENSSH_MAGIC) or (len(raw) > 2 and raw[0] == 0x30 and raw[1] in (0x81, 0x82, 0x83)):
        # The bare body of a key (OpenSSH blob or DER) without its armor.
        raise DeployKeyError(
            REFUSE_TRUNCATED,
            MSG_TRUNCATED_ARMOR.format(
                detail="only the base64 body is present, the '-----BEGIN' and '-----END' lines are missing"),
        )
    try:
        # A BOM inside the layer survives decoding and is removed (and
        # reported) by the next round of _peel_layers.
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        return None
    if not text.strip() or not all(c.isprintable() or c in '\r\n\t\ufeff' for c in text):
        return None
    return text


def _fix_newlines(text, repairs):
    # Base64 never contains a backslash, so any literal "\n" is an escaped
    # line break that a form or a YAML/JSON writer failed to expand.
    if '\\n' in text or '\\r' in text:
        text = text.replace('\\r\\n', '\n').replace('\\n', '\n').replace('\\r', '\n')
        repairs.add(REPAIR_ESCAPED_NEWLINES)
    if '\r' in text:
        text = text.replace('\r\n', '\n').replace('\r', '\n')
        repairs.add(REPAIR_LINE_ENDINGS)
    return text


def _locate_armor(text):
    """Find the one private key block; return (label, prefix, body, suffix)."""
    if _PUTTY_RE.search(text):
        raise DeployKeyError(REFUSE_PUTTY, MSG_PUTTY)
    ssh2 = _SSH2_ARMOR_RE.search(text)
    if ssh2:
        if ssh2.group(1) == 'PUBLIC':
            raise DeployKeyError(REFUSE_PUBLIC_KEY, MSG_PUBLIC_KEY)
        raise DeployKeyError(
            REFUSE_UNKNOWN_ARMOR,
            MSG_UNKNOWN_ARMOR.format(label='SSH2 ENCRYPTED PRIVATE KEY', supported=_SUPPORTED_LABELS)
            + " Keys in the ssh.com format are imported with 'ssh-keygen -i -f KEY'.",
        )
    begins = list(_BEGIN_RE.finditer(text))
    if not begins:
        if '-----BEGIN' in text:
            raise DeployKeyError(
                REFUSE_TRUNCATED,
                MSG_TRUNCATED_ARMOR.format(detail="the '-----BEGIN ...-----' line is incomplete"))
        if _END_RE.search(text) or '-----END' in text:
            raise DeployKeyError(
                REFUSE_TRUNCATED,
                MSG_TRUNCATED_ARMOR.format(detail="the '-----BEGIN ...-----' line is missing"))
        if _CERT_LINE_RE.search(text):
            raise DeployKeyError(REFUSE_CERTIFICATE, MSG_CERTIFICATE)
        if _PUBLIC_LINE_RE.search(text):
            raise DeployKeyError(REFUSE_PUBLIC_KEY, MSG_PUBLIC_KEY)
        raise DeployKeyError(REFUSE_UNKNOWN_ARMOR, MSG_NO_ARMOR)

    begin = begins[0]
    label = begin.group(1)
    _refuse_label(label)
    if len(begins) > 1:
        raise DeployKeyError(
            REFUSE_MULTIPLE,
            "The value contains {0} PEM blocks ({1}); git-sync uses exactly one private key. "
            "Provide only the private key block.".format(
                len(begins), ', '.join(m.group(1) for m in begins)),
        )
    end = _END_RE.search(text, begin.end())
    if end is None:
        raise DeployKeyError(
            REFUSE_TRUNCATED,
            MSG_TRUNCATED_ARMOR.format(detail="the '-----END {0}-----' line is missing".format(label)))
    if end.group(1) != label:
        raise DeployKeyError(
            REFUSE_TRUNCATED,
            MSG_TRUNCATED_ARMOR.format(
                detail="'-----BEGIN {0}-----' is closed by '-----END {1}-----'".format(label, end.group(1))))

    prefix, body, suffix = text[:begin.start()], text[begin.end():end.start()], text[end.end():]
    if prefix.strip():
        raise DeployKeyError(
            REFUSE_EXTRA_TEXT,
            "There is text before the '-----BEGIN {0}-----' line. Provide only the private key "
            "file, starting with that line.".format(label),
        )
    if suffix.strip():
        raise DeployKeyError(
            REFUSE_EXTRA_TEXT,
            "There is text after the '-----END {0}-----' line (often a pasted public key or "
            "certificate). Provide only the private key file, ending with that line.".format(label),
        )
    if label != OPENSSH_LABEL and _PEM_ENCRYPTED_RE.search(body):
        raise DeployKeyError(REFUSE_ENCRYPTED, MSG_ENCRYPTED)
    if _PEM_HEADER_RE.search(body):
        raise DeployKeyError(
            REFUSE_UNKNOWN_ARMOR,
            "The key block carries PEM headers, which OpenSSH does not accept for unencrypted "
            "keys. Re-export the key with 'ssh-keygen -p -N \"\" -f COPY_OF_KEY'.",
        )
    return label, prefix, body, suffix


def _refuse_label(label):
    if 'CERTIFICATE' in label:
        raise DeployKeyError(REFUSE_CERTIFICATE, MSG_CERTIFICATE)
    if 'PUBLIC KEY' in label:
        raise DeployKeyError(REFUSE_PUBLIC_KEY, MSG_PUBLIC_KEY)
    if label == 'ENCRYPTED PRIVATE KEY':
        raise DeployKeyError(REFUSE_ENCRYPTED, MSG_ENCRYPTED)
    if label == 'DSA PRIVATE KEY':
        raise DeployKeyError(
            REFUSE_UNSUPPORTED_TYPE,
            MSG_UNSUPPORTED.format(detail='DSA keys are disabled in OpenSSH 7.0 and removed in 10.0'))
    if label not in WRAP_WIDTH:
        raise DeployKeyError(
            REFUSE_UNKNOWN_ARMOR, MSG_UNKNOWN_ARMOR.format(label=label, supported=_SUPPORTED_LABELS))


def _layout_repairs(label, prefix, body, suffix):
    """Name the whitespace damage between and around the armor lines.

    The canonical layout is: BEGIN line, body lines at the format's width,
    END line, exactly one newline.  Whitespace where a newline belongs is a
    wrapping problem; whitespace in addition to the newlines is indentation.
    """
    found = []
    if prefix:
        found.append(REPAIR_WHITESPACE)
    if suffix.replace('\n', ''):
        found.append(REPAIR_WHITESPACE)
    if suffix.count('\n') != 1:
        found.append(REPAIR_TRAILING_NEWLINE)
    segments = body.split('\n')
    if len(segments) == 1:
        # BEGIN, body and END share one line.
        found.append(REPAIR_LINE_WRAP)
        return found
    for edge in (segments[0], segments[-1]):
        if edge.strip():
            found.append(REPAIR_LINE_WRAP)
        elif edge:
            found.append(REPAIR_WHITESPACE)
    content = []
    for line in segments[1:-1]:
        stripped = line.strip()
        if not stripped:
            found.append(REPAIR_LINE_WRAP)
            continue
        if stripped != line:
            found.append(REPAIR_WHITESPACE)
        content.append(stripped)
    compact = ''.join(body.split())
    width = WRAP_WIDTH[label]
    if content != [compact[i:i + width] for i in range(0, len(compact), width)]:
        found.append(REPAIR_LINE_WRAP)
    return found


def _decode_body(label, body):
    compact = ''.join(body.split())
    if not compact:
        raise DeployKeyError(
            REFUSE_TRUNCATED, MSG_TRUNCATED_BODY.format(detail='there is nothing between the armor lines'))
    if not _BASE64_BODY_RE.fullmatch(compact):
        raise DeployKeyError(
            REFUSE_DAMAGED, MSG_TRUNCATED_BODY.format(detail='it contains characters that are not base64'))
    if len(compact) % 4:
        raise DeployKeyError(
            REFUSE_TRUNCATED, MSG_TRUNCATED_BODY.format(detail='its base64 length is incomplete'))
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise DeployKeyError(
            REFUSE_DAMAGED, MSG_TRUNCATED_BODY.format(detail='its base64 does not decode')) from None


def _read_string(blob, offset):
    if offset + 4 > len(blob):
        raise DeployKeyError(
            REFUSE_TRUNCATED, MSG_TRUNCATED_BODY.format(detail='the OpenSSH key structure ends early'))
    length = int.from_bytes(blob[offset:offset + 4], 'big')
    end = offset + 4 + length
    if end > len(blob):
        raise DeployKeyError(
            REFUSE_TRUNCATED, MSG_TRUNCATED_BODY.format(detail='the OpenSSH key structure ends early'))
    return blob[offset + 4:end], end


def _refuse_encrypted_openssh(der):
    if not der.startswith(_OPENSSH_MAGIC):
        raise DeployKeyError(
            REFUSE_DAMAGED, MSG_TRUNCATED_BODY.format(detail='it does not start like an OpenSSH key'))
    cipher, _offset = _read_string(der, len(_OPENSSH_MAGIC))
    if cipher != b'none':
        raise DeployKeyError(REFUSE_ENCRYPTED, MSG_ENCRYPTED)


def _wrap(der, width):
    encoded = base64.b64encode(der).decode('ascii')
    return [encoded[i:i + width] for i in range(0, len(encoded), width)]


def _armor(label, der):
    lines = ['-----BEGIN {0}-----'.format(label)]
    lines.extend(_wrap(der, WRAP_WIDTH[label]))
    lines.append('-----END {0}-----'.format(label))
    return '\n'.join(lines) + '\n'


def _load(label, canonical):
    data = canonical.encode('ascii')
    try:
        if label == OPENSSH_LABEL:
            return serialization.load_ssh_private_key(data, password=None)
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        # cryptography's signal for "encrypted, but no password given".
        raise DeployKeyError(REFUSE_ENCRYPTED, MSG_ENCRYPTED) from None
    except UnsupportedAlgorithm:
        raise DeployKeyError(
            REFUSE_UNSUPPORTED_TYPE,
            MSG_UNSUPPORTED.format(detail='the key algorithm is not supported')) from None
    except ValueError:
        # The library's own message is not passed on: it is not ours to
        # vouch for, and "damaged" plus what to do is what matters here.
        raise DeployKeyError(
            REFUSE_DAMAGED,
            MSG_TRUNCATED_BODY.format(detail='the decoded key does not parse')) from None


def _describe(key):
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return 'ssh-ed25519', 256
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < _RSA_MIN_BITS:
            raise DeployKeyError(
                REFUSE_UNSUPPORTED_TYPE,
                MSG_UNSUPPORTED.format(
                    detail='OpenSSH refuses RSA keys shorter than {0} bits'.format(_RSA_MIN_BITS)))
        return 'ssh-rsa', key.key_size
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curve = _CURVE_NAMES.get(key.curve.name)
        if curve is None:
            raise DeployKeyError(
                REFUSE_UNSUPPORTED_TYPE,
                MSG_UNSUPPORTED.format(
                    detail='OpenSSH supports ECDSA only on the NIST P-256, P-384 and P-521 curves'))
        return 'ecdsa-sha2-' + curve, key.curve.key_size
    raise DeployKeyError(
        REFUSE_UNSUPPORTED_TYPE,
        MSG_UNSUPPORTED.format(detail='OpenSSH supports Ed25519, ECDSA and RSA keys'))


def _ssh_string(data):
    return len(data).to_bytes(4, 'big') + data


def _ed25519_openssh_file(key):
    """Serialise an Ed25519 key in OpenSSH format, deterministically.

    cryptography's own OpenSSH writer uses a random check integer, so the
    same input would give a different file on every run and defeat
    idempotency.  The check integer only detects wrong decryption
    passphrases, so deriving it from the public key is safe.
    """
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    key_type = b'ssh-ed25519'
    public_blob = _ssh_string(key_type) + _ssh_string(public)
    check = hashlib.sha256(public_blob).digest()[:4]
    private = (check + check + _ssh_string(key_type) + _ssh_string(public)
               + _ssh_string(seed + public) + _ssh_string(b''))
    padding = bytes(range(1, 1 + (-len(private) % 8)))
    blob = (_OPENSSH_MAGIC + _ssh_string(b'none') + _ssh_string(b'none') + _ssh_string(b'')
            + (1).to_bytes(4, 'big') + _ssh_string(public_blob) + _ssh_string(private + padding))
    return _armor(OPENSSH_LABEL, blob)


def fingerprint_of(key):
    """SHA256 fingerprint exactly as ``ssh-keygen -lf`` prints it."""
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    blob = base64.b64decode(public.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode('ascii').rstrip('=')
    return 'SHA256:' + digest
