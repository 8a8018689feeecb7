"""Seed the template's secrets with the sandboxes' credentials and addresses.

Secrets are named `opayo-fba/<environment>/amazon/<seller account>` and
`opayo-fba/<environment>/opayo/<vendor>` by the CDK app. Locally each is filled with the
matching sandbox's default credentials plus the sandbox's URL, so the deployed code finds
its endpoint in the secret and runs unchanged.
"""

from __future__ import annotations

from typing import Any

from sandbox.amazon.options import Credentials as AmazonCredentials
from sandbox.local.template import Template
from sandbox.opayo.options import OpayoSandboxOptions


def vendors_in(template: Template) -> list[str]:
    return [
        name.rsplit("/", 1)[-1]
        for name in (
            template.physical_name(r.logical_id)
            for r in template.of_type("AWS::SecretsManager::Secret")
        )
        if "/opayo/" in name
    ]


def sandbox_secret_values(
    template: Template, amazon_url: str, opayo_urls: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Secret values by secret name; `opayo_urls` maps each vendor to its sandbox."""
    amazon = AmazonCredentials()
    opayo = OpayoSandboxOptions()
    values: dict[str, dict[str, Any]] = {}
    for resource in template.of_type("AWS::SecretsManager::Secret"):
        name = template.physical_name(resource.logical_id)
        if "/amazon/" in name:
            values[name] = {
                "lwa_client_id": amazon.client_id,
                "lwa_client_secret": amazon.client_secret,
                "refresh_token": amazon.refresh_token,
                "seller_id": amazon.seller_id,
                "marketplace_id": amazon.marketplace_id,
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
