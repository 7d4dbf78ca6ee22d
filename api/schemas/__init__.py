"""msgspec request and response Structs, one module per resource."""
