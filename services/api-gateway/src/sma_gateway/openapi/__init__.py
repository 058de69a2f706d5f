"""The API's OpenAPI 3.1 document and its docs page: `@operation` metadata on handlers, the
builder that turns it and the pydantic models into the document, and the routes serving both."""

from sma_gateway.openapi.operation import BigintId, Operation, operation

__all__ = ["BigintId", "Operation", "operation"]
