"""Declarative mapping templates for merchants' custom fields.

The saga's validate-and-map step needs three calls:

    templates = load_configured_templates(settings.mapping_templates)  # cached per process
    result = apply_templates(templates, shop_order, product_master=master)
    request = result.apply_to_fulfillment_request(base_request)

See docs/mapping-templates.md for the template language.
"""

from opayo_fba.mapping.check import check_template
from opayo_fba.mapping.engine import MappingResult, RuleOutcome, apply_template, apply_templates
from opayo_fba.mapping.errors import MappingError, TemplateError
from opayo_fba.mapping.loader import (
    S3TemplateLoader,
    load_configured_templates,
    load_starter,
    load_template_file,
    load_template_reference,
    parse_template,
    parse_template_text,
)
from opayo_fba.mapping.product_master import (
    CsvProductMaster,
    DynamoDbProductMaster,
    InMemoryProductMaster,
    ProductMaster,
)
from opayo_fba.mapping.template import MappingTemplate, Rule, template_json_schema

__all__ = [
    "CsvProductMaster",
    "DynamoDbProductMaster",
    "InMemoryProductMaster",
    "MappingError",
    "MappingResult",
    "MappingTemplate",
    "ProductMaster",
    "Rule",
    "RuleOutcome",
    "S3TemplateLoader",
    "TemplateError",
    "apply_template",
    "apply_templates",
    "check_template",
    "load_configured_templates",
    "load_starter",
    "load_template_file",
    "load_template_reference",
    "parse_template",
    "parse_template_text",
    "template_json_schema",
]
