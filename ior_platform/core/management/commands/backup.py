from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ior_platform.core.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump on PostgreSQL, the online backup API on SQLite) and every stored file, with a "
        "manifest of row counts, the audit chain head and each file's SHA-256. See docs/backup-restore.md."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            type=Path,
            default=Path(settings.VAR_DIR) / "backups",
            help="folder to write the backup folder into (default: var/backups)",
        )
        parser.add_argument("--database", default="default", help="the connection alias to back up")

    def handle(self, *args, **options):
        try:
            folder = backup_create(output=options["output"], using=options["database"])
        except BackupError as error:
            raise CommandError(f"backup refused: {error}") from None
        except OSError as error:
            raise CommandError(f"backup failed: {error.strerror or error} ({error.filename or ''})") from None
        self.stdout.write(str(folder))
