"""Every page of the browser UI, opened in Chromium at desktop and phone widths by the user it is for: it loads its
own styles and scripts, logs no console error, and neither the page nor any of its tables scrolls sideways on a phone.
With E2E_SCREENSHOTS set, each is saved to var/screenshots/ for a person to look at."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.models import PermitDrawdown
from documents.models import Document
from documents.services import document_version_upload
from parties.models import Notification
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
    PermitDrawdown.objects.create(
        line=brazil_permit.lines.get(), shipment=in_review, item=in_review.items.first(), quantity=Decimal(120)
    )
    for index, kind in enumerate(["shipment.reject", "customs_hold", "document.d3"]):
        Notification.objects.create(
            recipient=world.alice,
            shipment=in_review,
            kind=kind,
            subject=f"{in_review.reference}: something to look at ({index + 1})",
            body="The commercial invoice was rejected: the HS code is missing.",
            link=in_review.get_absolute_url(),
            read_at=timezone.now() if index == 2 else None,
        )
    return {"in_review": in_review, "draft": world.shipment(), "permit": brazil_permit}


# Tables scroll sideways inside .table-responsive on wide screens; on a phone they stack instead, so none may.
SIDEWAYS_TABLES = """() => [...document.querySelectorAll('.table-responsive')]
    .filter((wrapper) => wrapper.scrollWidth > wrapper.clientWidth + 1)
    .map((wrapper) => {
        const table = wrapper.querySelector('table') || wrapper;
        return `${table.className} by ${wrapper.scrollWidth - wrapper.clientWidth}px`;
    })"""


def assert_fits(page, name: str, viewport: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at {viewport} width"
    if viewport == "phone":
        sideways = page.evaluate(SIDEWAYS_TABLES)
        assert sideways == [], f"{name}: tables scroll sideways at phone width: {sideways}"


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
    signed_in, weights = {}, {}
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
        weights[name] = page.evaluate("getComputedStyle(document.querySelector('main h1')).fontWeight")
        assert_fits(page, name, viewport)
        screenshot(page, f"{name}-{viewport}")
    assert len(set(weights.values())) == 1, f"the pages' h1 differ in weight: {weights}"
    inbox = signed_in[world.alice.pk]
    inbox.goto(reverse("parties:inbox"))
    assert inbox.locator(".notification").count() == 3


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_sign_in_and_not_found_pages_load_cleanly(chromium, live_server, open_as, world, browser_problems, viewport):
    context = chromium.new_context(base_url=live_server.url, viewport=VIEWPORTS[viewport])
    try:
        anonymous = browser_problems.watch(context.new_page())
        response = anonymous.goto(reverse("login"))
        assert response.status == 200
        assert anonymous.get_by_role("button", name="Sign in").is_visible()
        assert_fits(anonymous, "login", viewport)
        screenshot(anonymous, f"login-{viewport}")
    finally:
        context.close()
    charlie = open_as(world.charlie, viewport=VIEWPORTS[viewport])
    response = charlie.goto(world.shipment().get_absolute_url())
    assert response.status == 404
    assert charlie.locator("h1").count() == 1
    assert_fits(charlie, "404", viewport)
    screenshot(charlie, f"404-{viewport}")
    # Chromium logs the 404 of the page itself as a console error; that one is what this test asks for.
    browser_problems[:] = [problem for problem in browser_problems if "404" not in problem]
