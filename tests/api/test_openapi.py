"""The published schema: valid, and every operation documents the errors integrators must handle and shows an
example of what it takes or gives."""

import pytest
import yaml
from django.core.management import call_command

NO_BODY_TO_SHOW = {
    # Binary downloads and deletions answer a file or nothing: no JSON example to give.
    ("get", "/api/v1/document-versions/{id}/download/"),
    ("get", "/api/v1/dossiers/{id}/download/"),
    ("delete", "/api/v1/shipments/{id}/items/{item_id}/"),
    ("delete", "/api/v1/webhooks/{id}/"),
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def test_every_operation_documents_its_errors(schema):
    for method, path, operation in _operations(schema):
        codes = set(operation["responses"])
        expected = {"400", "401", "403", "404", "429"} | ({"409"} if method != "get" else set())
        if method in ("put", "patch", "delete") or (method == "post" and "{" in path):
            expected.add("412")
        assert expected <= codes, f"{method.upper()} {path} lacks {sorted(expected - codes)}"
        error = operation["responses"]["404"]["content"]["application/json"]
        assert error["schema"]["$ref"].endswith("/Error") and error["examples"]


def test_every_operation_shows_an_example(schema):
    for method, path, operation in _operations(schema):
        if (method, path) in NO_BODY_TO_SHOW:
            assert operation.get("description") or operation.get("summary")
            continue
        bodies = [
            content
            for code, response in operation["responses"].items()
            if code.startswith("2")
            for content in (response.get("content") or {}).values()
        ]
        bodies += list(operation.get("requestBody", {}).get("content", {}).values())
        assert any(body.get("examples") for body in bodies if body is not None), f"{method.upper()} {path}"
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert success, f"{method.upper()} {path} documents no success response"


def test_posts_document_the_idempotency_key(schema):
    for method, path, operation in _operations(schema):
        if method == "post":
            names = {p["name"] for p in operation.get("parameters", [])}
            assert "Idempotency-Key" in names, f"POST {path}"
