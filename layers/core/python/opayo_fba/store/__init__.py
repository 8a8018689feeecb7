"""DynamoDB access; nothing else talks to boto3 tables directly."""
