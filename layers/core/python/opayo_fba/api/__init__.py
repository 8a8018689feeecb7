"""The HTTP API: Powertools' `APIGatewayRestResolver` with validation, one route module per
Lambda function (`routes/`), the one mapping of domain exceptions to HTTP (`errors`), and
the OpenAPI document generated from the same pydantic models (`openapi`).

Before any of it imports Powertools' event handler, its package and the event classes' are
made lazy (opayo_fba.lazy_packages): an HTTP function imports the one resolver and the few
event classes it uses, not AppSync's, Bedrock's and forty others.
"""

from opayo_fba.lazy_packages import defer_package_init

defer_package_init("aws_lambda_powertools.event_handler")
defer_package_init("aws_lambda_powertools.utilities.data_classes")
