"""Demo data for a fresh installation: fictional sponsors, a CRO, importers and exporter of record, brokers,
a courier and clinical sites, two trials, their permits, and about forty shipments in every state of the lifecycle.

Shipments are driven through the real services, acting as the demo user whose organization and role the
lifecycle rules name for each step, so their documents, checklists, permit drawdowns and audit trails are what a
real run would leave. Country facts and document requirements are the sourced regulatory data
(compliance/data/countries), loaded first; the organizations, licences and permits are invented and say so.

Running it again creates nothing: reference data is looked up by natural key, and a shipment whose
reference exists is skipped."""

import math
import zlib
from base64 import b32decode
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from urllib.parse import quote, urlsplit

from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.choices import PERMIT_TYPES, TradeDirection
from compliance.loader import DataError, load_regulatory_data
from compliance.models import CountryProfile, DocumentRequirement, Permit, PermitLine
from documents.choices import DocumentStatus, ReviewDecision
from documents.models import Document, DocumentVersion
from documents.services import document_review, document_version_upload
from ior_platform.core.errors import DomainError
from parties.choices import LicenceType, MemberRole, PartyRole
from parties.models import (
    Address,
    Contact,
    Licence,
    Membership,
    Organization,
    OrganizationRole,
    SponsorAuthorisation,
    User,
)
from shipments import services
from shipments.choices import RecordedVia, TrackingEventCode
from shipments.choices import ShipmentStatus as S
from shipments.coldchain.services import temperature_log_import
from shipments.guards import LOGGED_CLASSES
from shipments.models import Shipment, Site, Trial
from shipments.tracking.services import tracking_event_record

DEMO_NOTE = "Invented for the demo by seed_demo; not a real authorisation."
# Deliberately public: it is printed for whoever runs the demo, and only demo accounts use it.
DEMO_PASSWORD = "Demo-Clinical-2026!"  # noqa: S105
SEEDED_APPS = ("core", "parties", "compliance", "shipments", "documents")


class DemoDataError(Exception):
    """A step of the demo could not be done; the message says which and why, on one line."""


# --- Parties ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgSpec:
    key: str
    name: str
    legal_name: str
    country: str
    roles: tuple[str, ...]
    registration_number: str
    website: str
    # (label, line1, city, region, postal code, country)
    addresses: tuple[tuple[str, str, str, str, str, str], ...]
    # (name, function, e-mail, phone)
    contacts: tuple[tuple[str, str, str, str], ...]
    # (licence type, number, issuing authority, country)
    licences: tuple[tuple[str, str, str, str], ...] = ()


