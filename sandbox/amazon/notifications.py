"""SP-API notifications: built in the official schemas, delivered at least once.

ORDER_CHANGE and FULFILLMENT_ORDER_STATUS envelopes are PascalCase, REPORT_PROCESSING_FINISHED
is camelCase. A background thread delivers each message to every configured target (an SQS queue
through boto3, or an HTTP callback) and retries until it succeeds or `MAX_ATTEMPTS` is reached.
With `duplicate_rate` > 0 some messages are delivered twice, as Amazon may do.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.amazon.options import NotificationTarget
from sandbox.amazon.state import AmazonState
from sandbox.amazon.timefmt import iso

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
SUBSCRIPTION_IDS = {
    "FULFILLMENT_ORDER_STATUS": "subscription-fulfillment-order-status",
    "ORDER_CHANGE": "subscription-order-change",
    "REPORT_PROCESSING_FINISHED": "subscription-report-processing-finished",
}
# The notification spells statuses differently from the Fulfillment Outbound API.
NOTIFICATION_STATUS = {
    "New": "NEW",
    "Received": "RECEIVED",
    "Planning": "PLANNING",
    "Processing": "PROCESSING",
    "Cancelled": "CANCELLED",
    "Complete": "COMPLETE",
    "CompletePartialled": "COMPLETE_PARTIALLED",
    "Unfulfillable": "UNFULFILLABLE",
    "Invalid": "INVALID",
}


def _notification_id(state: AmazonState) -> str:
    with state.store.transaction():
        return str(uuid.UUID(int=state.rng.getrandbits(128), version=4))


def fulfillment_order_status(
    state: AmazonState, record: dict[str, Any], event_type: str
) -> dict[str, Any]:
    """FULFILLMENT_ORDER_STATUS for a fulfillment order record (see fulfillment.py).

    The official schema requires FulfillmentShipment and FulfillmentReturnItem on every
    message; where the event has no shipment or return they carry neutral placeholder values
    (documented in docs/sandbox-amazon.md), and consumers must go by EventType.
    """
    order = record["order"]
    now = iso(state.now())
    shipments = record.get("shipments") or []
    if shipments:
        last = shipments[-1]
        packages = [
            {
                "PackageNumber": p["packageNumber"],
                "CarrierCode": p["carrierCode"],
                "TrackingNumber": p.get("trackingNumber", ""),
            }
            for p in last.get("fulfillmentShipmentPackage", [])
        ]
        shipment = {
            "FulfillmentShipmentStatus": last["fulfillmentShipmentStatus"],
            "AmazonShipmentId": last["amazonShipmentId"],
            "EstimatedArrivalDateTime": last.get("estimatedArrivalDate", now),
            "info": packages[0] if packages else {},
            "FulfillmentShipmentPackages": packages,
        }
    else:
        shipment = {
            "FulfillmentShipmentStatus": "PENDING",
            "AmazonShipmentId": "",
            "EstimatedArrivalDateTime": order["statusUpdatedDate"],
            "info": {},
            "FulfillmentShipmentPackages": [],
        }
    first_item = record["items"][0]
    payload = {
        "SellerId": state.credentials.seller_id,
        "EventType": event_type,
        "StatusUpdatedDateTime": order["statusUpdatedDate"],
        "SellerFulfillmentOrderId": order["sellerFulfillmentOrderId"],
        "FulfillmentOrderStatus": NOTIFICATION_STATUS[order["fulfillmentOrderStatus"]],
        "FulfillmentShipment": shipment,
        "FulfillmentReturnItem": {
            "ReceivedDateTime": order["statusUpdatedDate"],
            "ReturnedQuantity": 0,
            "SellerSKU": first_item["sellerSku"],
        },
    }
    return _pascal_envelope(state, "FULFILLMENT_ORDER_STATUS", now, payload)


def order_change(state: AmazonState, record: dict[str, Any], reason: str) -> dict[str, Any]:
    """ORDER_CHANGE (OrderStatusChange) for an Orders v0 record (see orders.py)."""
    order = record["order"]
    address = order.get("ShippingAddress") or {}
    summary = {
        "MarketplaceId": order["MarketplaceId"],
        "OrderStatus": order["OrderStatus"],
        "PurchaseDate": order["PurchaseDate"],
        "DestinationPostalCode": address.get("PostalCode"),
        "FulfillmentType": order["FulfillmentChannel"],
        "OrderType": order.get("OrderType", "StandardOrder"),
        "NumberOfItemsShipped": order.get("NumberOfItemsShipped", 0),
        "NumberOfItemsUnshipped": order.get("NumberOfItemsUnshipped", 0),
        "OrderItems": [
            {
                "OrderItemId": item["OrderItemId"],
                "SellerSKU": item.get("SellerSKU", ""),
                "SupplySourceId": None,
                "OrderItemStatus": "Shipped"
                if item.get("QuantityShipped", 0) >= item["QuantityOrdered"]
                else "Unshipped",
                "Quantity": item["QuantityOrdered"],
                "QuantityShipped": item.get("QuantityShipped", 0),
            }
            for item in record["items"]
        ],
    }
    payload = {
        "NotificationLevel": "OrderLevel",
        "SellerId": state.credentials.seller_id,
        "AmazonOrderId": order["AmazonOrderId"],
        "OrderChangeType": "OrderStatusChange",
        "OrderChangeTrigger": {
            "TimeOfOrderChange": order["LastUpdateDate"],
            "ChangeReason": reason,
        },
        "Summary": summary,
    }
    return _pascal_envelope(state, "ORDER_CHANGE", iso(state.now()), payload)


def _pascal_envelope(
    state: AmazonState, notification_type: str, now: str, payload: dict[str, Any]
) -> dict[str, Any]:
    payload_key = {
        "FULFILLMENT_ORDER_STATUS": "FulfillmentOrderStatusNotification",
        "ORDER_CHANGE": "OrderChangeNotification",
    }[notification_type]
    return {
        "NotificationVersion": "1.0",
        "NotificationType": notification_type,
        "PayloadVersion": "1.0",
        "EventTime": now,
        "Payload": {payload_key: payload},
        "NotificationMetadata": {
            "ApplicationId": state.credentials.application_id,
            "SubscriptionId": SUBSCRIPTION_IDS[notification_type],
            "PublishTime": now,
            "NotificationId": _notification_id(state),
        },
    }


def report_processing_finished(state: AmazonState, report: dict[str, Any]) -> dict[str, Any]:
    now = iso(state.now())
    finished: dict[str, Any] = {
        "sellerId": state.credentials.seller_id,
        "accountId": f"amzn1.merchant.o.{state.credentials.seller_id}",
        "reportId": report["reportId"],
        "reportType": report["reportType"],
        "processingStatus": report["processingStatus"],
    }
    if "reportDocumentId" in report:
        finished["reportDocumentId"] = report["reportDocumentId"]
    return {
        "notificationVersion": "2020-09-04",
        "notificationType": "REPORT_PROCESSING_FINISHED",
        "payloadVersion": "2020-09-04",
        "eventTime": now,
        "payload": {"reportProcessingFinishedNotification": finished},
        "notificationMetadata": {
            "applicationId": state.credentials.application_id,
            "subscriptionId": SUBSCRIPTION_IDS["REPORT_PROCESSING_FINISHED"],
            "publishTime": now,
            "notificationId": _notification_id(state),
        },
    }


@dataclass
class _Delivery:
    target: NotificationTarget
    notification_type: str
    body: dict[str, Any]
    attempts: int = 0


class NotificationDispatcher:
    """Queues every published notification and delivers it to the matching targets."""

    def __init__(
        self,
        targets: list[NotificationTarget],
        *,
        seed: int = 0,
        duplicate_rate: float = 0.0,
        history_limit: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self.targets = list(targets)
        self.duplicate_rate = duplicate_rate
        self._rng = random.Random(seed)
        self.published_count = 0
        self.published: deque[tuple[str, dict[str, Any]]] = deque(maxlen=history_limit)
        self.delivered: deque[dict[str, Any]] = deque(maxlen=history_limit)
        self.failed: deque[dict[str, Any]] = deque(maxlen=history_limit)
        self._queue: queue.Queue[_Delivery | None] = queue.Queue()
        self._clients: dict[tuple[str | None, str], Any] = {}
        self._http = httpx.Client(timeout=5.0)
        self._thread = threading.Thread(target=self._run, daemon=True, name="sp-api-notify")
        self._thread.start()

    def configure(self, targets: list[NotificationTarget], duplicate_rate: float) -> None:
        with self._lock:
            self.targets = list(targets)
            self.duplicate_rate = duplicate_rate

    def publish(self, notification_type: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.published.append((notification_type, body))
            self.published_count += 1
            for target in self.targets:
                if notification_type not in target.notification_types:
                    continue
                copies = 2 if self._rng.random() < self.duplicate_rate else 1
                for _ in range(copies):
                    self._queue.put(_Delivery(target, notification_type, body))

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._http.close()

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                self._deliver(delivery)
            except Exception as error:
                delivery.attempts += 1
                if delivery.attempts >= MAX_ATTEMPTS:
                    logger.warning("giving up on a notification after %d attempts", MAX_ATTEMPTS)
                    self.failed.append(self._summary(delivery, str(error)))
                    continue
                threading.Timer(
                    min(5.0, 0.05 * 2**delivery.attempts), self._queue.put, [delivery]
                ).start()
            else:
                self.delivered.append(self._summary(delivery, None))

    @staticmethod
    def _summary(delivery: _Delivery, error: str | None) -> dict[str, Any]:
        return {
            "target": delivery.target.url,
            "notification_type": delivery.notification_type,
            "attempts": delivery.attempts + 1,
            "error": error,
        }

    def _deliver(self, delivery: _Delivery) -> None:
        message = json.dumps(delivery.body)
        target = delivery.target
        if target.kind == "http":
            response = self._http.post(
                target.url, content=message, headers={"content-type": "application/json"}
            )
            response.raise_for_status()
            return
        client = self._sqs(target)
        extra: dict[str, str] = {}
        if target.url.endswith(".fifo"):
            metadata = delivery.body.get("NotificationMetadata") or delivery.body.get(
                "notificationMetadata", {}
            )
            extra = {
                "MessageGroupId": delivery.notification_type,
                "MessageDeduplicationId": str(
                    metadata.get("NotificationId") or metadata.get("notificationId")
                ),
            }
        client.send_message(QueueUrl=target.url, MessageBody=message, **extra)

    def _sqs(self, target: NotificationTarget) -> Any:
        key = (target.endpoint_url, target.region)
        if key not in self._clients:
            import boto3

            self._clients[key] = boto3.client(
                "sqs", region_name=target.region, endpoint_url=target.endpoint_url
            )
        return self._clients[key]
