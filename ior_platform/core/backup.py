"""Backups of the regulated record: the database and every stored file, taken at one moment, with a manifest that
lets a restore prove it got back exactly what was saved (row counts, the audit chain head, each file's SHA-256).

The file rows and the counts are read in the same snapshot as the dump (PostgreSQL: an exported snapshot shared with
pg_dump; SQLite: read back from the copy the online backup API made), so the manifest describes the dump and not the
database a moment later. Stored files are never overwritten (a new upload is a new name), so copying them after the
snapshot still copies the bytes the dump refers to."""

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import dj_database_url
import django
from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import FileField
from django.db.utils import load_backend

MANIFEST = "manifest.json"
MEDIA_DIR = "media"
PG_DUMP = "database.dump"
SQLITE_COPY = "db.sqlite3"
FORMAT_VERSION = 1
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that must not go on; the message is the one line the operator sees."""


try:
    import psycopg

    DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error)
except ImportError:  # pragma: no cover - an SQLite-only install
    DATABASE_ERRORS = (sqlite3.Error,)


@dataclass(frozen=True)
class FileRow:
    model: str
    pk: object
    field: str
    name: str
    sha256: str | None
    size: int | None


def _vendor(settings_dict: dict) -> str:
    engine = settings_dict["ENGINE"]
    if "postgresql" in engine:
        return "postgresql"
    if "sqlite3" in engine:
        return "sqlite"
    raise BackupError(f"backups support PostgreSQL and SQLite, not {engine}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _pg_connect(settings_dict: dict, **kwargs):
    import psycopg

    return psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
        **kwargs,
    )


def _pg_env(settings_dict: dict) -> dict:
    # The password reaches pg_dump and pg_restore through the environment, never their command line (ps shows it).
    env = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    return env


def _pg_args(settings_dict: dict) -> list[str]:
    args = []
    for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings_dict.get(key):
            args.append(f"{option}={settings_dict[key]}")
    return args


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed or not on PATH (install the PostgreSQL client tools)")
    return path


def _run(command: list[str], env: dict) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        problem = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise BackupError(f"{Path(command[0]).name} failed: {problem}")


def file_fields() -> list[tuple[type, FileField]]:
    """Every FileField of every installed model: each one is a place documents are stored."""
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, FileField)
    ]


def table_names(cursor, vendor: str) -> list[str]:
    if vendor == "postgresql":
        cursor.execute("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    else:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")
    return [row[0] for row in cursor.fetchall()]


def row_counts(cursor, vendor: str) -> dict[str, int]:
    counts = {}
    for table in table_names(cursor, vendor):
        cursor.execute(f"SELECT count(*) FROM {_quote(table)}")  # noqa: S608 - names come from the catalogue
        counts[table] = cursor.fetchone()[0]
    return counts


def audit_head(cursor) -> dict | None:
    cursor.execute("SELECT id, hash, chain, sequence FROM core_auditevent ORDER BY id DESC LIMIT 1")
    row = cursor.fetchone()
    return None if row is None else {"id": row[0], "hash": row[1], "chain": row[2], "sequence": row[3]}


def applied_migrations(cursor) -> dict[str, list[str]]:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, id")
    applied: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        applied.setdefault(app, []).append(name)
    return applied


def stored_files(cursor) -> list[FileRow]:
    """Every non-empty file reference, with the hash and size the model stores beside it, when it stores them."""
    rows = []
    for model, field in file_fields():
        names = {f.name: f.column for f in model._meta.concrete_fields}
        sha_column, size_column = names.get("sha256"), names.get("size")
        columns = [model._meta.pk.column, field.column, sha_column or "NULL", size_column or "NULL"]
        select = ", ".join(_quote(c) if c != "NULL" else c for c in columns)
        cursor.execute(
            f"SELECT {select} FROM {_quote(model._meta.db_table)}"  # noqa: S608 - names come from the models
            f" WHERE {_quote(field.column)} IS NOT NULL AND {_quote(field.column)} <> '' ORDER BY 1"
        )
        for pk, name, sha256, size in cursor.fetchall():
            rows.append(FileRow(model._meta.label, pk, field.name, name, sha256 or None, size))
    return rows


def _inside(root: Path, name: str) -> Path:
    target = (root / name).resolve()
    if not target.is_relative_to(root.resolve()):
        raise BackupError(f"refusing a stored file name outside the media folder: {name}")
    return target


def _copy_hashing(source, target: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("xb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_files(rows: list[FileRow], media: Path) -> list[dict]:
    storages = {(model._meta.label, field.name): field.storage for model, field in file_fields()}
    listed, seen = [], set()
    for row in rows:
        if row.name in seen:
            continue
        seen.add(row.name)
        storage = storages[(row.model, row.field)]
        try:
            source = storage.open(row.name, "rb")
        except FileNotFoundError:
            raise BackupError(f"stored file missing: {row.name} ({row.model} {row.pk})") from None
        with source:
            sha256, size = _copy_hashing(source, _inside(media, row.name))
        if row.sha256 is not None and row.sha256 != sha256:
            raise BackupError(f"stored file does not match its recorded SHA-256: {row.name} ({row.model} {row.pk})")
        if row.size is not None and row.size != size:
            raise BackupError(f"stored file does not match its recorded size: {row.name} ({row.model} {row.pk})")
        listed.append({"name": row.name, "size": size, "sha256": sha256, "model": row.model, "pk": row.pk})
    return listed


def _app_version() -> str:
    try:
        return metadata.version("ior-platform")
    except metadata.PackageNotFoundError:
        return "unknown"


def _snapshot_postgresql(settings_dict: dict, folder: Path) -> tuple[dict, list[FileRow]]:
    pg_dump = _tool("pg_dump")
    with _pg_connect(settings_dict, autocommit=True) as conn:
        # The snapshot lives as long as this transaction: pg_dump and the reads below all see the same moment.
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        _run(
            [
                pg_dump,
                "--format=custom",
                f"--snapshot={snapshot}",
                f"--file={folder / PG_DUMP}",
                *_pg_args(settings_dict),
                f"--dbname={settings_dict['NAME']}",
            ],
            _pg_env(settings_dict),
        )
        with conn.cursor() as cursor:
            facts = _facts(cursor, "postgresql")
            rows = stored_files(cursor)
        conn.execute("COMMIT")
    return facts, rows


def _snapshot_sqlite(settings_dict: dict, folder: Path) -> tuple[dict, list[FileRow]]:
    source = sqlite3.connect(settings_dict["NAME"])
    copy = sqlite3.connect(folder / SQLITE_COPY)
    try:
        # One step (pages=-1): the copy is of one committed state even while others write.
        source.backup(copy)
        cursor = copy.cursor()
        facts = _facts(cursor, "sqlite")
        rows = stored_files(cursor)
    finally:
        copy.close()
        source.close()
    return facts, rows


def _facts(cursor, vendor: str) -> dict:
    missing = {"core_auditevent", "django_migrations"} - set(table_names(cursor, vendor))
    if missing:
        raise BackupError(f"the database has no {', '.join(sorted(missing))} table: is it migrated?")
    return {
        "tables": row_counts(cursor, vendor),
        "audit_head": audit_head(cursor),
        "migrations": applied_migrations(cursor),
    }


def backup_create(*, output: Path, using: str = DEFAULT_DB_ALIAS) -> Path:
    """Write a complete backup folder under `output` and return its path. It appears under its final name only
    once every byte is written and checked; on any failure nothing is left but the error."""
    settings_dict = connections[using].settings_dict
    vendor = _vendor(settings_dict)
    taken_at = datetime.now(UTC)
    output.mkdir(parents=True, exist_ok=True)
    final = output / f"ior-backup-{taken_at:%Y%m%dT%H%M%SZ}"
    if final.exists():
        raise BackupError(f"a backup named {final} already exists")
    partial = output / f".{final.name}.partial-{uuid.uuid4().hex[:8]}"
    partial.mkdir()
    try:
        try:
            if vendor == "postgresql":
                facts, rows = _snapshot_postgresql(settings_dict, partial)
                database_file = PG_DUMP
            else:
                facts, rows = _snapshot_sqlite(settings_dict, partial)
                database_file = SQLITE_COPY
        except DATABASE_ERRORS as error:
            raise BackupError(f"reading the database failed: {str(error).strip().splitlines()[0]}") from None
        files = _copy_files(rows, partial / MEDIA_DIR)
        manifest = {
            "format": FORMAT_VERSION,
            "taken_at": taken_at.isoformat().replace("+00:00", "Z"),
            "app": {"name": "ior-platform", "version": _app_version(), "django": django.get_version()},
            "database": {
                "vendor": vendor,
                "file": database_file,
                "size": (partial / database_file).stat().st_size,
                "sha256": sha256_of(partial / database_file),
            },
            **facts,
            "files": files,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def load_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{folder} is not a backup: it has no {MANIFEST}") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"unknown backup format {manifest.get('format')!r} in {folder}")
    return manifest


def parse_database_url(url: str) -> dict:
    settings_dict = dj_database_url.parse(url)
    _vendor(settings_dict)
    return settings_dict


@contextlib.contextmanager
def dbapi_cursor(settings_dict: dict) -> Iterator:
    """A plain DB-API cursor on a database named by settings, outside Django's connections."""
    if _vendor(settings_dict) == "postgresql":
        with _pg_connect(settings_dict, autocommit=True) as conn, conn.cursor() as cursor:
            yield cursor
    else:
        conn = sqlite3.connect(settings_dict["NAME"])
        try:
            yield conn.cursor()
        finally:
            conn.close()


