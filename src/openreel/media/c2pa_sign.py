"""C2PA content credentials on OpenReel's MP4s (and thumbnails), through c2pa-python.

    creds = ensure_credentials(data_dir / "c2pa")          # a local CA + leaf, made once
    sign_mp4(raw, final, claims={"video_id": ..., ...}, creds=creds, ingredients=[source_mp4])
    report = read_mp4(final, trust_anchors_pem=creds.ca_pem)
    report.valid, report.trusted, report.describe()

The manifest says: this was created (`c2pa.created`) by a trained algorithm
(IPTC's trainedAlgorithmicMedia), and an `org.openreel.generation` assertion
carries the claims (OpenReel version, model, weights hash, data-manifest hash,
generation-parameters hash, video id, instance id). Remixes, extensions and
blends list their source videos as ingredients (parentOf for one source,
componentOf for several).

Why a local CA: c2pa refuses a self-signed leaf, so an instance makes a small
CA of its own and signs a leaf with it. Anyone who is given the instance's CA
certificate can check that a file is Trusted; without it a file is still
Valid (untampered, signed by the certificate it carries) but not Trusted.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .. import __version__

ASSERTION = "org.openreel.generation"
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
FORMATS = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
CLAIM_WORDS = {  # claim key -> how describe() says it (the service's names, then short aliases)
    "openreel_version": "made with OpenReel {}",
    "model": "by the model {}",
    "model_family": "of the family {}",
    "model_version": "version {}",
    "model_license": "licensed {}",
    "model_options": "run with the options {}",
    "model_weights_sha256": "whose weights have SHA-256 {}",
    "weights_sha256": "whose weights have SHA-256 {}",
    "training_data_manifest_sha256": "trained on the data manifest with SHA-256 {}",
    "data_manifest_sha256": "trained on the data manifest with SHA-256 {}",
    "generation_parameters_sha256": "its generation parameters hash to SHA-256 {}",
    "params_sha256": "its generation parameters hash to SHA-256 {}",
    "video_id": "its video id is {}",
    "instance_id": "on the OpenReel instance {}",
    "digital_source_type": "its digital source type is {}",
}
CA_YEARS, LEAF_YEARS, RENEW_DAYS = 20, 2, 30  # without a timestamp authority, validity is checked now


@dataclass(frozen=True)
class Credentials:
    chain_pem: str  # the leaf first, then its CA(s): what c2pa embeds in the manifest
    key_pem: str  # the leaf's private key
    ca_pem: str  # the trust anchor a verifier needs to call a file Trusted
    alg: str  # "es256" or "ps256"


@dataclass
class C2paReport:
    has_manifest: bool
    valid: bool  # the manifest's signature and hashes match the file
    trusted: bool  # ... and the signer chains to one of the given trust anchors
    state: str  # c2pa's validation_state ("Trusted", "Valid", "Invalid") or "NoManifest"
    claims: dict = field(default_factory=dict)
    ingredients: list = field(default_factory=list)  # [{"title", "relationship", "instance_id"}]
    actions: list = field(default_factory=list)  # [{"action", "digitalSourceType"}]
    signer: str = ""  # the signing certificate's issuer name, as c2pa reports it
    errors: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """The credentials in plain words, one sentence a line."""
        if not self.has_manifest:
            return ["This file carries no C2PA content credentials."]
        lines = [("The credentials are valid and trusted" if self.trusted else
                  "The credentials are valid but the signer is not trusted" if self.valid else
                  "The credentials are INVALID: the file was changed after signing or the signature is bad")
                 + (f" (signed by {self.signer})." if self.signer else ".")]
        for a in self.actions:
            if a.get("action") == "c2pa.created":
                ai = a.get("digitalSourceType") == TRAINED
                lines.append("It was created by a trained AI model." if ai else "It was created.")
        for key, words in CLAIM_WORDS.items():
            if self.claims.get(key) not in (None, ""):
                sentence = words.format(self.claims[key])
                lines.append(sentence[0].upper() + sentence[1:] + ".")
        for key in sorted(set(self.claims) - set(CLAIM_WORDS)):
            lines.append(f"{key}: {self.claims[key]}.")
        for ing in self.ingredients:
            lines.append(f"It was made from {ing.get('title') or 'an unnamed source'} ({ing.get('relationship')}).")
        lines += [f"Problem: {e}" for e in self.errors]
        return lines


# --------------------------------------------------------------------------
# Credentials: a local CA and a leaf, or an organisation's
# --------------------------------------------------------------------------

def _name(org: str, cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _make_ca(org: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)  # tolerate small clock skew
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(org, f"{org} C2PA root")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _make_leaf(ca: x509.Certificate, ca_key) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """An ES256 signing certificate under ca, with the key usages c2pa checks for."""
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    org = ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(org, f"{org} content signer")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(min(now + dt.timedelta(days=365 * LEAF_YEARS), ca.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            # c2pa accepts a signer only with one of a short list of EKUs; these two are on it.
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION,
                                                  x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")]),  # documentSigning
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def make_credentials(org: str = "OpenReel instance") -> Credentials:
    """A fresh P-256 CA and an ES256 leaf it signs (in memory; ensure_credentials keeps them)."""
    ca, ca_key = _make_ca(org)
    leaf, key = _make_leaf(ca, ca_key)
    return Credentials(_pem(leaf) + _pem(ca), _key_pem(key), _pem(ca), "es256")


def _write_private(path: Path, text: str, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _alg_for(key_pem: str) -> str:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}[key.curve.name]
    return "ps256"  # RSA: c2pa signs RSA with PSS only


def load_credentials(chain_pem: Path, key_pem: Path, ca_pem: Path | None = None) -> Credentials:
    """An organisation's certificate chain (leaf first) and private key, from PEM files.

    The trust anchor is ca_pem if given, else the last certificate of the chain.
    """
    chain, key = Path(chain_pem).read_text(), Path(key_pem).read_text()
    certs = x509.load_pem_x509_certificates(chain.encode())
    if len(certs) < 2:
        raise ValueError(f"{chain_pem}: c2pa needs a chain (the signing certificate, then its CA); "
                         f"found {len(certs)} certificate(s)")
    anchor = Path(ca_pem).read_text() if ca_pem else _pem(certs[-1])
    return Credentials(chain, key, anchor, _alg_for(key))


def ensure_credentials(folder: Path, org: str = "OpenReel instance", chain_pem: Path | None = None,
                       key_pem: Path | None = None, ca_pem: Path | None = None) -> Credentials:
    """The instance's signing credentials.

    With chain_pem and key_pem: an organisation's chain (leaf first) and key, used as given.
    Otherwise a local CA and leaf under `folder`, made on the first call and loaded after
    (private keys 0600). A leaf within RENEW_DAYS of expiry is replaced by a new one from
    the same CA, so verifiers keep the same trust anchor.
    """
    if chain_pem or key_pem:
        if not (chain_pem and key_pem):
            raise ValueError("an organisation's credentials need both chain_pem and key_pem")
        return load_credentials(chain_pem, key_pem, ca_pem)
    folder = Path(folder)
    files = {"ca": folder / "ca.pem", "ca_key": folder / "ca-key.pem",
             "chain": folder / "signer-chain.pem", "key": folder / "signer-key.pem"}
    if files["ca"].exists() and files["ca_key"].exists():
        ca = x509.load_pem_x509_certificate(files["ca"].read_bytes())
        ca_key = serialization.load_pem_private_key(files["ca_key"].read_bytes(), password=None)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        ca, ca_key = _make_ca(org)
        _write_private(files["ca_key"], _key_pem(ca_key), 0o600)
        _write_private(files["ca"], _pem(ca), 0o644)  # written after its key: its presence means "complete"
        files["chain"].unlink(missing_ok=True)  # a leaf from an older CA is of no use now
    if files["chain"].exists() and files["key"].exists():
        leaf = x509.load_pem_x509_certificates(files["chain"].read_bytes())[0]
        fresh = leaf.not_valid_after_utc - dt.datetime.now(dt.timezone.utc) > dt.timedelta(days=RENEW_DAYS)
        if fresh and leaf.issuer == ca.subject:
            return load_credentials(files["chain"], files["key"], files["ca"])
    leaf, key = _make_leaf(ca, ca_key)
    _write_private(files["key"], _key_pem(key), 0o600)
    _write_private(files["chain"], _pem(leaf) + _pem(ca), 0o644)
    return load_credentials(files["chain"], files["key"], files["ca"])


# --------------------------------------------------------------------------
# Signing
# --------------------------------------------------------------------------

def _format(path: Path) -> str:
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: C2PA credentials are handled for {', '.join(sorted(FORMATS))} files only")
    return fmt


def _check_readable(path: Path, fmt: str) -> None:
    """Refuse what is not a whole file of the format, with a message that says why."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    data = path.read_bytes()
    if fmt == "image/jpeg" and not (data[:3] == b"\xff\xd8\xff" and data.rstrip(b"\0")[-2:] == b"\xff\xd9"):
        raise ValueError(f"{path}: not a whole JPEG file")
    if fmt == "image/webp" and not (data[:4] == b"RIFF" and data[8:12] == b"WEBP"
                                    and int.from_bytes(data[4:8], "little") + 8 <= len(data)):
        raise ValueError(f"{path}: not a whole WebP file")
    if fmt == "video/mp4":
        if len(data) < 16 or data[4:8] != b"ftyp":
            raise ValueError(f"{path}: not an MP4 file (no ftyp box at the start)")
        pos, boxes = 0, set()
        while pos + 8 <= len(data):  # walk the top-level boxes: a truncated file ends mid-box
            size = int.from_bytes(data[pos:pos + 4], "big")
            if size == 1 and pos + 16 <= len(data):
                size = int.from_bytes(data[pos + 8:pos + 16], "big")
            elif size == 0:
                size = len(data) - pos
            if size < 8 or pos + size > len(data):
                raise ValueError(f"{path}: truncated or corrupt MP4 (box at byte {pos} runs past the end)")
            boxes.add(data[pos + 4:pos + 8])
            pos += size
        if pos != len(data) or not {b"moov", b"mdat"} <= boxes:
            raise ValueError(f"{path}: truncated or incomplete MP4 (needs moov and mdat boxes)")


