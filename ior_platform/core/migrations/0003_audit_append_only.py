"""Audit events are append-only, enforced by the database itself (21 CFR 11.10(e), EU GMP Annex 11 §9): no code
path of the application, the admin or a bulk ORM call can rewrite or remove an event, so the hash chain that
verify_audit walks only ever has to catch what happened outside the application.

The triggers have no bypass condition: no setting or flag a connection could turn on. Touching the table is a DBA
procedure, run as the table's owner and never by the application: inside ONE transaction, lift the triggers
(PostgreSQL: `ALTER TABLE core_auditevent DISABLE TRIGGER USER`; SQLite: keep their SQL from sqlite_master and
drop them), do the work, put them back, COMMIT. DDL is transactional on both databases, so no other connection
ever sees the table unguarded and a failure half-way rolls the guard back in. The test suite empties its
database after transactional tests the same way (tests/conftest.py); a production role that does not own the
table cannot do it at all.

On SQLite, a later migration that alters core_auditevent rebuilds the table and loses these triggers with the old
one: such a migration must install them again."""

from django.db import migrations

MESSAGE = "audit events are append-only"

POSTGRESQL_INSTALL = [
    f"""
    CREATE FUNCTION core_auditevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
    END;
    $$
    """,
    """
    CREATE TRIGGER core_auditevent_append_only BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_auditevent_append_only()
    """,
    # TRUNCATE fires no row triggers: without this one it would empty the table in a single statement.
    """
    CREATE TRIGGER core_auditevent_append_only_truncate BEFORE TRUNCATE ON core_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION core_auditevent_append_only()
    """,
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS core_auditevent_append_only_truncate ON core_auditevent",
    "DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent",
    "DROP FUNCTION IF EXISTS core_auditevent_append_only()",
]

# SQLite has no TRUNCATE: DELETE without WHERE is a DELETE, and the row trigger refuses it.
SQLITE_INSTALL = [
    f"""
    CREATE TRIGGER core_auditevent_append_only_update BEFORE UPDATE ON core_auditevent
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
    """,
    f"""
    CREATE TRIGGER core_auditevent_append_only_delete BEFORE DELETE ON core_auditevent
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS core_auditevent_append_only_update",
    "DROP TRIGGER IF EXISTS core_auditevent_append_only_delete",
]


def _run(schema_editor, statements_by_vendor):
    vendor = schema_editor.connection.vendor
    if vendor not in statements_by_vendor:
        # A regulated trail silently left unguarded is worse than a migration that refuses to run.
        raise NotImplementedError(f"no append-only guard for the audit trail on {vendor}")
    for statement in statements_by_vendor[vendor]:
        schema_editor.execute(statement)


def install(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRESQL_INSTALL, "sqlite": SQLITE_INSTALL})


def drop(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP})


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(install, drop, elidable=False),
    ]
