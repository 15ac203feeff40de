"""What an upload must be before it is stored (its type read from its bytes, whole, within the size cap), and the
check of the stored bytes against their record before they are handed out again."""

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfWriter

from documents import uploads
from documents.choices import DocumentStatus
from documents.models import DocumentVersion
from documents.services import DocumentTampered, document_version_open, document_version_upload
from ior_platform.core.models import AuditEvent
from shipments import services
from tests.conftest import pdf_bytes

REFUSED_TYPE = "is not an accepted document type (PDF, PNG, JPEG, DOCX, XLSX)."


def make_image(image_format: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (11, 107, 203)).save(out, format=image_format)
    return out.getvalue()


def make_office(kind: str = "docx", *, macros: bool = False) -> bytes:
    folder, main, part = {
        "docx": ("word", "wordprocessingml.document.main+xml", "document.xml"),
        "xlsx": ("xl", "spreadsheetml.sheet.main+xml", "workbook.xml"),
    }[kind]
    main_type = f"application/vnd.openxmlformats-officedocument.{main}"
    if macros:
        main_type = "application/vnd.ms-word.document.macroEnabled.main+xml"
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{folder}/{part}" ContentType="{main_type}"/></Types>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr(f"{folder}/{part}", "<document/>")
        if macros:
            archive.writestr(f"{folder}/vbaProject.bin", b"\x00" * 32)
    return out.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def media_files(settings) -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.fixture
def permit(world, requirements):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    return shipment.documents.get(document_type="import_permit")


def assert_refused_and_nothing_stored(world, permit, settings, uploaded, message: str) -> None:
    before = media_files(settings)
    with pytest.raises(ValidationError) as refused:
        document_version_upload(actor=world.ivan, document=permit, uploaded_file=uploaded)
    assert refused.value.message_dict == {"file": [message]}
    assert not DocumentVersion.objects.exists()
    assert media_files(settings) == before
    assert not AuditEvent.objects.filter(action="document.version_uploaded").exists()
    permit.refresh_from_db()
    assert permit.status == DocumentStatus.REQUESTED


def test_html_renamed_pdf_is_refused(world, permit, settings):
    html = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
    assert_refused_and_nothing_stored(
        world, permit, settings, upload("permit.pdf", html), f"“permit.pdf” {REFUSED_TYPE}"
    )


def test_empty_file_is_refused(world, permit, settings):
    assert_refused_and_nothing_stored(world, permit, settings, upload("permit.pdf", b""), "“permit.pdf” is empty.")


def test_file_one_byte_over_the_cap_is_refused_and_one_at_the_cap_accepted(world, permit, settings):
    pdf = pdf_bytes()
    settings.DOCUMENT_UPLOAD_MAX_BYTES = len(pdf) - 1
    message = f"“permit.pdf” is larger than {len(pdf) - 1:,} bytes, the limit for one document."
    assert_refused_and_nothing_stored(world, permit, settings, upload("permit.pdf", pdf), message)
    settings.DOCUMENT_UPLOAD_MAX_BYTES = len(pdf)
    assert document_version_upload(actor=world.ivan, document=permit, uploaded_file=upload("permit.pdf", pdf)).size


def test_a_file_that_understates_its_size_is_still_held_to_the_cap(world, permit, settings):
    settings.DOCUMENT_UPLOAD_MAX_BYTES = 100
    lying = upload("permit.pdf", pdf_bytes())
    lying.size = 10
    assert_refused_and_nothing_stored(
        world, permit, settings, lying, "“permit.pdf” is larger than 100 bytes, the limit for one document."
    )


def test_the_cap_reads_in_megabytes(world, permit, settings):
    settings.DOCUMENT_UPLOAD_MAX_BYTES = 25 * 1024 * 1024
    huge = upload("scan.pdf", b"")
    huge.size = 25 * 1024 * 1024 + 1
    assert_refused_and_nothing_stored(
        world, permit, settings, huge, "“scan.pdf” is larger than 25 MB, the limit for one document."
    )


def test_a_path_as_name_is_refused_when_the_content_is_no_document(world, permit, settings):
    passwd = b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    assert_refused_and_nothing_stored(
        world, permit, settings, upload("../../etc/passwd", passwd, "text/plain"), f"“passwd” {REFUSED_TYPE}"
    )
    assert not list(Path(settings.MEDIA_ROOT).parent.rglob("passwd"))


