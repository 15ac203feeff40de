"""Every page of the browser UI, opened in Chromium at desktop and phone widths by the user it is for: it loads its
own styles and scripts, logs no console error, and does not scroll sideways on a phone. With E2E_SCREENSHOTS set,
each is saved to var/screenshots/ for a person to look at."""

import pytest
from django.urls import reverse

from documents.models import Document
from documents.services import document_version_upload
from shipments.choices import ShipmentStatus as S
from tests.conftest import force_status, pdf_file
from tests.e2e.conftest import screenshot
from tests.factories import CountryProfileFactory, DocumentRequirementFactory

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def scene(world, brazil_permit):
    """A shipment in dossier review with one uploaded document, a draft, a country profile and a permit."""
    DocumentRequirementFactory(
        country=CountryProfileFactory(country="BR"),
        direction="import",
        document_type="commercial_invoice",
        provided_by="sponsor",
    )
    in_review = force_status(world.shipment(), S.PERMIT_COLLECTION)
    document = Document.objects.create(
        shipment=in_review,
        side="import",
        document_type="commercial_invoice",
        owed_by_role="sponsor",
        owed_by=world.sponsor_a,
        due_date=in_review.planned_ship_date,
    )
    document_version_upload(actor=world.alice, document=document, uploaded_file=pdf_file("invoice.pdf"))
    force_status(in_review, S.DOSSIER_REVIEW)
    return {"in_review": in_review, "draft": world.shipment(), "permit": brazil_permit}


def pages(world, scene):
    in_review, draft = scene["in_review"], scene["draft"]
    return [
        ("dashboard", world.alice, reverse("home")),
        ("shipment-list", world.alice, reverse("shipments:list")),
        ("shipment-list-filtered", world.alice, reverse("shipments:list") + "?status=dossier_review&q=SHP"),
        ("shipment-detail", world.alice, in_review.get_absolute_url()),
        ("shipment-create", world.alice, reverse("shipments:create")),
        ("shipment-edit", world.alice, reverse("shipments:edit", args=[draft.reference])),
        ("review-queue", world.rita, reverse("reviews:queue")),
        ("review", world.rita, reverse("reviews:review", args=[in_review.reference])),
        ("countries", world.alice, reverse("compliance:country_list")),
        ("country", world.alice, reverse("compliance:country_detail", args=["BR"])),
        ("permits", world.ivan, reverse("compliance:permit_list")),
        ("permit", world.ivan, reverse("compliance:permit_detail", args=[scene["permit"].pk])),
        ("inbox", world.alice, reverse("parties:inbox")),
        ("preferences", world.alice, reverse("parties:preferences")),
        ("password-change", world.alice, reverse("password_change")),
        ("dashboard-ior", world.imelda, reverse("home")),
    ]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_page_loads_cleanly(open_as, world, scene, viewport):
    signed_in = {}
    for name, user, path in pages(world, scene):
        if user.pk not in signed_in:
            signed_in[user.pk] = open_as(user, viewport=VIEWPORTS[viewport])
        page = signed_in[user.pk]
        response = page.goto(path)
        page.wait_for_load_state("networkidle")
        assert response.status == 200, f"{name}: {path} answered {response.status}"
        assert page.locator("link[href*='bootstrap.min.css']").count() == 1, name
        assert page.evaluate("getComputedStyle(document.body).fontFamily") != "", name
        assert page.locator("h1").count() >= 1, f"{name} has no heading"
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at {viewport} width"
        screenshot(page, f"{name}-{viewport}")