P = PartyRole
ORGANIZATIONS: tuple[OrgSpec, ...] = (
    OrgSpec(
        "helix",
        "Helix Therapeutics",
        "Helix Therapeutics, Inc.",
        "US",
        (P.SPONSOR,),
        "EIN 84-3920175",
        "https://helix-therapeutics.example",
        (
            ("Head office", "1200 Binney Street, Suite 400", "Cambridge", "MA", "02142", "US"),
            ("Clinical supply depot", "4100 Innovation Way, Building C", "Morrisville", "NC", "27560", "US"),
        ),
        (
            ("Hannah Reyes", "Clinical Supply Manager", "supply@helix-therapeutics.example", "+1 617 555 0142"),
            ("Marcus Lee", "Trade Compliance Lead", "trade@helix-therapeutics.example", "+1 919 555 0178"),
        ),
    ),
    OrgSpec(
        "nordlicht",
        "Nordlicht Biopharma",
        "Nordlicht Biopharma GmbH",
        "DE",
        (P.SPONSOR,),
        "HRB 271845 (Amtsgericht München)",
        "https://nordlicht-biopharma.example",
        (
            ("Head office", "Lichtweg 12", "Planegg", "Bayern", "82152", "DE"),
            ("Clinical supplies", "Lichtweg 14, Halle 3", "Planegg", "Bayern", "82152", "DE"),
        ),
        (
            (
                "Katrin Vogel",
                "Head of Clinical Supplies",
                "clinical.supplies@nordlicht-biopharma.example",
                "+49 89 555 2210",
            ),
        ),
        ((LicenceType.GMP_CERTIFICATE, "DE-BY-GMP-2024-0457", "Regierung von Oberbayern (demo)", "DE"),),
    ),
    OrgSpec(
        "sakura",
        "Sakura Bioscience",
        "Sakura Bioscience K.K.",
        "JP",
        (P.SPONSOR,),
        "Corporate number 5120001234567",
        "https://sakura-bioscience.example",
        (("Head office", "2-7-1 Doshomachi, Chuo-ku", "Osaka", "Osaka", "541-0045", "JP"),),
        (("Aiko Tanaka", "Global Clinical Operations", "clinops@sakura-bioscience.example", "+81 6 5555 0190"),),
    ),
    OrgSpec(
        "meridian",
        "Meridian Clinical Research",
        "Meridian Clinical Research Ltd",
        "GB",
        (P.CRO,),
        "Company no. 09876543",
        "https://meridian-cr.example",
        (("Head office", "3 Forbury Square", "Reading", "Berkshire", "RG1 3EU", "GB"),),
        (("Oliver Grant", "Clinical Trial Supply Lead", "supply@meridian-cr.example", "+44 118 496 0321"),),
    ),
    OrgSpec(
        "br_ior",
        "Cruzeiro Clinical Imports",
        "Cruzeiro Importação Clínica Ltda.",
        "BR",
        (P.IOR,),
        "CNPJ 12.345.678/0001-90",
        "https://cruzeiro-clinical.example",
        (
            ("Head office", "Avenida Paulista 1842, 12º andar", "São Paulo", "SP", "01310-200", "BR"),
            ("Bonded warehouse", "Rodovia Hélio Smidt s/n, TECA Guarulhos", "Guarulhos", "SP", "07190-100", "BR"),
        ),
        (
            ("Fernanda Lima", "Responsável Técnica (pharmacist)", "rt@cruzeiro-clinical.example", "+55 11 5555 0134"),
            ("Rafael Souza", "Import Operations", "imports@cruzeiro-clinical.example", "+55 11 5555 0187"),
        ),
        (
            (LicenceType.IMPORT_LICENCE, "AFE-7.04512-3", "ANVISA (demo)", "BR"),
            (LicenceType.IMPORT_LICENCE, "COFEPRIS-LI-2024-1187", "COFEPRIS (demo)", "MX"),
            (LicenceType.GDP_CERTIFICATE, "CBPAD-2024-0918", "ANVISA (demo)", "BR"),
        ),
    ),
    OrgSpec(
        "in_ior",
        "Sarathi Clinical Trade Services",
        "Sarathi Clinical Trade Services Pvt. Ltd.",
        "IN",
        (P.IOR,),
        "CIN U74999MH2016PTC285412",
        "https://sarathi-clinical.example",
        (
            ("Head office", "Unit 804, Lodha Supremus, Senapati Bapat Marg", "Mumbai", "MH", "400013", "IN"),
            ("Bonded warehouse", "Air Cargo Complex, Sahar", "Mumbai", "MH", "400099", "IN"),
        ),
        (("Priya Raman", "Regulatory Affairs Manager", "regulatory@sarathi-clinical.example", "+91 22 5555 0155"),),
        (
            (LicenceType.IMPORT_LICENCE, "CDSCO/IMP/2024/00871", "CDSCO (demo)", "IN"),
            (LicenceType.IMPORT_LICENCE, "SAHPRA-S21-2024-3312", "SAHPRA (demo)", "ZA"),
            (LicenceType.IMPORT_LICENCE, "TITCK-ITH-2024-0562", "TİTCK (demo)", "TR"),
            (LicenceType.IMPORT_LICENCE, "MFDS-IMP-2024-7781", "MFDS (demo)", "KR"),
        ),
    ),
    OrgSpec(
        "eor",
        "Bayfront Export Services",
        "Bayfront Export Services LLC",
        "US",
        (P.EOR,),
        "EIN 47-1188230",
        "https://bayfront-export.example",
        (
            ("Head office", "88 Seaport Boulevard", "Boston", "MA", "02210", "US"),
            ("Frankfurt branch", "Cargo City Süd, Gebäude 543", "Frankfurt am Main", "Hessen", "60549", "DE"),
        ),
        (("Daniel Ortiz", "Export Compliance Officer", "export@bayfront-export.example", "+1 617 555 0199"),),
        ((LicenceType.EXPORT_LICENCE, "BES-EXP-2023-0042", "U.S. Department of Commerce (demo)", "US"),),
    ),
    OrgSpec(
        "broker",
        "Guarulhos Despachos Aduaneiros",
        "Guarulhos Despachos Aduaneiros Ltda.",
        "BR",
        (P.BROKER,),
        "CNPJ 98.765.432/0001-10",
        "https://guarulhos-despachos.example",
        (("Head office", "Rua Sete de Setembro 221, sala 31", "Guarulhos", "SP", "07011-020", "BR"),),
        (("Bruno Costa", "Despachante aduaneiro", "desembaraco@guarulhos-despachos.example", "+55 11 5555 0162"),),
        ((LicenceType.CUSTOMS_BROKER, "RFB-DA-8.123.456", "Receita Federal do Brasil (demo)", "BR"),),
    ),
    OrgSpec(
        "mx_broker",
        "Agencia Aduanal Anáhuac",
        "Agencia Aduanal Anáhuac, S.C.",
        "MX",
        (P.BROKER,),
        "RFC AAA090512KT4",
        "https://aa-anahuac.example",
        (
            (
                "Head office",
                "Avenida Capitán Carlos León s/n, Terminal de Carga AICM",
                "Ciudad de México",
                "CDMX",
                "15620",
                "MX",
            ),
        ),
        (("Jorge Ramírez", "Agente aduanal", "operaciones@aa-anahuac.example", "+52 55 5555 0147"),),
        ((LicenceType.CUSTOMS_BROKER, "Patente 3912", "Agencia Nacional de Aduanas de México (demo)", "MX"),),
    ),
    OrgSpec(
        "courier",
        "Kestrel Clinical Couriers",
        "Kestrel Clinical Couriers B.V.",
        "NL",
        (P.COURIER,),
        "KvK 81234567",
        "https://kestrel-couriers.example",
        (("Head office", "Pudongweg 25", "Schiphol-Rijk", "Noord-Holland", "1437 EM", "NL"),),
        (("Sanne de Vries", "Clinical Logistics Desk (24/7)", "ops@kestrel-couriers.example", "+31 20 555 0110"),),
        ((LicenceType.DANGEROUS_GOODS, "DGR-NL-2024-5531", "IATA DGR training provider (demo)", "NL"),),
    ),
    OrgSpec(
        "site_sp",
        "Instituto de Pesquisa Clínica Paulista",
        "Instituto de Pesquisa Clínica Paulista S.A.",
        "BR",
        (P.CONSIGNEE,),
        "CNPJ 23.456.789/0001-01",
        "https://ipcp.example",
        (("Pharmacy", "Rua Pedro de Toledo 650, Bloco B, 2º andar", "São Paulo", "SP", "04039-002", "BR"),),
        (("Dra. Camila Rocha", "Investigational product pharmacist", "farmacia@ipcp.example", "+55 11 5555 0171"),),
    ),
    OrgSpec(
        "site_re",
        "Hospital das Clínicas do Capibaribe",
        "Hospital das Clínicas do Capibaribe",
        "BR",
        (P.CONSIGNEE,),
        "CNPJ 34.567.890/0001-12",
        "https://hcc-recife.example",
        (("Pharmacy", "Avenida Rui Barbosa 1100", "Recife", "PE", "52050-000", "BR"),),
        (("Dr. Tiago Menezes", "Study coordinator", "pesquisa@hcc-recife.example", "+55 81 5555 0123"),),
    ),
    OrgSpec(
        "site_in",
        "Lakshmi Multispeciality Research Hospital",
        "Lakshmi Healthcare Pvt. Ltd.",
        "IN",
        (P.CONSIGNEE,),
        "CIN U85110KA2009PTC051234",
        "https://lakshmi-research.example",
        (("Clinical trial pharmacy", "14 Bannerghatta Road, Phase 2", "Bengaluru", "KA", "560076", "IN"),),
        (("Dr. Arjun Menon", "Principal investigator", "trials@lakshmi-research.example", "+91 80 5555 0146"),),
    ),
    OrgSpec(
        "site_za",
        "Table Mountain Clinical Research Centre",
        "Table Mountain Clinical Research Centre (Pty) Ltd",
        "ZA",
        (P.CONSIGNEE,),
        "Reg. 2012/123456/07",
        "https://tmcrc.example",
        (("Pharmacy", "22 Anzio Road, Observatory", "Cape Town", "Western Cape", "7925", "ZA"),),
        (("Dr. Thandiwe Nkosi", "Principal investigator", "studies@tmcrc.example", "+27 21 555 0193"),),
    ),
    OrgSpec(
        "site_mx",
        "Centro de Investigación Clínica del Bajío",
        "Centro de Investigación Clínica del Bajío, S.C.",
        "MX",
        (P.CONSIGNEE,),
        "RFC CIC120315AB1",
        "https://cicb.example",
        (("Farmacia", "Boulevard Adolfo López Mateos 2101 Ote.", "León", "Guanajuato", "37530", "MX"),),
        (("Dra. Lucía Herrera", "Coordinadora de estudios", "estudios@cicb.example", "+52 477 555 0128"),),
    ),
    OrgSpec(
        "site_tr",
        "Boğaziçi Klinik Araştırma Merkezi",
        "Boğaziçi Klinik Araştırma Merkezi A.Ş.",
        "TR",
        (P.CONSIGNEE,),
        "MERSİS 0123456789000015",
        "https://bkam.example",
        (("Eczane", "Büyükdere Caddesi No. 120", "İstanbul", "Şişli", "34394", "TR"),),
        (("Dr. Elif Yıldız", "Principal investigator", "arastirma@bkam.example", "+90 212 555 0117"),),
    ),
    OrgSpec(
        "site_kr",
        "Hangang Medical Research Center",
        "Hangang Medical Research Center",
        "KR",
        (P.CONSIGNEE,),
        "BRN 220-81-12345",
        "https://hangang-mrc.example",
        (("Clinical trial pharmacy", "88 Olympic-ro 43-gil, Songpa-gu", "Seoul", "", "05505", "KR"),),
        (("Dr. Min-jun Park", "Principal investigator", "ctc@hangang-mrc.example", "+82 2 555 0184"),),
    ),
)

AUTHORISATIONS = (("helix", "meridian"), ("nordlicht", "meridian"))


@dataclass(frozen=True)
class DemoLogin:
    username: str
    full_name: str
    email: str
    organization: str | None
    roles: tuple[str, ...]
    time_zone: str = "UTC"
    is_superuser: bool = False
    password: str = DEMO_PASSWORD

    @property
    def role_label(self) -> str:
        return "platform superuser" if self.is_superuser else ", ".join(self.roles)


def _login(username: str, full_name: str, org_key: str, time_zone: str, *roles: str) -> DemoLogin:
    org = next(spec for spec in ORGANIZATIONS if spec.key == org_key)
    email = f"{full_name.lower().replace(' ', '.')}@{urlsplit(org.website).hostname}"
    return DemoLogin(username, full_name, email, org.name, roles, time_zone)


