"""The CDK app: one construct per capability, composed by `OpayoFbaStack` (infra/stack.py)."""
