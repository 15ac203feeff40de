import json
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from compliance.choices import ProductCategory, TemperatureClass
from compliance.preflight import Proposal, ProposedItem, preflight
from ior_platform.core.codes import country_codes, country_name, currency_codes
from parties.models import Organization
from shipments.models import Trial


class Command(BaseCommand):
    help = "What a proposed shipment needs: documents per side with owners and due dates, permits, duties and VAT, "
    help += "the earliest feasible ship date and the blockers."

    def add_arguments(self, parser):
        parser.add_argument("--origin", required=True, help="ISO country code the goods leave from, e.g. US")
        parser.add_argument("--destination", required=True, help="ISO country code the goods go to, e.g. BR")
        parser.add_argument(
            "--category",
            action="append",
            required=True,
            choices=ProductCategory.values,
            help="Product category; repeat for several.",
        )
        parser.add_argument("--temperature", required=True, choices=TemperatureClass.values)
        parser.add_argument("--ship-date", required=True, help="Planned ship date, YYYY-MM-DD")
        parser.add_argument("--value", default="1000", help="Declared value (default 1000)")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--ior", help="Name of the importer of record organization")
        parser.add_argument("--trial", help="Protocol number, to check the permits the trial holds")
        parser.add_argument("--json", action="store_true", help="Print JSON instead of text")

    def handle(self, *args, **opts):
        origin, destination = opts["origin"].upper(), opts["destination"].upper()
        for name, code in (("--origin", origin), ("--destination", destination)):
            if code not in country_codes():
                raise CommandError(f"{name}: {code!r} is not an ISO 3166-1 alpha-2 country code")
        currency = opts["currency"].upper()
        if currency not in currency_codes():
            raise CommandError(f"--currency: {currency!r} is not an ISO 4217 currency code")
        try:
            ship_date = date.fromisoformat(opts["ship_date"])
        except ValueError:
            raise CommandError(f"--ship-date: {opts['ship_date']!r} is not a date (YYYY-MM-DD)") from None
        try:
            value = Decimal(opts["value"])
        except InvalidOperation:
            raise CommandError(f"--value: {opts['value']!r} is not a number") from None
        if value < 0:
            raise CommandError("--value: cannot be negative")
        ior = trial = None
        if opts["ior"]:
            ior = Organization.objects.filter(name=opts["ior"]).first()
            if ior is None:
                raise CommandError(f"--ior: no organization named {opts['ior']!r}")
        if opts["trial"]:
            trial = Trial.objects.filter(protocol_number=opts["trial"]).first()
            if trial is None:
                raise CommandError(f"--trial: no trial with protocol number {opts['trial']!r}")
        result = preflight(
            Proposal(
                origin=origin,
                destination=destination,
                items=[ProposedItem(category=c) for c in dict.fromkeys(opts["category"])],
                temperature_class=opts["temperature"],
                declared_value=value,
                currency=currency,
                planned_ship_date=ship_date,
                ior=ior,
                trial=trial,
            )
        )
        if opts["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
            return
        self._print(result, origin, destination, ship_date)

    def _print(self, result, origin, destination, ship_date):
        out = self.stdout.write
        route = f"{country_name(origin)} → {country_name(destination)}"
        out(f"Preflight {route} ({result.route_kind}), ship date {ship_date}")
        out("")
        out("Documents:")
        if not result.documents:
            out("  none required on this route")
        for doc in result.documents:
            lead = f"{doc.lead_time_days} days" if doc.lead_time_days is not None else "lead time unknown"
            owner = doc.owed_by or doc.provided_by
            out(f"  [{doc.side} {doc.country}] {doc.title} — owed by {owner}, due {doc.due_date} ({lead})")
            out(f"      source: {doc.source}")
        if result.permits:
            out("")
            out("Permits:")
            for need in result.permits:
                state = "covered" if need.covered else ("held: " + ", ".join(need.held) if need.held else "none held")
                out(f"  [{need.side} {need.country}] {need.title}: {state}")
        out("")
        out("Duties and taxes:")
        if not result.taxes:
            out("  none: the goods cross no customs border")
        for tax in result.taxes:
            figure = f"{tax.amount} {tax.currency} at {tax.rate}%" if tax.status == "estimated" else tax.status
            out(f"  {tax.tax} ({tax.country}): {figure}{' — ' + tax.note if tax.note else ''}")
        out("")
        out(f"Earliest feasible ship date: {result.earliest_ship_date} (critical path: {result.critical_path})")
        for title, lines in (("Blockers", result.blockers), ("Warnings", result.warnings)):
            out("")
            out(f"{title}:" if lines else f"{title}: none")
            for line in lines:
                out(f"  - {line}")
