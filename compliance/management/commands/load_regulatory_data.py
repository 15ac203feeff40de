from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compliance.loader import DATA_DIR, DataError, load_regulatory_data


class Command(BaseCommand):
    help = "Validate and load the country regulatory data (compliance/data/countries/*.yaml). All or nothing."

    def add_arguments(self, parser):
        parser.add_argument("--directory", type=Path, default=DATA_DIR, help="Folder of <CC>.yaml files.")

    def handle(self, *args, directory: Path, **options):
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a folder")
        try:
            report = load_regulatory_data(directory=directory)
        except DataError as exc:
            for problem in exc.problems:
                self.stderr.write(problem)
            raise CommandError(f"{len(exc.problems)} problem(s) in the regulatory data; nothing was loaded") from None
        self.stdout.write(
            f"Countries: {report.countries_created} added, {report.countries_updated} updated. "
            f"Requirements: {report.requirements_created} added, {report.requirements_revised} revised, "
            f"{report.requirements_retired} retired. Open shipments flagged for review: {report.shipments_flagged}."
        )
