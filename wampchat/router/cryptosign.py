"""
WAMP-Cryptosign (Ed25519), the router's side, as Crossbar.io does it without channel binding.

HELLO carries ``authextra.pubkey`` (the client's public key, 64 hex digits) and
optionally an ``authid``; a key on file (the user store or the config file)
names the user and role. The CHALLENGE is ``{challenge: 32 random bytes as hex,
channel_binding: null}``; AUTHENTICATE's signature is the hex of the 64-byte
Ed25519 signature of those 32 bytes, followed by the 32 bytes themselves (what
Autobahn|Python and AutobahnJS send), or the 64-byte signature alone.
"""
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from wampchat.router.auth_outcomes import Challenge, Refusal

_PUBKEY = re.compile(r"^[0-9a-f]{64}$")
SIGNATURE_BYTES, CHALLENGE_BYTES = 64, 32


@dataclass
class KeyOwner:
    """Who a Cryptosign key logs in as."""

    authid: str
    role: str
    pubkey: str


def normalize_pubkey(pubkey: object) -> str:
    """A public key as stored (lower-case hex); ValueError for anything that is not 32 bytes of hex."""
    if not isinstance(pubkey, str) or not _PUBKEY.match(pubkey.lower()):
        raise ValueError("a Cryptosign public key is 64 hex digits (32 bytes)")
    return pubkey.lower()


def not_on_file() -> Refusal:
    return Refusal("wamp.error.not_authorized", "this public key is not on file")


def challenge_for(owner: KeyOwner, authid) -> Challenge:
    """The CHALLENGE for a known key; refused when HELLO named another authid than the key's owner."""
    if authid and authid != owner.authid:
        raise not_on_file()
    raw = os.urandom(CHALLENGE_BYTES)
    return Challenge("cryptosign", {"challenge": raw.hex(), "channel_binding": None}, owner.authid, owner, raw)


def verify_signature(pubkey: str, challenge: bytes, signature: object) -> bool:
    """Is ``signature`` (hex, as above) the key's signature of ``challenge``?"""
    try:
        raw = bytes.fromhex(signature) if isinstance(signature, str) else b""
    except ValueError:
        return False
    if len(raw) == SIGNATURE_BYTES + CHALLENGE_BYTES:
        raw, signed = raw[:SIGNATURE_BYTES], raw[SIGNATURE_BYTES:]
        if signed != challenge:
            return False
    if len(raw) != SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(pubkey)).verify(raw, challenge)
    except InvalidSignature:
        return False
    return True
