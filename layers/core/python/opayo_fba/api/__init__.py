"""The HTTP API: Powertools' `APIGatewayRestResolver` with validation, one route module per
Lambda function (`routes/`), the one mapping of domain exceptions to HTTP (`errors`), and
the OpenAPI document generated from the same pydantic models (`openapi`).
"""
