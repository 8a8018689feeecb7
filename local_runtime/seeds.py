"""Seed the template's secrets with the sandboxes' credentials and addresses.

Secrets are named `opayo-fba/<environment>/amazon/<seller account>` and
`opayo-fba/<environment>/opayo/<vendor>` by the CDK app. Locally each is filled with the
matching sandbox's credentials plus the sandbox's URL, so the deployed code finds its endpoint
in the secret and runs unchanged. Each seller account has an Amazon sandbox of its own (a
seller of its own: its seller id, refresh token, marketplaces and rate limits), all authorised
to the same LWA application, as one application serves many sellers.
"""

from __future__ import annotations

import json
from typing import Any

from local_runtime.template import Template
from sandbox.amazon.options import Credentials as AmazonCredentials
from sandbox.opayo.options import OpayoSandboxOptions


def _named_in_secrets(template: Template, kind: str) -> list[str]:
    """The names after `opayo-fba/<environment>/<kind>/` of the template's secrets, in order."""
    return [
        name.rsplit("/", 1)[-1]
        for name in (
            template.physical_name(r.logical_id)
            for r in template.of_type("AWS::SecretsManager::Secret")
        )
        if f"/{kind}/" in name
    ]


def vendors_in(template: Template) -> list[str]:
    return _named_in_secrets(template, "opayo")


# Where the template says which marketplaces each seller account serves (infra/queues.py).
SELLER_MARKETPLACES_VARIABLE = "SELLER_MARKETPLACES"


def seller_accounts_in(template: Template) -> dict[str, list[str]]:
    """Each seller account of the template (its secrets, in template order) with the
    marketplaces it serves (the functions' SELLER_MARKETPLACES; none known: the default)."""
    accounts = _named_in_secrets(template, "amazon")
    served: dict[str, list[str]] = {}
    for function in template.of_type("AWS::Lambda::Function"):
        variables = function.properties.get("Environment", {}).get("Variables", {})
        value = variables.get(SELLER_MARKETPLACES_VARIABLE)
        if isinstance(value, str):
            served.update(json.loads(value))
    default = AmazonCredentials().marketplace_id
    return {account: list(served.get(account) or [default]) for account in accounts}


def seller_credentials(index: int, account: str, marketplaces: list[str]) -> AmazonCredentials:
    """The sandbox seller behind the template's `index`-th seller account. The first keeps
    the sandbox's documented defaults (docs/sandbox-amazon.md); the others differ in seller id
    and refresh token. The LWA client is the same application for all."""
    home, *others = marketplaces
    if index == 0:
        return AmazonCredentials(marketplace_id=home, marketplace_ids=tuple(others))
    defaults = AmazonCredentials()
    return AmazonCredentials(
        seller_id=f"A{index + 1}SANDBOXSELLER",
        refresh_token=f"{defaults.refresh_token}-{account}",
        marketplace_id=home,
        marketplace_ids=tuple(others),
    )


def sandbox_secret_values(
    template: Template,
    amazon: dict[str, tuple[str, AmazonCredentials]],
    opayo_urls: dict[str, str],
) -> dict[str, dict[str, Any]]:
    """Secret values by secret name; `amazon` maps each seller account to its sandbox's URL
    and credentials, `opayo_urls` each vendor to its sandbox."""
    opayo = OpayoSandboxOptions()
    values: dict[str, dict[str, Any]] = {}
    for resource in template.of_type("AWS::SecretsManager::Secret"):
        name = template.physical_name(resource.logical_id)
        if "/amazon/" in name:
            amazon_url, creds = amazon[name.rsplit("/", 1)[-1]]
            values[name] = {
                "lwa_client_id": creds.client_id,
                "lwa_client_secret": creds.client_secret,
                "refresh_token": creds.refresh_token,
                "seller_id": creds.seller_id,
                "marketplace_id": creds.marketplace_id,
                "endpoint": amazon_url,
                "lwa_url": f"{amazon_url}/auth/o2/token",
            }
        elif "/opayo/" in name:
            vendor = name.rsplit("/", 1)[-1]
            values[name] = {
                "vendor_name": vendor,
                "integration_key": opayo.integration_key,
                "integration_password": opayo.integration_password,
                "reporting_user": opayo.reporting_user,
                "reporting_password": opayo.reporting_password,
                "base_url": opayo_urls[vendor],
            }
    return values