def test_a_path_as_name_of_a_real_document_is_kept_for_display_only(world, permit, settings):
    version = document_version_upload(
        actor=world.ivan, document=permit, uploaded_file=upload("..\\..\\Windows\\System32\\permit.pdf", pdf_bytes())
    )
    assert version.original_name == "permit.pdf"
    stored = Path(version.file.path).resolve()
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    assert "permit" not in version.file.name
    assert version.file.name.startswith(f"documents/{permit.shipment_id}/")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("permit.pdf", pdf_bytes()[:200], "“permit.pdf” is not a readable PDF: it is damaged or incomplete."),
        (
            "permit.pdf",
            b"%PDF-1.4\nnot really a pdf\n%%EOF\n",
            "“permit.pdf” is not a readable PDF: it is damaged or incomplete.",
        ),
        ("scan.png", make_image("PNG")[:-20], "“scan.png” is not a readable PNG image: it is damaged or incomplete."),
        (
            "scan.jpg",
            make_image("JPEG")[:-200],
            "“scan.jpg” is not a readable JPEG image: it is damaged or incomplete.",
        ),
        ("letter.docx", make_office()[:-30], "“letter.docx” is damaged or incomplete and cannot be opened."),
    ],
    ids=["truncated-pdf", "pdf-header-only", "truncated-png", "truncated-jpeg", "truncated-docx"],
)
def test_a_corrupt_document_is_refused(world, permit, settings, name, content, message):
    assert_refused_and_nothing_stored(world, permit, settings, upload(name, content), message)


def test_a_pdf_with_a_flipped_byte_in_its_structure_is_refused(world, permit, settings):
    pdf = bytearray(pdf_bytes())
    pdf[pdf.index(b"/Pages") + 1] ^= 0xFF
    message = "“permit.pdf” is not a readable PDF: it is damaged or incomplete."
    assert_refused_and_nothing_stored(world, permit, settings, upload("permit.pdf", bytes(pdf)), message)


def test_a_password_protected_pdf_is_refused_but_a_merely_restricted_one_accepted(world, permit, settings):
    def encrypted(user_password: str) -> bytes:
        writer = PdfWriter()
        writer.add_blank_page(width=595, height=842)
        writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    message = "“permit.pdf” is protected by a password; upload it without one so it can be reviewed."
    assert_refused_and_nothing_stored(world, permit, settings, upload("permit.pdf", encrypted("open-sesame")), message)
    version = document_version_upload(
        actor=world.ivan, document=permit, uploaded_file=upload("permit.pdf", encrypted(""))
    )
    assert version.content_type == "application/pdf"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "macro.docm",
            make_office(macros=True),
            "“macro.docm” contains macros; save it as a DOCX or XLSX without macros.",
        ),
        (
            "legacy.doc",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512,
            "“legacy.doc” is a legacy Word or Excel file (.doc, .xls) or a password-protected office file; "
            "save it as DOCX or XLSX without a password.",
        ),
        ("archive.docx", b"PK\x03\x04" + b"\x00" * 64, "“archive.docx” is damaged or incomplete and cannot be opened."),
        ("notes.gif", b"GIF89a" + b"\x00" * 32, f"“notes.gif” {REFUSED_TYPE}"),
        ("script.pdf", b"#!/bin/sh\nrm -rf /\n", f"“script.pdf” {REFUSED_TYPE}"),
    ],
    ids=["macro-enabled", "legacy-ole", "broken-zip", "gif", "shell-script"],
)
def test_other_types_are_refused(world, permit, settings, name, content, message):
    assert_refused_and_nothing_stored(world, permit, settings, upload(name, content), message)


def test_a_plain_zip_is_not_an_office_document(world, permit, settings):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")
    assert_refused_and_nothing_stored(
        world, permit, settings, upload("plain.docx", out.getvalue()), f"“plain.docx” {REFUSED_TYPE}"
    )


def test_a_zip_bomb_dressed_as_docx_is_refused(world, permit, settings):
    settings.DOCUMENT_UPLOAD_MAX_BYTES = 64 * 1024
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", make_office_content_types())
        archive.writestr("word/document.xml", b"\x00" * (uploads.UNPACKED_LIMIT_FACTOR * 64 * 1024 + 1))
    message = "“bomb.docx” unpacks to far more data than a genuine office document."
    assert_refused_and_nothing_stored(world, permit, settings, upload("bomb.docx", out.getvalue()), message)