R = MemberRole
DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("admin", "Platform Administrator", "admin@ior-platform.example", None, (), is_superuser=True),
    _login("helix_editor", "Hannah Reyes", "helix", "America/New_York", R.EDITOR),
    _login("helix_manager", "Marcus Lee", "helix", "America/New_York", R.MANAGER),
    _login("helix_viewer", "Grace Okafor", "helix", "America/New_York", R.VIEWER),
    _login("meridian_editor", "Oliver Grant", "meridian", "Europe/London", R.EDITOR),
    _login("br_ior_reviewer", "Fernanda Lima", "br_ior", "America/Sao_Paulo", R.REVIEWER),
    _login("br_ior_manager", "Rafael Souza", "br_ior", "America/Sao_Paulo", R.MANAGER),
    _login("in_ior_reviewer", "Priya Raman", "in_ior", "Asia/Kolkata", R.REVIEWER),
    _login("eor_editor", "Daniel Ortiz", "eor", "America/New_York", R.EDITOR),
    _login("broker_editor", "Bruno Costa", "broker", "America/Sao_Paulo", R.EDITOR),
    _login("courier_editor", "Sanne de Vries", "courier", "Europe/Amsterdam", R.EDITOR),
    _login("site_editor", "Camila Rocha", "site_sp", "America/Sao_Paulo", R.EDITOR),
    _login("charlie", "Charlotte Brandt", "nordlicht", "Europe/Berlin", R.EDITOR),
)


LOGIN_PASSWORDS = {login.username: login.password for login in DEMO_LOGINS}

# The demo's second factor, as public as DEMO_PASSWORD: the accounts whose role requires two-factor sign-in
# (ior_platform/core/mfa.py) get an authenticator with this key, so any authenticator app, `oathtool --totp -b KEY`
# or `manage.py demo_code` gives the code the verify page asks for. Only seed_demo ever uses it.
DEMO_TOTP_SECRET = "DEMOTOTPIORPLATFORMSECRETNOTREAL"  # noqa: S105
DEMO_TOTP_DEVICE = "Demo authenticator (published key)"


def demo_totp_uri() -> str:
    issuer = quote(settings.OTP_TOTP_ISSUER)
    return f"otpauth://totp/{issuer}:demo?secret={DEMO_TOTP_SECRET}&issuer={issuer}&algorithm=SHA1&digits=6&period=30"


def demo_totp_code(at: float | None = None) -> str:
    from django_otp.oath import TOTP

    otp = TOTP(b32decode(DEMO_TOTP_SECRET))
    if at is not None:
        otp.time = at
    return f"{otp.token():06d}"


