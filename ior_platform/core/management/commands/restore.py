from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ior_platform.core.backup import BackupError, parse_database_url, restore


class Command(BaseCommand):
    help = (
        "Restore a backup folder made by `manage.py backup` into an empty database and an empty media folder, then "
        "check row counts, the audit chains and every file's SHA-256 against its manifest. See docs/backup-restore.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path, help="the backup folder (holding manifest.json)")
        parser.add_argument(
            "--database-url",
            required=True,
            help="the empty target database, e.g. postgres://user@host:5432/restored (created beforehand) or "
            "sqlite:////abs/path/db.sqlite3 (must not exist yet); a password is read from the URL, never echoed",
        )
        parser.add_argument(
            "--media-root",
            type=Path,
            default=Path(settings.MEDIA_ROOT),
            help="the empty folder the stored files go to (default: MEDIA_ROOT)",
        )

    def handle(self, *args, **options):
        try:
            manifest = restore(
                folder=options["folder"],
                settings_dict=parse_database_url(options["database_url"]),
                media_root=options["media_root"],
            )
        except BackupError as error:
            raise CommandError(f"restore refused: {error}") from None
        except OSError as error:
            raise CommandError(f"restore failed: {error.strerror or error} ({error.filename or ''})") from None
        rows = sum(manifest["tables"].values())
        self.stdout.write(
            f"OK: restored the backup of {manifest['taken_at']}: {len(manifest['tables'])} tables, {rows} rows, "
            f"{manifest['tables'].get('core_auditevent', 0)} audit events verified, "
            f"{len(manifest['files'])} files matching their SHA-256"
        )
