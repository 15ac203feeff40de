"""Uploading on the shipment page in a real browser: uploads that finish while the header is still refreshing after
the previous one, two uploads sent at once, and a file dropped on a document's drop zone."""

import re

import pytest
from playwright.sync_api import expect

from documents.models import Document
from shipments import services
from shipments.choices import ShipmentStatus as S
from tests.conftest import force_status, pdf_bytes

pytestmark = pytest.mark.django_db(transaction=True)

SUBMIT_DOSSIER = "button[data-action=submit_dossier]"


@pytest.fixture
def owed(world, sponsor_owes_everything):
    """A shipment collecting documents, with a commercial invoice and a packing list for the sponsor to upload."""
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    documents = list(shipment.documents.order_by("pk"))
    assert [document.owed_by_role for document in documents] == ["sponsor", "sponsor"]
    return shipment, documents


def choose(page, tmp_path, document, name):
    upload = tmp_path / name
    upload.write_bytes(pdf_bytes(name.encode()))
    page.set_input_files(f"#upload-{document.pk}", str(upload))


def upload_button(page, document):
    return (
        page.locator(f"#upload-{document.pk}")
        .locator("xpath=ancestor::form")
        .get_by_role("button", name="Upload", exact=True)
    )


def badge(page, document):
    return page.locator(f"#document-{document.pk} .status-badge").first


def test_an_upload_finishing_while_the_header_refreshes_still_opens_submit_dossier(open_as, world, owed, tmp_path):
    shipment, (invoice, packing_list) = owed
    alice = open_as(world.alice)
    alice.goto(shipment.get_absolute_url())
    expect(alice.locator(SUBMIT_DOSSIER)).to_be_disabled()

    # The header's first refresh is answered as the server rendered it (one document still missing) but only after the
    # second upload is done: the second upload's refresh request is then waiting behind it.
    held = []

    def hold_the_first_refresh(route):
        if held:
            route.continue_()
        else:
            held.append((route, route.fetch()))

    alice.route(re.compile(r"/actions/$"), hold_the_first_refresh)
    choose(alice, tmp_path, invoice, "invoice.pdf")
    upload_button(alice, invoice).click()
    expect(badge(alice, invoice)).to_have_text("Uploaded", timeout=15_000)
    for _ in range(100):  # the route handler runs while Playwright waits
        if held:
            break
        alice.wait_for_timeout(50)
    assert held, "the upload did not ask the header to refresh"

    choose(alice, tmp_path, packing_list, "packing-list.pdf")
    upload_button(alice, packing_list).click()
    expect(badge(alice, packing_list)).to_have_text("Uploaded", timeout=15_000)
    route, stale = held[0]
    route.fulfill(response=stale)

    expect(alice.locator(f"{SUBMIT_DOSSIER}:not([disabled])")).to_be_visible(timeout=15_000)
    expect(alice.locator("#why-submit_dossier")).to_have_count(0)


def test_two_uploads_sent_at_once_both_show_and_open_submit_dossier(open_as, world, owed, tmp_path):
    shipment, (invoice, packing_list) = owed
    alice = open_as(world.alice)
    alice.goto(shipment.get_absolute_url())
    choose(alice, tmp_path, invoice, "invoice.pdf")
    choose(alice, tmp_path, packing_list, "packing-list.pdf")
    # Both forms submitted in the same moment: whichever answer comes second must still land in the page.
    alice.evaluate(
        """(ids) => ids.forEach((id) => document.querySelector('#upload-' + id).closest('form').requestSubmit())""",
        [invoice.pk, packing_list.pk],
    )
    expect(badge(alice, invoice)).to_have_text("Uploaded", timeout=15_000)
    expect(badge(alice, packing_list)).to_have_text("Uploaded", timeout=15_000)
    expect(alice.locator(f"{SUBMIT_DOSSIER}:not([disabled])")).to_be_visible(timeout=15_000)
    assert shipment.documents.filter(status="uploaded").count() == 2


def test_dropping_a_file_on_the_zone_uploads_it(open_as, world):
    shipment = force_status(world.shipment(), S.PERMIT_COLLECTION)
    document = Document.objects.create(
        shipment=shipment,
        side="import",
        document_type="commercial_invoice",
        owed_by_role="sponsor",
        owed_by=world.sponsor_a,
        due_date=shipment.planned_ship_date,
    )
    alice = open_as(world.alice)
    alice.goto(shipment.get_absolute_url())
    zone = alice.locator(f"#upload-{document.pk}").locator("xpath=ancestor::*[@data-dropzone][1]")
    expect(zone).to_have_class(re.compile(r"\bis-enhanced\b"))
    alice.evaluate(
        """([id, bytes]) => {
            const zone = document.querySelector('#upload-' + id).closest('[data-dropzone]');
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], 'dropped.pdf', {type: 'application/pdf'}));
            const over = new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: dt});
            zone.dispatchEvent(over);
            window.__dragoverTaken = over.defaultPrevented && zone.classList.contains('is-dragover');
            zone.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: dt}));
        }""",
        [document.pk, list(pdf_bytes(b"dropped"))],
    )
    assert alice.evaluate("window.__dragoverTaken"), "the zone did not accept the drag"
    expect(badge(alice, document)).to_have_text("Uploaded", timeout=15_000)
    expect(alice.locator(f"#document-{document.pk}")).to_contain_text("dropped.pdf")
    version = document.versions.get()
    assert version.original_name == "dropped.pdf"
    assert version.uploaded_by == world.alice
