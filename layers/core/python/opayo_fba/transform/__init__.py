"""Status harmonisation, addresses, money and currency, SKU mapping and converters."""