def format_logins(logins: tuple[DemoLogin, ...] = DEMO_LOGINS) -> str:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    with_code = set(
        TOTPDevice.objects.filter(
            name=DEMO_TOTP_DEVICE, confirmed=True, user__username__in=[lg.username for lg in logins]
        ).values_list("user__username", flat=True)
    )
    rows = [("username", "organization", "role(s)", "password", "second factor")]
    rows += [
        (
            lg.username,
            lg.organization or "(platform staff)",
            lg.role_label,
            lg.password,
            "demo code" if lg.username in with_code else "-",
        )
        for lg in logins
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    if with_code:
        lines += [
            "",
            "Accounts with a demo code also ask, after the password, for the 6-digit code of the published demo key",
            f"{DEMO_TOTP_SECRET}: `python manage.py demo_code`, `oathtool --totp -b {DEMO_TOTP_SECRET}`, or add",
            f"{demo_totp_uri()} to an authenticator app.",
        ]
    return "\n".join(lines)


def _seed_second_factors(users: dict[str, User]) -> None:
    """The published demo key for every demo account that must sign in with a second factor and has none yet (one
    it set up itself is left alone). No backup codes: the key is public, so the code is always at hand."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from ior_platform.core.mfa import mfa_required

    for user in users.values():
        if mfa_required(user) and not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            TOTPDevice.objects.create(
                user=user, name=DEMO_TOTP_DEVICE, key=b32decode(DEMO_TOTP_SECRET).hex(), confirmed=True
            )


# --- Trials ----------------------------------------------------------------------------------------

TRIALS = (
    {
        "protocol_number": "HLX-301",
        "sponsor": "helix",
        "title": "A Phase III, randomised, double-blind, placebo-controlled study of HLX-301 in adults with "
        "moderate-to-severe plaque psoriasis",
        "phase": "3",
        "therapeutic_area": "Immunology",
        "eu_ct_number": "",
    },
    {
        "protocol_number": "NBP-2201",
        "sponsor": "nordlicht",
        "title": "A Phase II, open-label study of NBP-2201 in relapsed or refractory diffuse large B-cell lymphoma",
        "phase": "2",
        "therapeutic_area": "Oncology",
        "eu_ct_number": "2024-512345-22-00",
    },
)
# site key -> (trial, site number, consignee, principal investigator)
SITES = {
    "hlx_sp": ("HLX-301", "BR-101", "site_sp", "Dr. Henrique Alves"),
    "hlx_re": ("HLX-301", "BR-102", "site_re", "Dr. Tiago Menezes"),
    "hlx_in": ("HLX-301", "IN-201", "site_in", "Dr. Arjun Menon"),
    "hlx_za": ("HLX-301", "ZA-301", "site_za", "Dr. Thandiwe Nkosi"),
    "hlx_mx": ("HLX-301", "MX-401", "site_mx", "Dra. Lucía Herrera"),
    "hlx_tr": ("HLX-301", "TR-501", "site_tr", "Dr. Elif Yıldız"),
    "nbp_sp": ("NBP-2201", "1001", "site_sp", "Dr. Paulo Nogueira"),
    "nbp_in": ("NBP-2201", "1002", "site_in", "Dr. Kavya Iyer"),
    "nbp_kr": ("NBP-2201", "1003", "site_kr", "Dr. Min-jun Park"),
    "nbp_tr": ("NBP-2201", "1004", "site_tr", "Dr. Mehmet Aydın"),
}
# Importer of record per destination country. Two IORs cover six destinations because each holds import
# licences for its region (see their licences), so the IOR's approval guard finds one valid on the ship date.
IOR_FOR = {"BR": "br_ior", "MX": "br_ior", "IN": "in_ior", "ZA": "in_ior", "TR": "in_ior", "KR": "in_ior"}
# Customs broker per destination. Only an agente aduanal may file a Mexican pedimento, so Mexico's requirements
# make the broker owe it; without one assigned that document would have no owner.
BROKER_FOR = {"BR": "broker", "MX": "mx_broker"}
# The cargo airport the courier flies through in each country of the demo's routes.
AIRPORTS = {
    "US": "RDU, Raleigh-Durham",
    "DE": "MUC, Munich",
    "JP": "NRT, Tokyo Narita",
    "BR": "GRU, São Paulo",
    "MX": "MEX, Mexico City",
    "IN": "BOM, Mumbai",
    "ZA": "JNB, Johannesburg",
    "TR": "IST, Istanbul",
    "KR": "ICN, Seoul Incheon",
}
T = TrackingEventCode


# --- Goods -----------------------------------------------------------------------------------------


def _item(name, category, hs, qty, unit, lot, expiry, value, un="") -> dict:
    return {
        "product_name": name,
        "category": category,
        "hs_code": hs,
        "quantity": Decimal(qty),
        "unit": unit,
        "lot_number": lot,
        "expiry_date": expiry,
        "unit_value": Decimal(value),
        "un_number": un,
    }


HLX_VIALS = "HLX-301 200 mg/10 mL concentrate for solution for infusion"


def _goods(kind: str, ship: date, n: int) -> tuple[str, list[dict]]:
    """Temperature class and items of a consignment of `kind`; `n` varies lots and quantities."""
    months = timedelta(days=30)
    if kind == "hlx_imp":
        return "refrigerated", [
            _item(HLX_VIALS, "imp", "300215",
                  48 + 12 * (n % 4), "vial", f"HX301-25A{n:03d}", ship + 18 * months, "850.00"),
            _item("Placebo to HLX-301, 10 mL concentrate for solution for infusion", "imp", "300490",
                  24 + 6 * (n % 3), "vial", f"HXPL-25A{n:03d}", ship + 24 * months, "45.00"),
        ]  # fmt: skip
    if kind == "hlx_device":
        return "ambient", [
            _item("Cardiolite 12-lead ECG recorder, trial-configured", "device", "901811", 2, "each",
                  f"CL12-{2400 + n}", None, "4200.00"),
            _item("ECG electrodes, Ag/AgCl, pack of 100", "device", "901890", 20, "pack",
                  f"EL-25{n:03d}", ship + 30 * months, "38.00"),
        ]  # fmt: skip
    if kind == "hlx_lab":
        return "ambient", [
            _item("Central laboratory kit, screening visit", "lab_kit", "382200", 30, "kit",
                  f"LK-SCR-25{n:03d}", ship + 9 * months, "38.50"),
            _item("Central laboratory kit, treatment visits 2–8", "lab_kit", "382200", 90, "kit",
                  f"LK-TRT-25{n:03d}", ship + 9 * months, "27.00"),
        ]  # fmt: skip
    if kind == "hlx_lab_frozen":
        return "frozen", [
            _item("Central laboratory kit, pharmacokinetic sampling", "lab_kit", "382200", 40, "kit",
                  f"LK-PK-25{n:03d}", ship + 9 * months, "42.00"),
            _item("Human serum reference panel for anti-drug antibody assay (Category B)", "biological_sample",
                  "300212", 10, "tube", f"RP-ADA-25{n:03d}", ship + 12 * months, "120.00", "UN3373"),
            _item("Dry ice (refrigerant)", "ancillary", "281121", 12000, "g", "", None, "0.00", "UN1845"),
        ]  # fmt: skip
    if kind == "nbp_imp":
        return "ambient", [
            _item("NBP-2201 25 mg film-coated tablets, bottle of 30", "imp", "300490",
                  60 + 20 * (n % 3), "bottle", f"NB2201-T25-{n:04d}", ship + 20 * months, "310.00"),
            _item("Placebo film-coated tablets matching NBP-2201 25 mg, bottle of 30", "imp", "300490",
                  30, "bottle", f"NBPL-T25-{n:04d}", ship + 24 * months, "12.00"),
        ]  # fmt: skip
    if kind == "nbp_lab":
        return "ambient", [
            _item("Pharmacokinetic sampling kit, cycles 1–3", "lab_kit", "382200", 60, "kit",
                  f"NB-PK-25{n:03d}", ship + 10 * months, "42.00"),
        ]  # fmt: skip
    raise ValueError(f"unknown goods {kind!r}")


# --- Permits ---------------------------------------------------------------------------------------

# (country, permit type, product category) -> how the authority numbers that permit.
PERMIT_NUMBERS = {
    # Siscomex import licence (LI) carrying ANVISA's consent.
    ("BR", "import_permit", "imp"): "LI {yy}/{serial:07d}-{check}",
    ("BR", "import_permit", "device"): "LI {yy}/{serial:07d}-{check}",
    ("BR", "permit_to_import_biologicals", "biological_sample"): "LI {yy}/{serial:07d}-{check}",
    ("IN", "test_licence", "imp"): "CT-17/TL/{year}/{serial:06d}",
    ("IN", "test_licence", "device"): "MD-17/TL/{year}/{serial:06d}",
    ("ZA", "import_permit", "imp"): "S21/CT/{year}/{serial:06d}",
    ("TR", "import_permit", "imp"): "ITH-{year}-{serial:06d}",
    ("MX", "import_permit", "imp"): "PSI/{year}/{serial:06d}",
}
# Every permit authorises half as much again as the demo ships under it, except this one: TİTCK granted 100 vials,
# DEMO-015 draws 84 at approval, so approving the draft DEMO-031 (84 more) is refused with what is left.
NEARLY_EXHAUSTED = {("HLX-301", "TR", "import_permit"): {HLX_VIALS: Decimal(100)}}


def _permit_number(country: str, permit_type: str, covers: set[str], valid_from: date, seed: str) -> str:
    # Stable across runs, so get_or_create by authority and number finds the permit again.
    serial = zlib.crc32(f"{country}|{permit_type}|{seed}".encode()) % 1_000_000
    form = next(
        (
            PERMIT_NUMBERS[(country, permit_type, c)]
            for c in sorted(covers)
            if (country, permit_type, c) in PERMIT_NUMBERS
        ),
        f"{country}-{permit_type.upper()}-{{year}}-{{serial:06d}}",
    )
    return form.format(yy=f"{valid_from:%y}", year=valid_from.year, serial=serial, check=serial % 9)


def _generous(total: Decimal) -> Decimal:
    step = Decimal(50) if total >= 100 else Decimal(10)
    return (total * Decimal("1.5") / step).to_integral_value(ROUND_CEILING) * step


# --- The shipments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipmentPlan:
    reference: str
    site: str
    goods: str
    target: str
    days_ahead: int
    creator: str
    # Where a cancelled shipment was when it was cancelled.
    cancel_from: str = S.DRAFT
    hold_then_release: bool = False
    rejected_once: bool = False
    hold_reason: str = ""
    end_reason: str = ""
    returns: tuple[tuple[str, str, int], ...] = ()  # (creator, final state, days ahead)


PLANS: tuple[ShipmentPlan, ...] = (
    ShipmentPlan("DEMO-001", "hlx_sp", "hlx_imp", S.DELIVERED, 10, "helix_editor", hold_then_release=True,
                 hold_reason="Physical inspection: Receita Federal selected the consignment for the red channel"),
    ShipmentPlan("DEMO-002", "hlx_sp", "hlx_device", S.DELIVERED, 11, "helix_manager"),
    ShipmentPlan("DEMO-003", "hlx_sp", "hlx_lab", S.DELIVERED, 12, "meridian_editor"),
    ShipmentPlan("DEMO-004", "nbp_sp", "nbp_imp", S.DELIVERED, 12, "charlie"),
    ShipmentPlan("DEMO-005", "hlx_sp", "hlx_imp", S.DELIVERED, 13, "helix_editor",
                 returns=(("br_ior_manager", S.PERMIT_COLLECTION, 40),)),
    ShipmentPlan("DEMO-006", "nbp_sp", "nbp_imp", S.DELIVERED, 14, "meridian_editor",
                 returns=(("br_ior_manager", S.DRAFT, 55),)),
    ShipmentPlan("DEMO-007", "hlx_re", "hlx_imp", S.OUT_FOR_DELIVERY, 15, "helix_editor"),
    ShipmentPlan("DEMO-008", "hlx_in", "hlx_imp", S.OUT_FOR_DELIVERY, 16, "helix_editor"),
    ShipmentPlan("DEMO-009", "hlx_mx", "hlx_imp", S.CLEARED, 17, "helix_manager", hold_then_release=True,
                 hold_reason="Pedimento held: COFEPRIS permit number missing from the commercial invoice"),
    ShipmentPlan("DEMO-010", "nbp_kr", "nbp_imp", S.CLEARED, 18, "charlie"),
    ShipmentPlan("DEMO-011", "hlx_za", "hlx_imp", S.CUSTOMS_HOLD, 19, "helix_editor",
                 hold_reason="SARS requests the SAHPRA Section 21 authorisation letter for the lots on the invoice"),
    ShipmentPlan("DEMO-012", "nbp_tr", "nbp_imp", S.CUSTOMS_HOLD, 20, "charlie",
                 hold_reason="Customs query on HS classification of the placebo tablets"),
    ShipmentPlan("DEMO-013", "hlx_re", "hlx_imp", S.CUSTOMS_CLEARANCE, 21, "meridian_editor"),
    ShipmentPlan("DEMO-014", "nbp_in", "nbp_imp", S.CUSTOMS_CLEARANCE, 22, "charlie"),
    ShipmentPlan("DEMO-015", "hlx_tr", "hlx_imp", S.CUSTOMS_CLEARANCE, 23, "helix_editor"),
    ShipmentPlan("DEMO-016", "hlx_sp", "hlx_imp", S.IN_TRANSIT, 24, "helix_editor"),
    ShipmentPlan("DEMO-017", "nbp_kr", "nbp_lab", S.IN_TRANSIT, 25, "meridian_editor"),
    ShipmentPlan("DEMO-018", "hlx_in", "hlx_lab_frozen", S.IN_TRANSIT, 26, "helix_manager"),
    ShipmentPlan("DEMO-019", "hlx_mx", "hlx_imp", S.EXPORT_CLEARED, 28, "helix_editor"),
    ShipmentPlan("DEMO-020", "nbp_sp", "nbp_imp", S.EXPORT_CLEARED, 30, "charlie"),
    ShipmentPlan("DEMO-021", "hlx_za", "hlx_lab", S.APPROVED, 32, "meridian_editor"),
    ShipmentPlan("DEMO-022", "nbp_in", "nbp_imp", S.APPROVED, 34, "charlie"),
    ShipmentPlan("DEMO-023", "hlx_re", "hlx_device", S.APPROVED, 36, "helix_editor"),
    ShipmentPlan("DEMO-024", "hlx_in", "hlx_imp", S.DOSSIER_REVIEW, 40, "helix_editor"),
    ShipmentPlan("DEMO-025", "nbp_tr", "nbp_imp", S.DOSSIER_REVIEW, 42, "charlie"),
    ShipmentPlan("DEMO-026", "hlx_sp", "hlx_imp", S.DOSSIER_REVIEW, 44, "helix_manager", rejected_once=True),
    ShipmentPlan("DEMO-027", "hlx_re", "hlx_imp", S.PERMIT_COLLECTION, 48, "helix_editor", rejected_once=True),
    ShipmentPlan("DEMO-028", "nbp_kr", "nbp_imp", S.PERMIT_COLLECTION, 50, "charlie"),
    ShipmentPlan("DEMO-029", "hlx_mx", "hlx_lab", S.PERMIT_COLLECTION, 55, "meridian_editor"),
    ShipmentPlan("DEMO-030", "hlx_za", "hlx_imp", S.PERMIT_COLLECTION, 60, "helix_editor"),
    ShipmentPlan("DEMO-031", "hlx_tr", "hlx_imp", S.DRAFT, 70, "helix_editor"),
    ShipmentPlan("DEMO-032", "nbp_in", "nbp_lab", S.DRAFT, 80, "charlie"),
    ShipmentPlan("DEMO-033", "hlx_sp", "hlx_device", S.DRAFT, 90, "helix_manager"),
    ShipmentPlan("DEMO-034", "hlx_sp", "hlx_imp", S.RETURNED, 15, "helix_editor",
                 hold_reason="Import licence (LI) on the invoice does not match the one granted by ANVISA",
                 end_reason="LI could not be amended before the goods' stability allowance ran out; "
                 "returned to the US depot"),
    ShipmentPlan("DEMO-035", "hlx_re", "hlx_imp", S.DESTROYED, 17, "helix_editor",
                 hold_reason="Temperature excursion: data logger shows 14 h above 8 °C at the airport",
                 end_reason="Sponsor's QA declared the lots unusable; destroyed under customs supervision"),
    ShipmentPlan("DEMO-036", "nbp_in", "nbp_imp", S.CANCELLED, 65, "charlie",
                 end_reason="Site paused enrolment; supply plan revised"),
    ShipmentPlan("DEMO-037", "hlx_mx", "hlx_imp", S.CANCELLED, 45, "helix_editor", cancel_from=S.PERMIT_COLLECTION,
                 end_reason="Merged into a consolidated shipment to the same site"),
    ShipmentPlan("DEMO-038", "hlx_in", "hlx_device", S.CANCELLED, 38, "helix_manager", cancel_from=S.APPROVED,
                 end_reason="ECG recorders sourced locally by the site instead"),
)  # fmt: skip

# The main road through the lifecycle, each step with the state it leaves the shipment in.
ROAD = (
    ("submit", S.PERMIT_COLLECTION),
    ("submit_dossier", S.DOSSIER_REVIEW),
    ("approve", S.APPROVED),
    ("clear_export", S.EXPORT_CLEARED),
    ("dispatch", S.IN_TRANSIT),
    ("arrive", S.CUSTOMS_CLEARANCE),
    ("clear", S.CLEARED),
    ("out_for_delivery", S.OUT_FOR_DELIVERY),
    ("deliver", S.DELIVERED),
)
ORDER = [S.DRAFT] + [state for _, state in ROAD]


# --- Building ----------------------------------------------------------------------------------------


def _model_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for label in SEEDED_APPS
        for model in apps.get_app_config(label).get_models()
    }


def _explain(exc: Exception) -> str:
    if isinstance(exc, DemoDataError):
        return str(exc)
    if isinstance(exc, DomainError):
        return "; ".join(exc.reasons)
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.message_dict.items())
        return "; ".join(exc.messages)
    return f"{exc.__class__.__name__}: {exc}"


def seed_demo(*, stdout=None) -> dict[str, int]:
    """Create whatever part of the demo data is missing; return how many rows of each model were created."""
    before = _model_counts()
    today = timezone.localdate()
    _seed_countries(stdout)
    try:
        with transaction.atomic():
            orgs = _seed_parties(today)
            users = _seed_users(orgs)
            _seed_second_factors(users)
            sites = _seed_trials(orgs)
    except (ValidationError, DomainError, IntegrityError) as exc:
        raise DemoDataError(f"reference data: {_explain(exc)}") from exc
    _require_country_data(sites)
    builder = _ShipmentBuilder(orgs=orgs, users=users, sites=sites, today=today, stdout=stdout)
    for number, plan in enumerate(PLANS, start=1):
        builder.build(plan, number)
    after = _model_counts()
    return {label: after[label] - before.get(label, 0) for label in after}


def _seed_parties(today: date) -> dict[str, Organization]:
    orgs = {}
    for spec in ORGANIZATIONS:
        org, _ = Organization.objects.get_or_create(
            name=spec.name,
            defaults={
                "legal_name": spec.legal_name,
                "country": spec.country,
                "registration_number": spec.registration_number,
                "website": spec.website,
            },
        )
        orgs[spec.key] = org
        for role in spec.roles:
            OrganizationRole.objects.get_or_create(organization=org, role=role)
        for label, line1, city, region, postal_code, country in spec.addresses:
            Address.objects.get_or_create(
                organization=org,
                label=label,
                defaults={
                    "line1": line1,
                    "city": city,
                    "region": region,
                    "postal_code": postal_code,
                    "country": country,
                },
            )
        for name, function, email, phone in spec.contacts:
            Contact.objects.get_or_create(
                organization=org, name=name, defaults={"function": function, "email": email, "phone": phone}
            )
        for licence_type, number, authority, country in spec.licences:
            Licence.objects.get_or_create(
                issuing_authority=authority,
                number=number,
                defaults={
                    "organization": org,
                    "licence_type": licence_type,
                    "country": country,
                    "valid_from": today - timedelta(days=400),
                    "valid_until": today + timedelta(days=3 * 365),
                },
            )
    for sponsor, cro in AUTHORISATIONS:
        SponsorAuthorisation.objects.get_or_create(
            sponsor=orgs[sponsor], cro=orgs[cro], defaults={"valid_from": today - timedelta(days=200)}
        )
    return orgs


def _seed_users(orgs: dict[str, Organization]) -> dict[str, User]:
    by_name = {org.name: org for org in orgs.values()}
    users = {}
    # One slow hash per password, not per user: the accounts share a published password, so a shared salt
    # reveals nothing, and hashing thirteen times would take seconds.
    hashes: dict[str, str] = {}
    for login in DEMO_LOGINS:
        user, created = User.objects.get_or_create(
            username=login.username,
            defaults={
                "first_name": login.full_name.split(" ", 1)[0],
                "last_name": login.full_name.split(" ", 1)[1],
                "email": login.email,
                "organization": by_name.get(login.organization),
                "time_zone": login.time_zone,
                "is_staff": login.is_superuser,
                "is_superuser": login.is_superuser,
            },
        )
        if created:
            validate_password(login.password, user)
            if login.password not in hashes:
                hashes[login.password] = make_password(login.password)
            user.password = hashes[login.password]
            user.save(update_fields=["password"])
        for role in login.roles:
            Membership.objects.get_or_create(user=user, role=role)
        users[login.username] = user
    return users


def _seed_countries(stdout) -> None:
    try:
        report = load_regulatory_data()
    except DataError as exc:
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        raise DemoDataError(f"regulatory data: {exc.problems[0]}{more}") from exc
    if stdout is not None and report.changed:
        stdout.write(
            f"Regulatory data: {report.countries_created} countries added, {report.countries_updated} updated; "
            f"{report.requirements_created} requirements added, {report.requirements_revised} revised, "
            f"{report.requirements_retired} retired"
        )


def _require_country_data(sites: dict[str, Site]) -> None:
    # Without a profile a route has an empty checklist: the demo would show shipments that skip every document.
    used = {site.country for site in sites.values()} | {_depot(site.trial.sponsor).country for site in sites.values()}
    missing = sorted(used - set(CountryProfile.objects.filter(country__in=used).values_list("country", flat=True)))
    if missing:
        raise DemoDataError(f"no regulatory data for {', '.join(missing)}: add compliance/data/countries files")


def _depot(sponsor: Organization) -> Address:
    return sponsor.addresses.exclude(label="Head office").order_by("id").first() or sponsor.addresses.first()


def _seed_trials(orgs: dict[str, Organization]) -> dict[str, Site]:
    trials = {}
    for spec in TRIALS:
        trial, _ = Trial.objects.get_or_create(
            protocol_number=spec["protocol_number"],
            defaults={**{k: v for k, v in spec.items() if k != "sponsor"}, "sponsor": orgs[spec["sponsor"]]},
        )
        trials[trial.protocol_number] = trial
    sites = {}
    for key, (protocol, number, consignee, investigator) in SITES.items():
        org = orgs[consignee]
        address = org.addresses.order_by("id").first()
        site, _ = Site.objects.get_or_create(
            trial=trials[protocol],
            site_number=number,
            defaults={
                "organization": org,
                "name": org.name,
                "principal_investigator": investigator,
                "address": f"{org.name}, {address.label}, {address.one_line()}",
                "country": address.country,
            },
        )
        sites[key] = site
    return sites


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing `lines`: enough for a viewer to open and for the checklist to hash."""

    def escape(text: str) -> str:
        text = text.encode("latin-1", "replace").decode("latin-1")
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = "\n".join(f"({escape(line)}) Tj T*" for line in lines)
    stream = f"BT /F1 11 Tf 16 TL 60 780 Td\n{text}\nET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _air_waybill(number: int) -> str:
    # IATA air waybill: airline prefix, seven-digit serial and a check digit (serial mod 7).
    prefix = ("020", "176", "057", "001")[number % 4]
    serial = 4_200_000 + number * 7_919
    return f"{prefix}-{serial:07d}{serial % 7}"


def _customs_entry(country: str, number: int, today: date) -> str:
    kinds = {"BR": "DUIMP", "IN": "BE", "MX": "Pedimento", "KR": "Import declaration"}
    return f"{kinds.get(country, 'Entry')} {today:%y}{country}{100_000 + number * 37:07d}"


class _ShipmentBuilder:
    def __init__(self, *, orgs, users, sites, today: date, stdout) -> None:
        self.orgs = orgs
        self.users = users
        self.sites = sites
        self.today = today
        self.stdout = stdout
        self.stored_files: list[str] = []
        self.returns: list[Shipment] = []
        self.step = ""
        self.depots: dict[int, Address] = {}
        # (country, side, permit type) -> {requirement title: (product categories, validity days)}
        self.permit_forms: dict[tuple[str, str, str], dict[str, tuple[set[str], int | None]]] = {}
        # (trial, permit type, country, side, requirement title) -> permit
        self.permits: dict[tuple[int, str, str, str, str], Permit] = {}
        # checklist document -> the permits that cover its shipment's goods, quoted on the uploaded copy
        self.document_permits: dict[int, list[Permit]] = {}

    def say(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message)

    def build(self, plan: ShipmentPlan, number: int) -> None:
        if Shipment.objects.filter(reference=plan.reference).exists():
            return
        self.stored_files = []
        self.returns = []
        self.step = "create"
        try:
            # One transaction per shipment: a refusal half-way leaves no half-built shipment behind.
            with transaction.atomic():
                shipment = self._drive(plan, number)
        except Exception as exc:
            for name in self.stored_files:
                default_storage.delete(name)
            raise DemoDataError(f"{plan.reference}: {self.step} refused: {_explain(exc)}") from exc
        self.say(
            f"{shipment.reference}  {shipment.trial.protocol_number}  "
            f"{shipment.origin_country}→{shipment.destination_country}  {shipment.get_status_display()}"
        )
        for returned in self.returns:
            self.say(f"{returned.reference}  return of {shipment.reference}  {returned.get_status_display()}")

    # Who does what ---------------------------------------------------------------------------------

    def member(self, org_id: int | None, *roles: str) -> User | None:
        for user in self.users.values():
            if user.organization_id and user.organization_id == org_id and user.has_member_role(*roles):
                return user
        return None

    def required(self, org_id: int | None, *roles: str) -> User:
        user = self.member(org_id, *roles)
        if user is None:
            org = Organization.objects.filter(pk=org_id).first()
            raise DemoDataError(f"no demo user holds {' or '.join(roles)} at {org or 'an unassigned party'}")
        return user

    def actor_for(self, step: str, shipment: Shipment, number: int, creator: User) -> User:
        staff = (R.EDITOR, R.REVIEWER, R.MANAGER)
        if step in {"submit", "submit_dossier", "cancel"}:
            return creator
        if step in {"approve", "reject", "review"}:
            return self.required(shipment.ior_id, R.REVIEWER)
        if step == "clear_export":
            return self.required(shipment.eor_id, *staff)
        if step == "dispatch":
            party = shipment.courier_id if number % 2 else shipment.eor_id
            return self.required(party, *staff)
        if step == "arrive":
            party = shipment.courier_id if number % 3 else shipment.ior_id
            return self.member(party, *staff) or self.required(shipment.ior_id, *staff)
        if step == "out_for_delivery":
            return self.member(shipment.courier_id, *staff) or self.required(shipment.ior_id, *staff)
        if step in {"hold", "release", "clear"}:
            return self.member(shipment.broker_id, *staff) or self.required(shipment.ior_id, *staff)
        if step == "deliver":
            return self.required(shipment.consignee_id, *staff)
        if step == "return_to_origin":
            return self.member(shipment.ior_id, R.MANAGER) or self.required(shipment.ior_id, R.REVIEWER)
        if step == "destroy":
            return self.required(shipment.ior_id, R.MANAGER)
        raise ValueError(f"no actor for {step}")

    def uploader_for(self, document: Document, shipment: Shipment, creator: User) -> User:
        if document.owed_by_role in {P.SPONSOR, P.CRO}:
            return creator
        staff = (R.EDITOR, R.REVIEWER, R.MANAGER)
        return self.member(document.owed_by_id, *staff) or self.required(shipment.ior_id, *staff)

    def depot(self, trial: Trial) -> Address:
        if trial.sponsor_id not in self.depots:
            self.depots[trial.sponsor_id] = _depot(trial.sponsor)
        return self.depots[trial.sponsor_id]

    # Permits ----------------------------------------------------------------------------------------

    def forms_of(self, country: str, side: str, permit_type: str) -> dict[str, tuple[set[str], int | None]]:
        """The distinct authorisations a country issues under one permit type (India's CT-17 for drugs and MD-17
        for devices are both test licences), each with the product categories it covers."""
        key = (country, side, permit_type)
        if key not in self.permit_forms:
            forms: dict[str, tuple[set[str], int | None]] = {}
            for req in DocumentRequirement.objects.filter(
                country__country=country, direction=side, document_type=permit_type, is_active=True
            ):
                covers, validity = forms.get(req.display_title, (set(), None))
                covers.add(req.product_category)
                forms[req.display_title] = (covers, validity or req.validity_days)
            self.permit_forms[key] = forms
        return self.permit_forms[key]

    def ensure_permits(self, shipment: Shipment) -> None:
        """Record the permits the shipment's checklist names, as their holders would have obtained them for the
        trial ahead of its first shipment: one per authorisation, covering every product the demo ships under it."""
        categories = set(shipment.items.values_list("category", flat=True))
        for document in shipment.documents.filter(document_type__in=PERMIT_TYPES).select_related("owed_by"):
            country = (
                shipment.destination_country if document.side == TradeDirection.IMPORT else shipment.origin_country
            )
            self.document_permits[document.pk] = [
                self.permit(shipment, document, country, title, covers, validity)
                for title, (covers, validity) in self.forms_of(country, document.side, document.document_type).items()
                if covers & categories
            ]

    def permit(self, shipment, document, country, title, covers, validity) -> Permit:
        key = (shipment.trial_id, document.document_type, country, document.side, title)
        if key in self.permits:
            return self.permits[key]
        trial = shipment.trial
        profile = CountryProfile.objects.get(country=country)
        authority = profile.regulatory_authority_acronym or profile.regulatory_authority
        valid_from = self.today - timedelta(days=120)
        # Where the source gives no validity, two years: long enough for every demo ship date.
        valid_until = valid_from + timedelta(days=(validity or 730) - 1)
        number = _permit_number(country, document.document_type, covers, valid_from, f"{trial.protocol_number}|{title}")
        self.step = f"record {document.document_type} {number}"
        permit, _ = Permit.objects.get_or_create(
            authority=authority,
            number=number,
            defaults={
                "permit_type": document.document_type,
                "holder": document.owed_by or shipment.ior,
                "trial": trial,
                "country": country,
                "direction": document.side,
                "valid_from": valid_from,
                "valid_until": valid_until,
                "notes": f"{title}. {DEMO_NOTE}",
            },
        )
        for (product, unit), quantity in self.authorised(trial, document.document_type, country, document.side, covers):
            PermitLine.objects.get_or_create(
                permit=permit, product_name=product, defaults={"authorised_quantity": quantity, "unit": unit}
            )
        self.permits[key] = permit
        return permit

    def authorised(self, trial: Trial, permit_type: str, country: str, side: str, covers: set[str]):
        totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for number, plan in enumerate(PLANS, start=1):
            site = self.sites[plan.site]
            there = site.country if side == TradeDirection.IMPORT else self.depot(site.trial).country
            if site.trial_id != trial.pk or there != country:
                continue
            for item in _goods(plan.goods, self.today, number)[1]:
                if item["category"] in covers:
                    totals[(item["product_name"], item["unit"])] += item["quantity"]
        scarce = NEARLY_EXHAUSTED.get((trial.protocol_number, country, permit_type), {})
        return [(key, scarce.get(key[0]) or _generous(total)) for key, total in sorted(totals.items())]

    # The road ---------------------------------------------------------------------------------------

    def _drive(self, plan: ShipmentPlan, number: int) -> Shipment:
        site = self.sites[plan.site]
        trial = site.trial
        creator = self.users[plan.creator]
        ship_date = self.today + timedelta(days=plan.days_ahead)
        temperature, items = _goods(plan.goods, ship_date, number)
        depot = self.depot(trial)
        ior = self.orgs[IOR_FOR[site.country]]
        shipment = services.shipment_create(
            actor=creator,
            trial=trial,
            reference=plan.reference,
            items=items,
            site=site,
            ior=ior,
            eor=self.orgs["eor"],
            consignee=site.organization,
            broker=self.orgs[BROKER_FOR[site.country]] if site.country in BROKER_FOR else None,
            courier=self.orgs["courier"],
            origin_country=depot.country,
            origin_address=f"{trial.sponsor.legal_name}, {depot.label}, {depot.one_line()}",
            destination_country=site.country,
            destination_address=site.address,
            temperature_class=temperature,
            planned_ship_date=ship_date,
            required_at_site_date=ship_date + timedelta(days=7),
            incoterm="DDP" if site.country in {"BR", "IN"} else "DAP",
            declared_value=sum((i["quantity"] * i["unit_value"] for i in items), Decimal(0)),
            currency="USD" if trial.sponsor.country == "US" else "EUR",
            duties_payer="ior",
        )
        if plan.target == S.CANCELLED:
            shipment = self._advance(shipment, plan, number, creator, until=plan.cancel_from)
            self.step = "cancel"
            return services.shipment_cancel(actor=creator, shipment=shipment, reason=plan.end_reason)
        if plan.target in {S.CUSTOMS_HOLD, S.RETURNED, S.DESTROYED}:
            shipment = self._advance(shipment, plan, number, creator, until=S.CUSTOMS_CLEARANCE)
            shipment = self._fire("hold", shipment, number, creator, reason=plan.hold_reason)
            if plan.target == S.CUSTOMS_HOLD:
                return shipment
            name = "return_to_origin" if plan.target == S.RETURNED else "destroy"
            return self._fire(name, shipment, number, creator, reason=plan.end_reason)
        shipment = self._advance(shipment, plan, number, creator, until=plan.target)
        for return_creator, final_state, days in plan.returns:
            self._return(shipment, self.users[return_creator], final_state, days, number)
        return shipment

    def _fire(self, name: str, shipment: Shipment, number: int, creator: User, **kwargs) -> Shipment:
        self.step = name
        actor = self.actor_for(name, shipment, number, creator)
        self.step = f"{name} as {actor.username}"
        if name == "approve":
            # Approval is an electronic signature: the reviewer re-enters the (published) demo password.
            kwargs["password"] = LOGIN_PASSWORDS[actor.username]
            kwargs["comment"] = "Dossier reviewed: documents approved, permits and declared value agree."
        return services.TRANSITION_SERVICES[name](actor=actor, shipment=shipment, **kwargs)

    def _advance(self, shipment: Shipment, plan: ShipmentPlan, number: int, creator: User, *, until: str) -> Shipment:
        for name, reached in ROAD:
            if name == "approve" and shipment.status == S.DOSSIER_REVIEW:
                self._review(shipment, number, creator, everything=until != S.DOSSIER_REVIEW)
            if name == "submit_dossier" and shipment.status == S.PERMIT_COLLECTION:
                # Before the stop check: a shipment that stays in permit collection still gets part of its
                # documents (or its rejection round). Fires submit_dossier itself where the plan goes further.
                shipment = self._collect_documents(shipment, plan, number, creator, until)
                continue
            if ORDER.index(shipment.status) >= ORDER.index(until):
                break
            kwargs = {}
            if name == "dispatch":
                kwargs["airway_bill"] = _air_waybill(number)
            elif name == "clear":
                if plan.hold_then_release:
                    shipment = self._fire("hold", shipment, number, creator, reason=plan.hold_reason)
                    shipment = self._fire("release", shipment, number, creator, reason="Query answered; released")
                kwargs["customs_entry_number"] = _customs_entry(shipment.destination_country, number, self.today)
            elif name == "deliver" and shipment.temperature_class in LOGGED_CLASSES:
                self._file_logger_record(shipment, number, creator)
            shipment = self._fire(name, shipment, number, creator, **kwargs)
            if shipment.status != reached:
                raise DemoDataError(f"{name} left the shipment {shipment.status}, not {reached}")
            self._track(name, shipment)
        return shipment

    def _track(self, step: str, shipment: Shipment) -> None:
        """The courier's system reports its scans as the goods move (through the API in real life, with its own
        event ids), so the timeline shows them between the transitions."""
        origin = AIRPORTS.get(shipment.origin_country, shipment.origin_country_name)
        if shipment.return_of_id is None:
            depot = self.depot(shipment.trial)
            pickup, collected = f"{depot.label}, {depot.city}", "Collected from the depot"
        else:
            # A return is collected from the site that received the outbound goods.
            outbound = shipment.return_of
            pickup, collected = (outbound.site.name if outbound.site_id else origin), "Collected from the site"
        destination = AIRPORTS.get(shipment.destination_country, shipment.destination_country_name)
        scans = {
            "dispatch": [
                (T.PICKED_UP, pickup, shipment.origin_country, collected),
                (T.DEPARTED, origin, shipment.origin_country, f"Departed on air waybill {shipment.airway_bill}"),
            ],
            "arrive": [
                (T.ARRIVED, destination, shipment.destination_country, "Arrived at the destination airport"),
                (T.IN_CUSTOMS, destination, shipment.destination_country, "Handed to the bonded warehouse for customs"),
            ],
            "clear": [(T.CUSTOMS_RELEASED, destination, shipment.destination_country, "Released by customs")],
            "out_for_delivery": [
                (T.OUT_FOR_DELIVERY, destination, shipment.destination_country, "On the van to the site")
            ],
        }.get(step, [])
        courier_user = self.member(shipment.courier_id, R.EDITOR, R.MANAGER)
        if not scans or courier_user is None:
            return
        for code, location, country, description in scans:
            self.step = f"record tracking event {code} as {courier_user.username}"
            tracking_event_record(
                actor=courier_user,
                shipment=shipment,
                occurred_at=timezone.now(),
                code=code,
                location=location,
                country=country,
                description=description,
                external_id=f"KC-{shipment.reference}-{code}",
                via=RecordedVia.API,
            )

    def _file_logger_record(self, shipment: Shipment, number: int, creator: User) -> None:
        """The site reads the shipment's data logger on arrival and files its export (cold goods are delivered with
        their temperature record): a clean trace inside the class's range (_logger_csv)."""
        site_user = self.actor_for("deliver", shipment, number, creator)
        self.step = f"file the logger record as {site_user.username}"
        log = temperature_log_import(
            actor=site_user,
            shipment=shipment,
            logger_serial=f"TL-{number:05d}",
            uploaded_file=SimpleUploadedFile(f"TL-{number:05d}.csv", _logger_csv(shipment, number)),
        )
        if log.file:
            self.stored_files.append(log.file.name)

    def _collect_documents(
        self, shipment: Shipment, plan: ShipmentPlan, number: int, creator: User, until: str
    ) -> Shipment:
        """Upload the checklist, submit the dossier, and play out a rejection first where the plan has one.
        A shipment that stays in permit collection gets only part of its documents."""
        documents = list(shipment.documents.order_by("side", "due_date", "document_type"))
        unowned = [d for d in documents if d.owed_by_id is None]
        if unowned:
            owed = ", ".join(f"{d.label} (owed by the {d.get_owed_by_role_display().lower()})" for d in unowned)
            raise DemoDataError(f"nobody is assigned to provide {owed}")
        self.step = "record permits"
        self.ensure_permits(shipment)
        if until == S.PERMIT_COLLECTION and not plan.rejected_once:
            for document in documents[: len(documents) // 2]:
                self._upload(document, shipment, creator)
            return shipment
        for document in documents:
            self._upload(document, shipment, creator)
        shipment = self._fire("submit_dossier", shipment, number, creator)
        if plan.rejected_once and documents:
            rejected = documents[0]
            reviewer = self.actor_for("review", shipment, number, creator)
            self.step = f"review {rejected.document_type} as {reviewer.username}"
            document_review(
                actor=reviewer,
                version=rejected.versions.order_by("-number").first(),
                decision=ReviewDecision.REJECTED,
                comment="Lot numbers do not match the commercial invoice; please upload a corrected version.",
            )
            shipment = self._fire(
                "reject", shipment, number, creator, reason=f"{rejected.label} rejected: lot numbers do not match"
            )
            if until == S.PERMIT_COLLECTION:
                return shipment
            self._upload(rejected, shipment, creator, version=2)
            shipment = self._fire("submit_dossier", shipment, number, creator)
        return shipment

    def _upload(self, document: Document, shipment: Shipment, creator: User, version: int = 1) -> None:
        # Fresh from the database: the service reads the shipment's current state through the document.
        document = Document.objects.select_related("shipment").get(pk=document.pk)
        self.step = f"upload {document.document_type}"
        actor = self.uploader_for(document, shipment, creator)
        self.step = f"upload {document.document_type} as {actor.username}"
        label = document.get_document_type_display()
        owner = document.owed_by or actor.organization
        lines = [
            f"{label} - {shipment.reference} (version {version})",
            f"Trial {shipment.trial.protocol_number}, {shipment.origin_country} to {shipment.destination_country}",
            f"Provided by {owner} for the {document.get_side_display().lower()} side",
        ]
        if actor.organization_id != owner.pk:
            lines.append(f"Uploaded on its behalf by {actor.organization}")
        lines += [
            f"{p.authority} no. {p.number}, valid {p.valid_from:%Y-%m-%d} to {p.valid_until:%Y-%m-%d}"
            for p in self.document_permits.get(document.pk, [])
        ]
        lines.append("DEMO DOCUMENT generated by seed_demo - not a real regulatory document")
        content = _pdf(lines)
        uploaded = SimpleUploadedFile(
            f"{shipment.reference}-{document.document_type}-v{version}.pdf", content, content_type="application/pdf"
        )
        stored = document_version_upload(actor=actor, document=document, uploaded_file=uploaded)
        self.stored_files.append(stored.file.name)

    def _review(self, shipment: Shipment, number: int, creator: User, *, everything: bool) -> None:
        """The IOR reviewer approves the newest version of each document (only the first half of them where
        the dossier is still under review)."""
        reviewer = self.actor_for("review", shipment, number, creator)
        documents = list(shipment.documents.exclude(status=DocumentStatus.APPROVED).order_by("side", "document_type"))
        if not everything:
            documents = documents[: len(documents) // 2]
        for document in documents:
            self.step = f"review {document.document_type} as {reviewer.username}"
            newest = DocumentVersion.objects.filter(document=document).order_by("-number").first()
            document_review(actor=reviewer, version=newest, decision=ReviewDecision.APPROVED, comment="Checked.")

    def _return(self, shipment: Shipment, actor: User, final_state: str, days: int, number: int) -> None:
        self.step = f"create_return as {actor.username}"
        returned = services.shipment_create_return(
            actor=actor,
            shipment=shipment,
            planned_ship_date=self.today + timedelta(days=days),
            reason="Unused kits recalled to the depot for relabelling with the extended expiry date",
        )
        if final_state != S.DRAFT:
            sponsor_editor = self.required(returned.sponsor_id, R.EDITOR, R.MANAGER)
            plan = ShipmentPlan(returned.reference, "", "", final_state, days, sponsor_editor.username)
            returned = self._advance(returned, plan, number, sponsor_editor, until=final_state)
        self.returns.append(returned)


def _logger_csv(shipment: Shipment, number: int) -> bytes:
    """A logger export of the kind sites file on arrival: a header line, then a reading every 10 minutes over the
    journey (the demo's transitions all happen at seeding, so it is drawn as the three days before now), wandering
    gently around the middle of the shipment's range."""
    band = shipment.temperature_range
    low = band.low if band.low is not None else band.high - 20
    high = band.high if band.high is not None else band.low + 20
    middle, swing = (low + high) / 2, (high - low) / 6
    end = timezone.now()
    start = end - timedelta(days=3)
    lines = ["Timestamp (UTC),Temperature (°C)"]
    moment, step = start, 0
    while moment <= end:
        # A slow daily swing with a little ripple, the same at every seeding.
        wobble = 0.8 * math.sin(2 * math.pi * step / 144 + number) + 0.1 * math.sin(step * 1.7)
        lines.append(f"{moment:%Y-%m-%dT%H:%M:%SZ},{middle + swing * wobble:.2f}")
        moment += timedelta(minutes=10)
        step += 1
    return ("\n".join(lines) + "\n").encode()
