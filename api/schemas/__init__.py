"""msgspec request and response Structs, one module per resource (`answers`: the client API's answers, which
`openapi` fits into the OpenAPI document)."""