def _signer(creds: Credentials) -> c2pa.Signer:
    return c2pa.Signer.from_info(c2pa.C2paSignerInfo(creds.alg, creds.chain_pem.encode(),
                                                      creds.key_pem.encode(), None))


@functools.cache
def _signing_context() -> c2pa.Context:
    # No claim thumbnail: c2pa would otherwise embed a re-encoded copy of every image it signs,
    # which made a 64x64 WebP thumbnail 1.3 MB and cost 30-40 ms per still; the asset is its own picture.
    return c2pa.Context(c2pa.Settings.from_dict({"builder": {"thumbnail": {"enabled": False}}}))


def sign_file(src: Path, dst: Path, claims: dict, creds: Credentials, ingredients=(),
              title: str | None = None) -> None:
    """Sign src (MP4, JPEG or WebP) into dst atomically, with the OpenReel manifest."""
    src, dst = Path(src), Path(dst)
    fmt = _format(src)
    _check_readable(src, fmt)
    ingredients = [Path(p) for p in ingredients]
    json.dumps(claims)  # fail here, not deep in c2pa, if a claim is not plain data
    manifest = {
        "claim_generator_info": [{"name": "OpenReel", "version": str(claims.get("openreel_version", __version__))}],
        "title": title or dst.name,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED}]}},
            {"label": ASSERTION, "data": claims},
        ],
    }
    relationship = "parentOf" if len(ingredients) == 1 else "componentOf"
    fd, tmp = tempfile.mkstemp(suffix=dst.suffix, prefix=".tmp-", dir=dst.parent)
    os.close(fd)
    try:
        with c2pa.Builder(manifest, _signing_context()) as builder:
            for ing in ingredients:
                ing_fmt = _format(ing)
                _check_readable(ing, ing_fmt)
                with open(ing, "rb") as f:
                    builder.add_ingredient({"title": ing.name, "relationship": relationship}, ing_fmt, f)
            with open(src, "rb") as source, open(tmp, "w+b") as dest:
                builder.sign(_signer(creds), fmt, source, dest)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, dst)
    except c2pa.C2paError.Signature as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ValueError(f"c2pa refused to sign with these credentials ({exc}): the signing certificate must be "
                         "issued by a CA (a self-signed one is refused), allow emailProtection or documentSigning, "
                         "and be within its validity dates") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sign_mp4(src: Path, dst: Path, claims: dict, creds: Credentials, ingredients=()) -> None:
    """Sign an MP4 into dst atomically: c2pa.created by a trained model, the OpenReel claims,
    and each source video (remix, extend, blend) as an ingredient."""
    if _format(Path(src)) != "video/mp4":
        raise ValueError(f"{src}: sign_mp4 signs .mp4 files")
    sign_file(src, dst, claims, creds, ingredients)


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------

