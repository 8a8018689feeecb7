"""The order-to-cash saga's steps: what each Step Functions task does, behind small ports."""