@contextlib.contextmanager
def django_alias(settings_dict: dict) -> Iterator[str]:
    """A temporary Django connection alias on another database, so the ORM (and the audit verifier) can read it."""
    alias = f"backup_{uuid.uuid4().hex[:8]}"
    configured = connections.configure_settings({DEFAULT_DB_ALIAS: dict(settings_dict), alias: dict(settings_dict)})
    # A connection object only, not a new entry in settings.DATABASES: nothing else (routers, test isolation,
    # migrate) ever sees the alias.
    wrapper = load_backend(configured[alias]["ENGINE"]).DatabaseWrapper(configured[alias], alias)
    connections[alias] = wrapper
    try:
        yield alias
    finally:
        wrapper.close()
        del connections[alias]


def _refuse_non_empty_database(settings_dict: dict) -> None:
    vendor = _vendor(settings_dict)
    if vendor == "sqlite":
        path = Path(settings_dict["NAME"])
        if path.exists() and path.stat().st_size > 0:
            raise BackupError(f"refusing to restore over a non-empty database file: {path}")
        return
    try:
        with dbapi_cursor(settings_dict) as cursor:
            tables = table_names(cursor, vendor)
    except Exception as error:
        raise BackupError(f"cannot connect to the target database {settings_dict['NAME']}: {error}") from None
    if tables:
        raise BackupError(f"refusing to restore into database {settings_dict['NAME']}: it has {len(tables)} tables")


