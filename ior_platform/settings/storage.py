"""Where document files are kept, chosen by DOCUMENT_STORAGE: `filesystem` (MEDIA_ROOT, the default) or `s3` (any
S3-compatible object store: AWS, MinIO, Ceph, ...). A pure function of the environment, so every combination can
be tested without importing the settings.

Documents are never served from the store's own URLs: every download streams through the platform, which checks the
stored bytes against the SHA-256 recorded at upload (documents/services.py). So objects stay private (no ACL), and a
signed URL, if one is ever made, lives five minutes."""

from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

FILESYSTEM = "filesystem"
S3 = "s3"
ADDRESSING_STYLES = ("auto", "path", "virtual")
# Reads of a stored file are spooled through memory up to this size, then a temporary file: django-storages' default
# of 0 keeps a whole file in memory, and a temperature-logger export may be 80 MB.
S3_MAX_MEMORY_BYTES = 8 * 1024 * 1024
SIGNED_URL_SECONDS = 300

STATICFILES = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def _value(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name) or "").strip()


def _s3_options(environ: Mapping[str, str]) -> dict:
    bucket = _value(environ, "AWS_STORAGE_BUCKET_NAME")
    if not bucket:
        raise ImproperlyConfigured("DOCUMENT_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME (the bucket documents go to)")
    access_key = _value(environ, "AWS_ACCESS_KEY_ID")
    secret_key = _value(environ, "AWS_SECRET_ACCESS_KEY")
    if bool(access_key) != bool(secret_key):
        raise ImproperlyConfigured(
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together, or both left unset to use the "
            "machine's role"
        )
    addressing_style = _value(environ, "AWS_S3_ADDRESSING_STYLE").lower() or "auto"
    if addressing_style not in ADDRESSING_STYLES:
        raise ImproperlyConfigured(
            f"AWS_S3_ADDRESSING_STYLE must be one of {', '.join(ADDRESSING_STYLES)}, not {addressing_style!r}"
        )
    endpoint_url = _value(environ, "AWS_S3_ENDPOINT_URL")
    if endpoint_url and not endpoint_url.startswith(("https://", "http://")):
        raise ImproperlyConfigured(f"AWS_S3_ENDPOINT_URL must be an http(s):// address, not {endpoint_url!r}")
    return {
        "bucket_name": bucket,
        # Without keys boto3 finds credentials itself: an instance profile, a pod's role, ~/.aws.
        "access_key": access_key or None,
        "secret_key": secret_key or None,
        "security_token": _value(environ, "AWS_SESSION_TOKEN") or None,
        "region_name": _value(environ, "AWS_S3_REGION_NAME") or None,
        "endpoint_url": endpoint_url or None,
        "addressing_style": None if addressing_style == "auto" else addressing_style,
        "location": _value(environ, "AWS_LOCATION").strip("/"),
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": SIGNED_URL_SECONDS,
        # A stored file is evidence: a name collision gets a new name, never replaces the old bytes.
        "file_overwrite": False,
        "max_memory_size": S3_MAX_MEMORY_BYTES,
    }


def storages_from_env(environ: Mapping[str, str]) -> dict:
    """The STORAGES setting for this environment. Refuses a half configuration with one line naming the variable."""
    kind = _value(environ, "DOCUMENT_STORAGE").lower() or FILESYSTEM
    if kind == FILESYSTEM:
        if _value(environ, "AWS_STORAGE_BUCKET_NAME"):
            # A bucket named but not switched on would leave documents on local disk while the operator believes
            # they are in the bucket.
            raise ImproperlyConfigured(
                "AWS_STORAGE_BUCKET_NAME is set but DOCUMENT_STORAGE is not s3: set both, or neither"
            )
        default = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    elif kind == S3:
        default = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _s3_options(environ)}
    else:
        raise ImproperlyConfigured(f"DOCUMENT_STORAGE must be {FILESYSTEM} or {S3}, not {kind!r}")
    return {"default": default, "staticfiles": dict(STATICFILES)}