def _context(trust_anchors_pem: str | None) -> c2pa.Context:
    settings = {"verify": {"verify_trust": bool(trust_anchors_pem)}}
    if trust_anchors_pem:
        settings["trust"] = {"trust_anchors": trust_anchors_pem}
    return c2pa.Context(c2pa.Settings.from_dict(settings))


def read_file(path: Path, trust_anchors_pem: str | None = None) -> C2paReport:
    """Read and validate a signed file's credentials. Raises ValueError for a missing,
    truncated or unsupported file; a file without a manifest gives has_manifest=False."""
    path = Path(path)
    fmt = _format(path)
    _check_readable(path, fmt)
    try:
        with open(path, "rb") as f:
            reader = c2pa.Reader.try_create(fmt, f, None, _context(trust_anchors_pem))
            if reader is None:
                return C2paReport(False, False, False, "NoManifest", errors=["no C2PA manifest in the file"])
            with reader:
                store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        raise ValueError(f"{path}: c2pa could not read the file ({exc})") from exc
    return _report(store)


def read_mp4(path: Path, trust_anchors_pem: str | None = None) -> C2paReport:
    """read_file for MP4s only."""
    if _format(Path(path)) != "video/mp4":
        raise ValueError(f"{path}: read_mp4 reads .mp4 files")
    return read_file(path, trust_anchors_pem)


def _report(store: dict) -> C2paReport:
    state = store.get("validation_state", "Invalid")
    manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
    claims, actions = {}, []
    for a in manifest.get("assertions", []):
        if a.get("label") == ASSERTION:
            claims = dict(a.get("data", {}))
        elif a.get("label", "").startswith("c2pa.actions"):
            actions += [{"action": x.get("action"), "digitalSourceType": x.get("digitalSourceType")}
                        for x in a.get("data", {}).get("actions", [])]
    ingredients = [{"title": i.get("title"), "relationship": i.get("relationship"),
                    "instance_id": i.get("instance_id")} for i in manifest.get("ingredients", [])]
    results = store.get("validation_results", {}).get("activeManifest", {})
    errors = [f"{f.get('code')}: {f.get('explanation', '')}".strip(": ") for f in results.get("failure", [])]
    errors += [f"{s.get('code')}: {s.get('explanation', '')}" for s in store.get("validation_status", [])
               if s.get("code") and f"{s.get('code')}: {s.get('explanation', '')}" not in errors
               and state == "Invalid"]
    return C2paReport(True, state in ("Valid", "Trusted"), state == "Trusted", state, claims, ingredients, actions,
                      manifest.get("signature_info", {}).get("issuer", ""), errors)