def _refuse_non_empty_folder(media_root: Path) -> None:
    if media_root.exists() and any(media_root.iterdir()):
        raise BackupError(f"refusing to restore into a non-empty media folder: {media_root}")


def restore(*, folder: Path, settings_dict: dict, media_root: Path) -> dict:
    """Restore a backup folder into an empty database and an empty media folder, then check it; returns the
    manifest. Raises BackupError on the first problem."""
    manifest = load_manifest(folder)
    vendor = _vendor(settings_dict)
    database = manifest["database"]
    if database["vendor"] != vendor:
        raise BackupError(f"this backup is of a {database['vendor']} database; the target is {vendor}")
    if sha256_of(folder / database["file"]) != database["sha256"]:
        raise BackupError(f"the database file does not match its SHA-256 in the manifest: {database['file']}")
    _refuse_non_empty_database(settings_dict)
    _refuse_non_empty_folder(media_root)
    for entry in manifest["files"]:
        with _inside(folder / MEDIA_DIR, entry["name"]).open("rb") as source:
            sha256, _ = _copy_hashing(source, _inside(media_root, entry["name"]))
        if sha256 != entry["sha256"]:
            raise BackupError(f"file in the backup does not match its SHA-256 in the manifest: {entry['name']}")
    if vendor == "postgresql":
        _run(
            [
                _tool("pg_restore"),
                "--exit-on-error",
                "--single-transaction",
                "--no-owner",
                "--no-privileges",
                *_pg_args(settings_dict),
                f"--dbname={settings_dict['NAME']}",
                str(folder / database["file"]),
            ],
            _pg_env(settings_dict),
        )
    else:
        source = sqlite3.connect(folder / database["file"])
        target = sqlite3.connect(settings_dict["NAME"])
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    try:
        problems = restore_problems(manifest, settings_dict=settings_dict, media_root=media_root)
    except DATABASE_ERRORS as error:
        raise BackupError(f"checking the restored database failed: {str(error).strip().splitlines()[0]}") from None
    if problems:
        raise BackupError(f"restored, but it does not match the backup: {problems[0]} ({len(problems)} problem(s))")
    return manifest


def restore_problems(manifest: dict, *, settings_dict: dict, media_root: Path) -> list[str]:
    """Everything in a restored database and media folder that differs from the manifest: row counts, the audit
    chain head, the audit chains themselves, each file's SHA-256."""
    from ior_platform.core.audit import verify_chains
    from ior_platform.core.models import AuditEvent

    vendor = _vendor(settings_dict)
    problems = []
    with dbapi_cursor(settings_dict) as cursor:
        counts = row_counts(cursor, vendor)
        head = audit_head(cursor)
    for table, expected in manifest["tables"].items():
        if counts.get(table) != expected:
            problems.append(f"table {table}: {counts.get(table)} rows, the backup had {expected}")
    if head != manifest["audit_head"]:
        problems.append(f"audit chain head is {head}, the backup had {manifest['audit_head']}")
    with django_alias(settings_dict) as alias:
        checked, broken = verify_chains(AuditEvent.objects.using(alias))
    if checked != manifest["tables"].get("core_auditevent"):
        problems.append(f"{checked} audit events verified, the backup had {manifest['tables'].get('core_auditevent')}")
    problems += [f"audit chain {link.chain} broken at {link.sequence}: {link.problem}" for link in broken]
    for entry in manifest["files"]:
        path = _inside(media_root, entry["name"])
        if not path.is_file():
            problems.append(f"file missing: {entry['name']}")
        elif sha256_of(path) != entry["sha256"]:
            problems.append(f"file does not match its SHA-256: {entry['name']}")
    return problems
