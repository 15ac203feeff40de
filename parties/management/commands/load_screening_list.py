from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from parties.screening import ScreeningListError, screening_list_load


class Command(BaseCommand):
    help = "Load a restricted-party list in the US Consolidated Screening List CSV format, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="A consolidated_screening_list CSV file.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="The file is the whole list: delist entries it no longer contains.",
        )

    def handle(self, *args, file: Path, replace: bool, **options):
        try:
            result = screening_list_load(path=file, replace=replace)
        except ScreeningListError as exc:
            raise CommandError(str(exc)) from exc
        delisted = f", {result.delisted} delisted" if replace else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {result.total} entries from {file.name} "
                f"({result.created} new, {result.updated} changed{delisted}); list version {result.version}."
            )
        )
