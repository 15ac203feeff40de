"""The README's Python example, run as written against a live server: a CRO books, submits, uploads what its
sponsor owes and follows the shipment to delivery."""

import re
from pathlib import Path

import pytest

from parties.api_keys import api_key_issue
from shipments.models import Shipment
from tests.conftest import force_status, pdf_bytes
from tests.factories import DocumentRequirementFactory

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    section = text[text.index("The same in Python") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.django_db(transaction=True)
def test_the_readme_example_books_uploads_and_follows_to_delivery(live_server, world, requirements, tmp_path):
    DocumentRequirementFactory(
        country__country="BR", direction="import", document_type="commercial_invoice", provided_by="sponsor"
    )
    manager = world.carl.__class__.objects.create_user("cro_manager", organization=world.cro)
    manager.memberships.create(role="manager")
    _, key = api_key_issue(actor=manager, organization=world.cro, owner=world.carl, name="RTSM", scope="write")
    invoice = tmp_path / "invoice.pdf"
    invoice.write_bytes(pdf_bytes(b"invoice"))

    example: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), example)  # noqa: S102
    example["API"] = f"{live_server.url}/api/v1"
    session = example["session_for"](key)
    shipment = example["book"](
        session,
        {
            "trial": world.trial.pk,
            "ior": world.ior.pk,
            "eor": world.eor.pk,
            "consignee": world.site.pk,
            "origin_country": "US",
            "origin_address": "Depot, Memphis TN",
            "destination_country": "BR",
            "destination_address": "Pharmacy, São Paulo",
            "temperature_class": "refrigerated",
            "planned_ship_date": "2027-03-01",
            "declared_value": "12000.00",
            "currency": "USD",
            "items": [
                {"product_name": "HLX-101 10 mg vials", "category": "imp", "quantity": "200", "unit_value": "60.00"}
            ],
        },
    )
    assert shipment["status"] == "permit_collection"
    assert shipment["sponsor"]["id"] == world.sponsor_a.pk

    uploaded = example["upload_owed_documents"](session, shipment["id"], {"commercial_invoice": str(invoice)})
    stored = Shipment.objects.get(pk=shipment["id"]).documents.get(document_type="commercial_invoice")
    assert uploaded == [stored.pk]
    assert stored.versions.get().uploaded_by == world.carl

    force_status(Shipment.objects.get(pk=shipment["id"]), "delivered")
    assert example["follow"](session, shipment["id"], every=0) == "delivered"
