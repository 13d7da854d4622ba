"""The OpenAPI schema is valid and complete; Swagger UI works without the internet."""

from __future__ import annotations

import re

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

TICKET_PATHS = [
    "/api/tickets/",
    "/api/tickets/{number}/",
    "/api/tickets/{number}/comments/",
    "/api/tickets/{number}/attachments/",
    "/api/tickets/{number}/timeline/",
    *(
        f"/api/tickets/{{number}}/transitions/{name}/"
        for name in (
            "assign",
            "start",
            "pend",
            "resume",
            "resolve",
            "close",
            "reopen",
            "cancel",
            "transfer",
            "escalate",
            "merge",
        )
    ),
]
CHANGE_PATHS = [
    "/api/calendar-feeds/",
    "/api/calendar-feeds/{id}/",
    "/api/changes/",
    "/api/changes/{number}/",
    "/api/changes/{number}/attachments/",
    "/api/changes/{number}/timeline/",
    "/api/changes/{number}/votes/",
    *(
        f"/api/changes/{{number}}/transitions/{name}/"
        for name in (
            "submit",
            "assess",
            "request_approval",
            "schedule",
            "implement",
            "finish",
            "close",
            "withdraw",
        )
    ),
]
KB_PATHS = ["/api/kb/articles/", "/api/kb/articles/search/", "/api/kb/articles/{id}/"]
DIRECTORY_PATHS = [
    f"/api/{name}/{suffix}"
    for name in ("people", "groups", "services", "categories")
    for suffix in ("", "{id}/")
]
AUTH_OPERATIONS = {
    ("/api/auth/token/", "post"),
    ("/api/auth/token/", "delete"),
    ("/api/auth/tokens/", "get"),
    ("/api/auth/tokens/{id}/", "get"),
    ("/api/auth/tokens/{id}/", "delete"),
}


def test_schema_generates_without_warnings_or_errors(tmp_path):
    target = tmp_path / "schema.yaml"
    # --fail-on-warn turns every drf-spectacular warning into an error (SchemaGenerationError).
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert set(TICKET_PATHS + CHANGE_PATHS + KB_PATHS + DIRECTORY_PATHS) <= set(schema["paths"])
    # Approval and rejection follow from the votes: no API action takes them.
    assert not {p for p in schema["paths"] if p.endswith(("/approve/", "/reject/"))}
    auth_operations = {
        (path, method)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/auth/")
        for method in operations
    }
    assert auth_operations == AUTH_OPERATIONS


@pytest.fixture
def schema(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_schema_is_served_and_describes_inputs_and_errors(schema):
    paths = schema["paths"]
    resolve = paths["/api/tickets/{number}/transitions/resolve/"]["post"]
    assert set(resolve["responses"]) >= {"200", "400", "404", "409"}
    body = resolve["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    resolve_input = schema["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert set(resolve_input["required"]) == {"code", "notes"}
    # Separate input and output: the create input has no ticket number, the output does.
    create = paths["/api/tickets/"]["post"]["requestBody"]["content"]["application/json"]
    create_input = schema["components"]["schemas"][create["schema"]["$ref"].rsplit("/", 1)[1]]
    assert "number" not in create_input["properties"]
    assert "caller" in create_input["properties"]
    assert "available_transitions" in schema["components"]["schemas"]["Ticket"]["properties"]
    upload = paths["/api/tickets/{number}/attachments/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    list_parameters = {p["name"] for p in paths["/api/tickets/"]["get"]["parameters"]}
    assert {"status", "support_group", "assignee", "search", "ordering", "page"} <= list_parameters
    people_parameters = {p["name"] for p in paths["/api/people/"]["get"]["parameters"]}
    assert {"phone", "search"} <= people_parameters
    # Token auth is documented next to the session.
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    # Signing in for a token: its input, and a key shown once in the answer.
    sign_in = paths["/api/auth/token/"]["post"]
    assert set(sign_in["responses"]) >= {"201", "400", "429"}
    body = sign_in["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    sign_in_input = schema["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert set(sign_in_input["properties"]) == {"username", "password", "name", "lifetime_days"}
    assert set(sign_in_input["required"]) == {"username", "password"}
    created = sign_in["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    assert "token" in schema["components"]["schemas"][created.rsplit("/", 1)[1]]["properties"]
    assert set(paths["/api/auth/tokens/{id}/"]["delete"]["responses"]) >= {"204", "404"}


def test_swagger_ui_uses_assets_served_by_the_app(db):
    client = APIClient()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    scripts_and_styles = [a for a in assets if a.endswith((".js", ".css"))]
    assert scripts_and_styles, html
    for asset in scripts_and_styles:
        assert asset.startswith("/static/"), asset
    assert "cdn." not in html
    assert "unpkg.com" not in html
    # No inline script (the Content-Security-Policy refuses it): the start-up script is a
    # resource of its own, and it names the schema.
    assert "<script>" not in html
    assert "<style" not in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
    # The assets really are served by the app itself (WhiteNoise), not just referenced.
    bundle = next(a for a in scripts_and_styles if a.endswith("swagger-ui-bundle.js"))
    asset_response = client.get(bundle)
    assert asset_response.status_code == 200
    content = b"".join(asset_response.streaming_content)
    assert len(content) > 100_000


def test_every_operation_documents_its_error_answers(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = set(operation["responses"])
            assert "401" in responses, (method, path)
            if "requestBody" in operation:
                assert {"400", "415"} <= responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
    transition = schema["paths"]["/api/tickets/{number}/transitions/resolve/"]["post"]
    conflict = transition["responses"]["409"]["content"]["application/json"]["schema"]
    assert conflict["$ref"].endswith("/TransitionConflict")
    assert set(
        schema["components"]["schemas"]["TransitionConflict"]["discriminator"]["mapping"]
    ) == {
        "conflict",
        "transition_not_allowed",
    }
    ticket = schema["components"]["schemas"]["Ticket"]["properties"]
    assert ticket["pending_reason"]["nullable"] and ticket["resolution_code"]["nullable"]
    parameters = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/tickets/"]["get"]["parameters"]
    }
    assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert parameters["caller"]["minimum"] == 1


def test_a_bad_page_or_page_size_is_a_400_naming_it(as_agent):
    for query, name in [
        ("page_size=abc", "page_size"),
        ("page=0", "page"),
        ("page_size=201", "page_size"),
    ]:
        response = as_agent.get(f"/api/tickets/?{query}")
        assert response.status_code == 400, query
        assert name in response.json()


def test_an_api_path_no_route_matches_is_a_json_404(as_agent):
    response = as_agent.get("/api/groups/not-a-number.json/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
