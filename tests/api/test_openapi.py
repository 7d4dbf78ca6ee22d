"""The OpenAPI schema at /api/schema documents what the routes really send."""


def test_every_route_documents_its_400_in_the_error_envelope_it_is_sent_in(client):
    schema = client.get("/api/schema/openapi.json").json()
    operations = {(path, method): operation for path, item in schema["paths"].items()
                  for method, operation in item.items() if isinstance(operation, dict) and "responses" in operation}

    assert ("/api/client/validate", "post") in operations and ("/api/products", "post") in operations
    for (path, method), operation in operations.items():
        content = operation["responses"]["400"]["content"]["application/json"]["schema"]
        assert content == {"$ref": "#/components/schemas/ErrorEnvelope"}, (path, method)
    assert schema["components"]["schemas"]["ErrorEnvelope"]["required"] == ["error_code", "message", "success"]


def test_a_documented_400_is_what_the_route_sends(client):
    answer = client.post("/api/client/validate", json={"license_key": "K"})
    assert answer.status_code == 400
    assert set(answer.json()) == {"success", "message", "error_code"} and answer.json()["error_code"] == "VALIDATION_ERROR"
