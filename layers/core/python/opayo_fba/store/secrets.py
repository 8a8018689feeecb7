"""Credentials read from Secrets Manager through Powertools parameters, cached per process.

One JSON secret per seller account (Amazon) or per vendor (Opayo). The cache means a warm
Lambda reads each secret at most once per `max_age` seconds; rotating a secret therefore
takes effect within `max_age` without a deploy: `fingerprint` tells the composition root
(wiring.py) that the value changed, so it rebuilds the connector built from the old one.
Values are never logged: errors name the secret and the missing fields, never what the
secret holds.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from opayo_fba.errors import ConfigurationError

DEFAULT_MAX_AGE_SECONDS = 300

ModelT = TypeVar("ModelT", bound=BaseModel)


class SecretJsonReader:
    """Reads JSON secrets by name into pydantic models.

    `boto3_client` lets tests and the local runtime point at moto or LocalStack.
    """

    def __init__(self, *, boto3_client: Any = None, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self._provider = SecretsProvider(boto3_client=boto3_client)
        self._max_age = max_age

    def fingerprint(self, secret_name: str) -> str:
        """A digest of the secret's current value (as cached): it changes when the secret is
        rotated, and says nothing about the value itself."""
        raw = self._raw(secret_name)
        return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()

    def read(self, secret_name: str, model: type[ModelT]) -> ModelT:
        raw = self._raw(secret_name)
        try:
            return model.model_validate(raw)
        except ValidationError as error:
            problems = ", ".join(
                f"{'.'.join(str(p) for p in e['loc'])} ({e['msg']})" for e in error.errors()
            )
            raise ConfigurationError(f"secret {secret_name!r} is incomplete: {problems}") from None

    def _raw(self, secret_name: str) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.parameters.exceptions import (
            GetParameterError,
            TransformParameterError,
        )

        try:
            raw = self._provider.get(secret_name, max_age=self._max_age, transform="json")
        except GetParameterError as error:
            # The provider's message is the AWS error (code and text), never the value.
            raise ConfigurationError(
                f"cannot read secret {secret_name!r}: {error}. Create it, or grant this "
                "function secretsmanager:GetSecretValue on it"
            ) from None
        except TransformParameterError:
            raise ConfigurationError(
                f"secret {secret_name!r} is not a JSON object; store its fields as JSON"
            ) from None
        if not isinstance(raw, dict):
            raise ConfigurationError(f"secret {secret_name!r} must be a JSON object")
        return raw
