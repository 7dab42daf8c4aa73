"""
A throw-away certificate authority for the TLS tests, made with ``cryptography``.

Nothing here touches a system trust store: each client is told to trust
this CA (``NODE_EXTRA_CA_CERTS`` for Node, ``?cafile=`` for the AMQP link,
``trustRoot`` for Twisted) or the one server key (Chromium's
``--ignore-certificate-errors-spki-list``), so a test proves that
verification happens by also showing what fails without that trust.
"""
import base64
import datetime
import hashlib
import ipaddress
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key():
    # RSA 2048: what every client here (OpenSSL, Node, Chromium, Erlang's ssl) accepts without thought
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wampchat tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


class ServerCert:
    """A server certificate and its key, written as PEM files."""

    def __init__(self, key_path, cert_path, certificate):
        self.key_path = key_path
        self.cert_path = cert_path
        self.certificate = certificate

    @property
    def spki_sha256(self):
        """base64(SHA-256(SubjectPublicKeyInfo)): what Chromium's --ignore-certificate-errors-spki-list takes."""
        spki = self.certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")

    def listen(self, port=0):
        """A ``--listen`` endpoint that serves this certificate on 127.0.0.1."""
        return f"ssl:{port}:privateKey={self.key_path}:certKey={self.cert_path}:interface=127.0.0.1"


class TestCA:
    """A CA certificate (``ca_path``) that signs server certificates for chosen names."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory):
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        self._now = now
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name("wampchat test CA")).issuer_name(_name("wampchat test CA"))
            .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256()))
        self.ca_path = self.directory / "ca.pem"
        self.ca_path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue(self, name, dns=("localhost",), ips=("127.0.0.1",)):
        """A server certificate for ``dns`` names and ``ips``, signed by this CA; files ``<name>.key``/``.pem``."""
        key = _key()
        alt_names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(dns[0] if dns else ips[0])).issuer_name(self.certificate.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(hours=1))
            .not_valid_after(self._now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                           critical=False)
            .sign(self._key, hashes.SHA256()))
        key_path, cert_path = self.directory / f"{name}.key", self.directory / f"{name}.pem"
        key_path.write_bytes(_pem_key(key))
        key_path.chmod(0o600)
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return ServerCert(key_path, cert_path, certificate)
