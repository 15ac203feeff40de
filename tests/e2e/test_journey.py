"""The whole journey in a real browser: a sponsor drafts a shipment with the live preflight, uploads what it owes and
submits the dossier; the IOR's reviewer approves each document and signs; the sponsor sees the approval and downloads
the dossier PDF. And charlie, of another sponsor, gets the 404 page for that shipment."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from compliance.models import CountryProfile
from shipments.models import Shipment
from tests.conftest import pdf_bytes
from tests.e2e.conftest import PASSWORD, screenshot
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def consignee_site(world):
    """The São Paulo hospital is a site of sponsor A's trial, so the draft form offers it as the consignee."""
    return SiteFactory(trial=world.trial, organization=world.site, site_number="101", name="Hospital São Paulo")


@pytest.fixture
def brazil_charges_duties(sponsor_owes_everything):
    CountryProfile.objects.filter(country="BR").update(
        standard_duty_rate=Decimal("10"), standard_vat_rate=Decimal("18"), imp_duty_exempt=False, imp_vat_exempt=False
    )


def test_draft_upload_review_sign_and_download(
    open_as, world, sponsor_owes_everything, consignee_site, brazil_charges_duties, tmp_path
):
    alice = open_as(world.alice)
    alice.goto("/shipments/new/")
    alice.select_option("select[name=trial]", str(world.trial.pk))
    alice.select_option("select[name=ior]", str(world.ior.pk))
    alice.select_option("select[name=eor]", str(world.eor.pk))
    alice.select_option("select[name=consignee]", str(world.site.pk))
    alice.select_option("select[name=origin_country]", "US")
    alice.select_option("select[name=destination_country]", "BR")
    alice.fill("textarea[name=origin_address]", "Clinical depot, Memphis TN")
    alice.fill("textarea[name=destination_address]", "Hospital pharmacy, São Paulo")
    alice.select_option("select[name=temperature_class]", "refrigerated")
    ship_date = timezone.localdate() + timedelta(days=30)
    alice.fill("input[name=planned_ship_date]", ship_date.isoformat())
    alice.fill("input[name=declared_value]", "12000.00")
    alice.fill("input[name=items-0-product_name]", "HLX-101 10 mg vials")
    alice.select_option("select[name=items-0-category]", "imp")
    alice.fill("input[name=items-0-quantity]", "200")
    alice.fill("input[name=items-0-unit_value]", "60.00")
    alice.fill("input[name=items-0-hs_code]", "300215")

    # The preflight panel follows the typing: the route's required documents appear without a page load.
    preflight = alice.locator("#preflight")
    expect(preflight).to_contain_text("Commercial invoice", timeout=15_000)
    expect(preflight).to_contain_text("Packing list")
    expect(preflight).to_contain_text(re.compile(r"[Ee]arliest"))
    expect(preflight.locator("li", has_text="Import duty (10%)")).to_contain_text("1,200.00")
    screenshot(alice, "journey-1-draft-preflight")

    alice.get_by_role("button", name=re.compile(r"^(Save|Create)")).first.click()
    alice.wait_for_load_state("networkidle")
    shipment = Shipment.objects.get(trial=world.trial, origin_address="Clinical depot, Memphis TN")
    expect(alice).to_have_url(re.compile(re.escape(shipment.get_absolute_url()) + "$"))
    assert shipment.consignee == world.site

    alice.locator("button[data-action=submit]").click()
    alice.wait_for_load_state("networkidle")
    expect(alice.locator("h1 .status-badge")).to_have_text("Permit collection")

    # Upload each document the sponsor owes through the checklist's file inputs.
    for index, document in enumerate(shipment.documents.order_by("pk")):
        upload = tmp_path / f"document-{index}.pdf"
        upload.write_bytes(pdf_bytes(f"document {index}".encode()))
        alice.set_input_files(f"#upload-{document.pk}", str(upload))
        form = alice.locator(f"#upload-{document.pk}").locator("xpath=ancestor::form")
        form.get_by_role("button", name="Upload", exact=True).click()
        expect(alice.locator(f"#document-{document.pk} .status-badge").first).to_have_text("Uploaded", timeout=15_000)
    screenshot(alice, "journey-2-uploaded")

    submit_dossier = alice.locator("button[data-action=submit_dossier]:not([disabled])")
    expect(submit_dossier).to_be_visible(timeout=15_000)
    submit_dossier.click()
    alice.wait_for_load_state("networkidle")
    expect(alice.locator("h1 .status-badge")).to_have_text("Dossier review")

    # The IOR's reviewer: the queue, each document approved inline, then the signature.
    rita = open_as(world.rita)
    rita.goto("/reviews/")
    rita.get_by_role("link", name=shipment.reference).first.click()
    rita.wait_for_load_state("networkidle")
    for document in shipment.documents.all():
        card = rita.locator(f"#document-{document.pk}")
        card.get_by_role("button", name="Approve").click()
        expect(card).to_contain_text("Approved", timeout=15_000)
    screenshot(rita, "journey-3-reviewed")
    rita.get_by_test_id("open-signature").click()
    modal = rita.locator("#signature-modal")
    expect(modal).to_be_visible()
    modal.locator("input[name=meaning][value=approved]").check()
    modal.locator("input[name=password]").fill(PASSWORD)
    screenshot(rita, "journey-4-signature")
    modal.get_by_test_id("sign-submit").click()
    rita.wait_for_url(re.compile(re.escape(shipment.get_absolute_url()) + "$"))
    expect(rita.locator("h1 .status-badge")).to_have_text("Approved")

    # The sponsor sees the status change and downloads the dossier PDF with the signature on it.
    alice.reload()
    expect(alice.locator("h1 .status-badge")).to_have_text("Approved")
    alice.get_by_role("button", name="Render dossier PDF").click()
    download_link = alice.get_by_role("link", name="Download PDF").first
    expect(download_link).to_be_visible(timeout=60_000)
    with alice.expect_download() as download_info:
        download_link.click()
    pdf = tmp_path / "dossier.pdf"
    download_info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    screenshot(alice, "journey-5-approved")


def test_charlie_gets_the_404_page_for_another_sponsors_shipment(open_as, world, browser_problems):
    shipment = world.shipment()
    charlie = open_as(world.charlie)
    response = charlie.goto(shipment.get_absolute_url())
    assert response.status == 404
    expect(charlie.locator("h1")).to_contain_text(re.compile("not found|Page not found|can.t find", re.I))
    expect(charlie.locator("body")).not_to_contain_text(shipment.reference)
    # Chromium logs the 404 of the page itself as a console error; that one is what this test asks for.
    browser_problems[:] = [p for p in browser_problems if "404" not in p]