def make_office_content_types() -> bytes:
    with zipfile.ZipFile(io.BytesIO(make_office())) as archive:
        return archive.read("[Content_Types].xml")


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("scan.pdf", make_image("PNG"), "image/png"),
        ("photo.png", make_image("JPEG"), "image/jpeg"),
        ("permit.txt", pdf_bytes(), "application/pdf"),
        ("letter.pdf", make_office("docx"), uploads.DOCX),
        ("packing list", make_office("xlsx"), uploads.XLSX),
    ],
    ids=["png-named-pdf", "jpeg-named-png", "pdf-named-txt", "docx-named-pdf", "xlsx-without-extension"],
)
def test_accepted_types_are_stored_with_the_content_type_of_their_bytes(world, permit, name, content, content_type):
    version = document_version_upload(
        actor=world.ivan, document=permit, uploaded_file=upload(name, content, "text/html")
    )
    assert version.content_type == content_type
    assert version.original_name == name
    assert version.size == len(content)
    assert version.sha256 == hashlib.sha256(content).hexdigest()
    with version.file.open("rb") as stored:
        assert stored.read() == content
    event = AuditEvent.objects.get(action="document.version_uploaded")
    assert event.changes["content_type"] == [None, content_type]
    assert event.changes["sha256"] == [None, version.sha256]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\fakepath\\scan.png", "scan.png"),
        ("a\x00b\r\nc.pdf", "abc.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("  two   spaces .pdf ", "two spaces .pdf"),
        ("", "document"),
        (None, "document"),
        ("..", "document"),
        ("dir/", "document"),
        ("\x07\x08", "document"),
    ],
)
def test_display_name_is_the_last_component_without_control_characters(raw, shown):
    assert uploads.display_name(raw) == shown


def test_display_name_is_shortened_keeping_its_extension():
    name = uploads.display_name("x" * 400 + ".pdf")
    assert len(name) == uploads.NAME_MAX_LENGTH
    assert name.endswith("x.pdf")


@pytest.mark.parametrize(
    ("name", "content_type", "offered"),
    [
        ("scan.pdf", uploads.PNG, "scan.pdf.png"),
        ("photo.JPEG", uploads.JPEG, "photo.JPEG"),
        ("packing list", uploads.XLSX, "packing list.xlsx"),
        ("y" * 255, uploads.PDF, "y" * 251 + ".pdf"),
        ("legacy.txt", "text/plain", "legacy.txt"),
    ],
)
def test_download_name_carries_the_extension_of_the_bytes(name, content_type, offered):
    assert uploads.download_name(name, content_type) == offered


def test_inspection_leaves_the_file_at_its_start(settings):
    content = make_image("PNG")
    uploaded = upload("scan.png", content)
    inspected = uploads.inspect_upload(uploaded, name="scan.png", max_bytes=settings.DOCUMENT_UPLOAD_MAX_BYTES)
    assert inspected == uploads.Inspected(
        content_type="image/png", size=len(content), sha256=hashlib.sha256(content).hexdigest()
    )
    assert uploaded.tell() == 0
    assert not uploaded.closed


@pytest.fixture
def stored(world, permit):
    return document_version_upload(actor=world.ivan, document=permit, uploaded_file=upload("permit.pdf", pdf_bytes()))


def test_open_hands_out_exactly_the_stored_bytes(world, stored):
    file, content_type, filename = document_version_open(user=world.rita, version=stored)
    with file:
        assert file.read() == pdf_bytes()
    assert (content_type, filename) == ("application/pdf", "permit.pdf")


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda data: data[:100] + bytes([data[100] ^ 1]) + data[101:], "the stored file's SHA-256 differs"),
        (lambda data: data[:-1], "the stored file is not"),
        (lambda data: data + b"\n% appended", "the stored file is not"),
    ],
    ids=["flipped-byte", "truncated", "appended"],
)
def test_open_refuses_a_stored_file_that_changed_and_records_it(world, stored, damage, problem):
    path = Path(stored.file.path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DocumentTampered, match=problem):
        document_version_open(user=world.alice, version=stored)
    event = AuditEvent.objects.get(action="document.integrity_failure")
    assert event.shipment_id == stored.document.shipment_id
    assert event.actor == world.alice
    assert event.changes["sha256"][0] == stored.sha256
    assert problem in event.reason


def test_open_refuses_a_missing_stored_file(world, stored):
    Path(stored.file.path).unlink()
    with pytest.raises(DocumentTampered, match="the stored file is missing"):
        document_version_open(user=world.ivan, version=stored)
    assert AuditEvent.objects.get(action="document.integrity_failure").changes["size"] == [stored.size, None]


def test_open_is_only_for_those_who_see_the_shipment(world, stored):
    with pytest.raises(DocumentVersion.DoesNotExist):
        document_version_open(user=world.charlie, version=stored)
