"""One Secrets Manager secret per Opayo vendor holds its Pi and Reporting credentials."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from opayo_fba.store.secrets import SecretJsonReader

DEFAULT_SECRET_NAME_TEMPLATE = "opayo-fba/opayo/{vendor}"  # noqa: S105 - a name, not a secret


class VendorCredentials(BaseModel):
    """The secret's JSON. The reporting user is a MySagePay user allowed to use the API."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    vendor_name: str = Field(min_length=1, max_length=16)
    integration_key: SecretStr
    integration_password: SecretStr
    reporting_user: str = Field(min_length=1)
    reporting_password: SecretStr


class VendorCredentialsStore:
    def __init__(
        self,
        reader: SecretJsonReader | None = None,
        *,
        name_template: str = DEFAULT_SECRET_NAME_TEMPLATE,
    ) -> None:
        if "{vendor}" not in name_template:
            raise ValueError("name_template must contain '{vendor}'")
        self._reader = reader or SecretJsonReader()
        self._template = name_template

    def secret_name(self, vendor: str) -> str:
        return self._template.format(vendor=vendor)

    def get(self, vendor: str) -> VendorCredentials:
        return self._reader.read(self.secret_name(vendor), VendorCredentials)
