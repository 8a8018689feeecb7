"""One Secrets Manager secret per seller account holds its SP-API credentials."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from opayo_fba.store.secrets import SecretJsonReader

# `{account}` is the seller account's name in our configuration (e.g. "uk-main").
DEFAULT_SECRET_NAME_TEMPLATE = "opayo-fba/amazon/{account}"  # noqa: S105 - a name, not a secret


class SellerCredentials(BaseModel):
    """The secret's JSON: LWA client, refresh token, seller id and marketplace."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    lwa_client_id: str = Field(min_length=1)
    lwa_client_secret: SecretStr
    refresh_token: SecretStr
    seller_id: str = Field(min_length=1)
    marketplace_id: str = Field(min_length=1)

    def sp_api_credentials(self) -> dict[str, str]:
        """The `credentials=` dict python-amazon-sp-api expects."""
        return {
            "lwa_app_id": self.lwa_client_id,
            "lwa_client_secret": self.lwa_client_secret.get_secret_value(),
            "refresh_token": self.refresh_token.get_secret_value(),
        }


class SellerCredentialsStore:
    """Looks up a seller account's credentials; cached by the reader for `max_age`."""

    def __init__(
        self,
        reader: SecretJsonReader | None = None,
        *,
        name_template: str = DEFAULT_SECRET_NAME_TEMPLATE,
    ) -> None:
        if "{account}" not in name_template:
            raise ValueError("name_template must contain '{account}'")
        self._reader = reader or SecretJsonReader()
        self._template = name_template

    def secret_name(self, account: str) -> str:
        return self._template.format(account=account)

    def get(self, account: str) -> SellerCredentials:
        return self._reader.read(self.secret_name(account), SellerCredentials)
