"""Handlers of the miniature stack the local runtime tests run."""

import json
import os

import boto3


def webhook(event, context):
    body = event["body"] or ""
    if "forged" in body:
        return {"statusCode": 400, "body": "Status=INVALID"}
    boto3.client("sqs").send_message(
        QueueUrl=os.environ["QUEUE_URL"],
        MessageBody=json.dumps({"vendor": event["pathParameters"]["vendor"], "body": body}),
        MessageGroupId=event["pathParameters"]["vendor"],
    )
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "Status=OK"}


def consume(event, context):
    table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    failures = []
    for record in event["Records"]:
        message = json.loads(record["body"])
        if "poison" in message["body"]:
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        table.put_item(Item={"pk": message["body"], "vendor": message["vendor"]})
    return {"batchItemFailures": failures}


def step(event, context):
    secret = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_ARN"])[
            "SecretString"
        ]
    )
    return {"order": event["order"], "vendor": secret.get("vendor") or secret["vendor_name"]}


def tick(event, context):
    return {"detail-type": event["detail-type"]}
