"""AWS access behind the domain's ports: DynamoDB tables (nothing else talks to boto3 tables
directly), the event bus, the payment-events queue, KMS sealing, Secrets Manager and the
merchant's configuration objects. The composition root (wiring.py) builds them."""
