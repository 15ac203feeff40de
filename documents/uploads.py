"""Checks on an uploaded document before anything is stored: what it is, read from its bytes (its name and the
browser's content type are the sender's claims), whether it is complete, and how big it is."""

import hashlib
import re
import unicodedata
import zipfile
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from PIL import Image
from pypdf import PdfReader

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACCEPTED_LABEL = "PDF, PNG, JPEG, DOCX, XLSX"
EXTENSIONS = {PDF: (".pdf",), PNG: (".png",), JPEG: (".jpg", ".jpeg"), DOCX: (".docx",), XLSX: (".xlsx",)}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
ZIP_SIGNATURE = b"PK\x03\x04"
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

DOCX_MAIN_PART = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
XLSX_MAIN_PART = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CONTENT_TYPES_MAX_BYTES = 1024 * 1024
# A genuine office file within the upload limit unpacks to far less than this many times that limit; more is a
# ZIP bomb, whose check alone would keep a worker busy for minutes.
UNPACKED_LIMIT_FACTOR = 40

NAME_MAX_LENGTH = 255
# Control and format characters (bidi overrides, zero-width marks) let a name pose as another:
# "invoice<U+202E>fdp.exe" shows as "invoiceexe.pdf".
HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co"}

CHUNK_SIZE = 64 * 1024


@dataclass(frozen=True)
class Inspected:
    content_type: str
    size: int
    sha256: str


def display_name(raw: str | None) -> str:
    """The uploader's file name made safe to show and to offer as a download name. Never used as a path."""
    name = re.split(r"[/\\]", unicodedata.normalize("NFC", raw or ""))[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in HIDDEN_CATEGORIES)
    name = " ".join(name.split())
    if not name.strip(". "):
        return "document"
    if len(name) > NAME_MAX_LENGTH:
        stem, dot, suffix = name.rpartition(".")
        if dot and stem and len(suffix) <= 16:
            name = f"{stem[: NAME_MAX_LENGTH - len(suffix) - 1]}.{suffix}"
        else:
            name = name[:NAME_MAX_LENGTH]
    return name


def download_name(name: str, content_type: str) -> str:
    """`name` with the extension of what the file really is: the extension, not the content type, decides which
    program the uploader's colleague opens it with, so a PNG sent as "scan.pdf" is offered as "scan.pdf.png"."""
    extensions = EXTENSIONS.get(content_type)
    if not extensions or name.lower().endswith(extensions):
        return name
    return display_name(name + extensions[0])


def size_label(size: int) -> str:
    mib = 1024 * 1024
    return f"{size / mib:g} MB" if size >= mib else f"{size:,} bytes"


def inspect_upload(uploaded_file, *, name: str, max_bytes: int) -> Inspected:
    """Size, SHA-256 and sniffed content type of `uploaded_file`, or a ValidationError on "file" that says what is
    wrong with it. `name` is the display name, used only in messages."""
    too_large = _refused(f"{_quoted(name)} is larger than {size_label(max_bytes)}, the limit for one document.")
    declared = getattr(uploaded_file, "size", None)
    if declared is not None and declared > max_bytes:
        raise too_large
    digest = hashlib.sha256()
    size = 0
    # The declared size is the sender's word; counting the bytes is what holds the limit.
    for chunk in uploaded_file.chunks(CHUNK_SIZE):
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        digest.update(chunk)
    if size == 0:
        raise _refused(f"{_quoted(name)} is empty.")
    uploaded_file.seek(0)
    try:
        content_type = _sniff(uploaded_file, name, max_bytes)
    finally:
        uploaded_file.seek(0)
    return Inspected(content_type=content_type, size=size, sha256=digest.hexdigest())


def _quoted(name: str) -> str:
    return f"“{name}”"


def _refused(message: str) -> ValidationError:
    return ValidationError({"file": message})


def _sniff(file, name: str, max_bytes: int) -> str:
    head = file.read(len(PNG_SIGNATURE))
    file.seek(0)
    if head.startswith(b"%PDF-"):
        _check_pdf(file, name)
        return PDF
    if head.startswith(PNG_SIGNATURE):
        _check_image(file, name, "PNG")
        return PNG
    if head.startswith(JPEG_SIGNATURE):
        _check_image(file, name, "JPEG")
        return JPEG
    if head.startswith(ZIP_SIGNATURE):
        return _check_office(file, name, max_bytes)
    if head.startswith(OLE_SIGNATURE):
        raise _refused(
            f"{_quoted(name)} is a legacy Word or Excel file (.doc, .xls) or a password-protected office file; "
            "save it as DOCX or XLSX without a password."
        )
    raise _not_accepted(name)


def _not_accepted(name: str) -> ValidationError:
    return _refused(f"{_quoted(name)} is not an accepted document type ({ACCEPTED_LABEL}).")


def _check_pdf(file, name: str) -> None:
    # Pages are what a reviewer reads: a PDF whose page tree cannot be found is as unreadable as a truncated one.
    damaged = _refused(f"{_quoted(name)} is not a readable PDF: it is damaged or incomplete.")
    # A parser fed hostile bytes can fail in any way; each failure means the same to the uploader.
    try:
        reader = PdfReader(file, strict=False)
        locked = reader.is_encrypted and not _opens_without_password(reader)
        pages = 0 if locked else len(reader.pages)
    except Exception as exc:
        raise damaged from exc
    if locked:
        raise _refused(f"{_quoted(name)} is protected by a password; upload it without one so it can be reviewed.")
    if not pages:
        raise damaged


def _opens_without_password(reader: PdfReader) -> bool:
    try:
        return bool(reader.decrypt(""))
    except Exception:
        return False


def _check_image(file, name: str, image_format: str) -> None:
    try:
        with Image.open(file, formats=[image_format]) as image:
            image.verify()
        if image_format == "JPEG":
            # Pillow's verify() checks nothing in a JPEG; decoding at 1/8 scale finds truncation for 1/64 of the
            # memory a full decode would take.
            file.seek(0)
            with Image.open(file, formats=[image_format]) as image:
                image.draft(None, (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
    except Exception as exc:
        raise _refused(f"{_quoted(name)} is not a readable {image_format} image: it is damaged or incomplete.") from exc


def _check_office(file, name: str, max_bytes: int) -> str:
    damaged = _refused(f"{_quoted(name)} is damaged or incomplete and cannot be opened.")
    macros = _refused(f"{_quoted(name)} contains macros; save it as a DOCX or XLSX without macros.")
    try:
        with zipfile.ZipFile(file) as archive:
            members = {info.filename.lower(): info for info in archive.infolist()}
            # Part names in an office package are case-insensitive (ECMA-376 part 2).
            content_types = members.get("[content_types].xml")
            if content_types is None:
                raise _not_accepted(name)
            if any(part.endswith("vbaproject.bin") for part in members):
                raise macros
            if content_types.file_size > CONTENT_TYPES_MAX_BYTES:
                raise damaged
            if sum(info.file_size for info in members.values()) > UNPACKED_LIMIT_FACTOR * max_bytes:
                raise _refused(f"{_quoted(name)} unpacks to far more data than a genuine office document.")
            declared = archive.read(content_types).lower()
            if b"macroenabled" in declared:
                raise macros
            if DOCX_MAIN_PART in declared and any(part.startswith("word/") for part in members):
                content_type = DOCX
            elif XLSX_MAIN_PART in declared and any(part.startswith("xl/") for part in members):
                content_type = XLSX
            else:
                raise _not_accepted(name)
            if archive.testzip() is not None:
                raise damaged
    except ValidationError:
        raise
    except Exception as exc:
        raise damaged from exc
    return content_type
