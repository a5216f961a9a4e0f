"""Check archive runs against the bucket: every object present, its sha256 and its line count as recorded."""

from __future__ import annotations

from dataclasses import dataclass, field

from provisioning.archive import codec, crypto
from provisioning.archive.layout import clean_prefix, manifest_key, manifests_prefix, object_key
from provisioning.archive.manifest import COMPLETE, Manifest, ObjectRecord
from provisioning.archive.store import Store, sha256_hex


@dataclass
class VerifyReport:
    runs: list[str] = field(default_factory=list)
    objects: int = 0
    lines: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> list[str]:
        head = (f"verified {len(self.runs)} run(s), {self.objects} object(s), {self.lines} line(s): "
                + ("ok" if self.ok else f"{len(self.problems)} problem(s)"))
        return [head, *(f"  PROBLEM: {p}" for p in self.problems)]


def load_manifest(store: Store, prefix: str, run_id: str) -> Manifest:
    """Raises LookupError naming the key when the run has no manifest, ValueError when it is unreadable."""
    key = manifest_key(clean_prefix(prefix), run_id)
    found = store.get(key)
    if found is None:
        raise LookupError(f"no manifest for run {run_id} at s3://{store.bucket}/{key}")
    try:
        return Manifest.from_json(found[0])
    except ValueError as exc:
        raise ValueError(f"s3://{store.bucket}/{key}: {exc}") from exc


def object_bytes(store: Store, manifest: Manifest, record: ObjectRecord, key: bytes | None) -> bytes:
    """The object's gzip bytes, checked against the manifest's sha256 and decrypted when the run was encrypted.

    Raises:
        LookupError: the object is missing.  ValueError: its sha256 differs.  EncryptionError: it does not decrypt.
    """
    full = object_key(manifest.prefix, record.key)
    found = store.get(full)
    if found is None:
        raise LookupError(f"{full}: missing")
    data = found[0]
    digest = sha256_hex(data)
    if digest != record.sha256:
        raise ValueError(f"{full}: sha256 {digest[:16]}… differs from the manifest's {record.sha256[:16]}… "
                         f"({len(data)} bytes, manifest says {record.size})")
    if manifest.encryption:
        if key is None:
            raise crypto.EncryptionError(f"{full}: encrypted; set ${manifest.encryption.get('key_env')} to read it")
        data = crypto.decrypt(data, key, record.key)
    return data


def run_key(manifest: Manifest, key_env: str | None) -> bytes | None:
    """The run's decryption key, from ``key_env`` or the variable the manifest names; None if not encrypted."""
    if not manifest.encryption:
        return None
    name = key_env or manifest.encryption.get("key_env", "")
    key = crypto.load_key(name)
    if crypto.key_id(key) != manifest.encryption.get("key_id"):
        raise crypto.EncryptionError(f"${name} holds key {crypto.key_id(key)}, but run {manifest.run_id} "
                                     f"was encrypted with key {manifest.encryption.get('key_id')}")
    return key


def verify(store: Store, prefix: str, run_id: str | None = None, key_env: str | None = None) -> VerifyReport:
    """Check one run, or every run under ``prefix``; each problem is named, none stops the check."""
    prefix = clean_prefix(prefix)
    report = VerifyReport()
    if run_id:
        run_ids = [run_id]
    else:
        start = manifests_prefix(prefix)
        run_ids = [k[len(start):-len(".json")] for k in store.keys(start) if k.endswith(".json")]
        if not run_ids:
            report.problems.append(f"no archive manifests under s3://{store.bucket}/{start}")
    for rid in run_ids:
        try:
            manifest = load_manifest(store, prefix, rid)
        except (LookupError, ValueError) as exc:
            report.problems.append(str(exc))
            continue
        report.runs.append(rid)
        _verify_run(store, manifest, key_env, report)
    return report


def _verify_run(store: Store, manifest: Manifest, key_env: str | None, report: VerifyReport) -> None:
    run = f"run {manifest.run_id}"
    if manifest.status != COMPLETE:
        report.problems.append(f"{run} is {manifest.status}: rerun the same archive command to finish it"
                               + (f" ({len(manifest.gaps)} gap(s))" if manifest.gaps else ""))
    key: bytes | None = None
    try:
        key = run_key(manifest, key_env)
    except crypto.EncryptionError as exc:
        report.problems.append(f"{run}: {exc}; line counts of its objects not checked")
    for record in manifest.objects.values():
        report.objects += 1
        full = object_key(manifest.prefix, record.key)
        try:
            data = object_bytes(store, manifest, record, key)
        except crypto.EncryptionError as exc:
            if key is not None:  # without a key the run-level problem already says so
                report.problems.append(f"{run}: {exc}")
            continue
        except (LookupError, ValueError) as exc:
            report.problems.append(f"{run}: {exc}")
            continue
        try:
            records = list(codec.decode(data))
        except ValueError as exc:
            report.problems.append(f"{run}: {full}: {exc}")
            continue
        report.lines += len(records)
        if len(records) != record.lines:
            report.problems.append(f"{run}: {full}: {len(records)} lines, the manifest says {record.lines}")
        outside = sum(1 for r in records if not record.start_ns <= r.ts < record.end_ns)
        foreign = sum(1 for r in records if r.labels != record.labels)
        if outside or foreign:
            report.problems.append(f"{run}: {full}: {outside} line(s) outside {record.day}'s range, "
                                   f"{foreign} with other labels than the stream's")

