"""Refunds after the sale: what a line or a unit is worth, and the one way a refund is made.

Every refund the integration makes (a compensation's, the unshipped units of a partial
shipment, the shop's or ERP's `POST /orders/{id}/refunds`, a received return) is written down
on the order as pending, with an id derived from the order, before Opayo is asked, and is then
carried out by `opayo_fba.refunds.execute.execute_pending_refunds`.
"""
