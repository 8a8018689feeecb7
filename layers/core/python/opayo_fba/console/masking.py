"""Personal data as lists show it: enough to tell two orders apart, not enough to read it.

An order's own page shows its customer in full (it is where support looks); every list,
and anything a list's screenshot could carry, shows these masks instead.
"""

from __future__ import annotations


def mask_word(word: str) -> str:
    """`Jane` -> `J***`: the first letter and a star for each other (at least one)."""
    if not word:
        return ""
    return word[0] + "*" * max(1, len(word) - 1)


def mask_name(name: str | None) -> str:
    """`Jane Doe` -> `J*** D**`."""
    if not name:
        return ""
    return " ".join(mask_word(part) for part in name.split())


def mask_email(email: str | None) -> str:
    """`jane@example.com` -> `j***@e******.com`: the first letter of the mailbox and of the
    domain, and the top-level domain."""
    if not email or "@" not in email:
        return mask_word(email or "")
    mailbox, _, domain = email.rpartition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        return f"{mask_word(mailbox)}@{mask_word(domain)}"
    return f"{mask_word(mailbox)}@{mask_word(host)}.{tld}"
