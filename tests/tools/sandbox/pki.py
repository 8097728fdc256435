"""The control plane's certificates: a throw-away CA, the API server's serving certificate, client
certificates for the admin and each component, the service-account signing key, and kubeconfigs."""

import base64
import datetime
import ipaddress
import json
import os

from .config import SERVICE_CIDR
from .processes import SandboxError, write_text


def _crypto():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa, ec
        from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
    except ImportError:
        raise SandboxError("python 'cryptography' is missing: run `make setup`")
    return x509, hashes, serialization, rsa, ec, NameOID, ExtendedKeyUsageOID


class PKI:
    """A throw-away CA and the certificates the control plane needs."""

    def __init__(self, directory):
        self.dir = directory

    def path(self, name):
        return os.path.join(self.dir, name)

    def _write_key(self, name, key):
        _x509, _hashes, serialization, *_rest = _crypto()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        write_text(self.path(name), pem.decode(), mode=0o600)

    def _write_cert(self, name, cert):
        _x509, _hashes, serialization, *_rest = _crypto()
        write_text(self.path(name), cert.public_bytes(serialization.Encoding.PEM).decode())

    def ensure(self):
        if os.path.exists(self.path("admin.crt")):
            return
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        x509, hashes, serialization, rsa, ec, NameOID, EKU = _crypto()
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        later = now + datetime.timedelta(days=365)

        def new_key():
            return ec.generate_private_key(ec.SECP256R1())

        ca_key = new_key()
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlops-sandbox-ca")])
        ca_cert = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(later)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        self._write_key("ca.key", ca_key)
        self._write_cert("ca.crt", ca_cert)

        def issue(name, common_name, orgs=(), server_names=None):
            key = new_key()
            attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
            attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in orgs]
            builder = (
                x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(ca_name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(later)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            )
            if server_names:
                sans = [x509.DNSName(n) for n in server_names["dns"]] + [x509.IPAddress(ipaddress.ip_address(i)) for i in server_names["ip"]]
                builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
                builder = builder.add_extension(x509.ExtendedKeyUsage([EKU.SERVER_AUTH]), critical=False)
            else:
                builder = builder.add_extension(x509.ExtendedKeyUsage([EKU.CLIENT_AUTH]), critical=False)
            self._write_key(name + ".key", key)
            self._write_cert(name + ".crt", builder.sign(ca_key, hashes.SHA256()))

        service_ip = str(next(ipaddress.ip_network(SERVICE_CIDR).hosts()))
        issue("apiserver", "kube-apiserver", server_names={
            "dns": ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local"],
            "ip": ["127.0.0.1", service_ip],
        })
        issue("admin", "kubernetes-admin", orgs=["system:masters"])
        issue("controller-manager", "system:kube-controller-manager")
        issue("scheduler", "system:kube-scheduler")
        issue("kwok", "kwok-controller", orgs=["system:masters"])
        # Service-account tokens are signed with their own RSA key, as kubeadm does.
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._write_key("sa.key", sa_key)
        write_text(self.path("sa.pub"), sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())

    def kubeconfig(self, server, identity, inline=False):
        def field(kind, filename):
            if inline:
                with open(self.path(filename), "rb") as handle:
                    return {kind + "-data": base64.b64encode(handle.read()).decode()}
            return {kind: self.path(filename)}

        cluster = {"server": server}
        cluster.update(field("certificate-authority", "ca.crt"))
        user = {}
        user.update(field("client-certificate", identity + ".crt"))
        user.update(field("client-key", identity + ".key"))
        return json.dumps({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "mlops-sandbox", "cluster": cluster}],
            "users": [{"name": identity, "user": user}],
            "contexts": [{"name": "mlops-sandbox", "context": {"cluster": "mlops-sandbox", "user": identity}}],
            "current-context": "mlops-sandbox",
        }, indent=2) + "\n"
