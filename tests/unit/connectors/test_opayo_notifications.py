"""VPSSignature verification, the Status reply, and the operator's verify-notification command."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlencode

import pytest
from typer.testing import CliRunner

from opayo_fba.cli.main import app
from opayo_fba.opayo.notifications import (
    NotificationFormatError,
    build_reply,
    check_notification,
    parse_notification,
)
from opayo_fba.opayo.signatures import compute_vps_signature

VENDOR = "SandboxVendor"
KEY = "ABCDEFGHIJ"


def signed_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "VPSProtocol": "4.00",
        "TxType": "DEFERRED",
        "VendorTxCode": "order-1001",
        "VPSTxId": "{6B4C5C8E-7F43-4C1B-9E3F-1D2A3B4C5D6E}",
        "Status": "OK",
        "StatusDetail": "0000 : The Authorisation was Successful.",
        "TxAuthNo": "8765432",
        "AVSCV2": "ALL MATCH",
        "AddressResult": "MATCHED",
        "PostCodeResult": "MATCHED",
        "CV2Result": "MATCHED",
        "GiftAid": "0",
        "3DSecureStatus": "OK",
        "CardType": "VISA",
        "Last4Digits": "0006",
        "ExpiryDate": "1229",
        "DeclineCode": "00",
        "BankAuthCode": "999777",
    }
    fields.update(overrides)
    fields["VPSSignature"] = compute_vps_signature(fields, vendor_name=VENDOR, security_key=KEY)
    return fields


def test_a_genuine_notification_is_valid_whatever_the_case_of_the_hex() -> None:
    fields = signed_fields()
    assert check_notification(fields, vendor_name=VENDOR, security_key=KEY).valid
    fields["VPSSignature"] = fields["VPSSignature"].lower()
    assert check_notification(fields, vendor_name="sandboxvendor", security_key=KEY).valid


@pytest.mark.parametrize(
    ("field", "value"),
    [("Status", "NOTAUTHED"), ("VendorTxCode", "order-1002"), ("Last4Digits", "1111")],
)
def test_an_altered_field_breaks_the_signature(field: str, value: str) -> None:
    fields = signed_fields()
    fields[field] = value
    check = check_notification(fields, vendor_name=VENDOR, security_key=KEY)
    assert not check.valid
    assert check.reason is not None
    assert check.reason.startswith("signature mismatch")


def test_a_wrong_security_key_or_vendor_is_a_mismatch_and_the_key_is_never_shown() -> None:
    fields = signed_fields()
    check = check_notification(fields, vendor_name=VENDOR, security_key="ZZZZZZZZZZ")
    assert not check.valid
    assert "ZZZZZZZZZZ" not in (check.reason or "")
    assert not check_notification(fields, vendor_name="other", security_key=KEY).valid


def test_missing_and_malformed_fields_are_named() -> None:
    fields = signed_fields()
    del fields["VPSSignature"]
    assert check_notification(fields, vendor_name=VENDOR, security_key=KEY).reason == (
        "missing field VPSSignature"
    )
    bad_status = signed_fields(Status="MAYBE")
    reason = check_notification(bad_status, vendor_name=VENDOR, security_key=KEY).reason
    assert reason is not None
    assert "Status" in reason
    short_signature = {**signed_fields(), "VPSSignature": "1234"}
    reason = check_notification(short_signature, vendor_name=VENDOR, security_key=KEY).reason
    assert reason is not None
    assert "VPSSignature" in reason


def test_token_counts_only_for_token_transactions() -> None:
    fields = signed_fields()
    fields["Token"] = "{SOME-TOKEN}"  # not signed for a DEFERRED: adding it changes nothing
    assert check_notification(fields, vendor_name=VENDOR, security_key=KEY).valid


def test_parse_refuses_duplicate_fields_and_empty_bodies() -> None:
    assert parse_notification("Status=OK&TxAuthNo=") == {"Status": "OK", "TxAuthNo": ""}
    with pytest.raises(NotificationFormatError, match="Status appears more than once"):
        parse_notification("Status=OK&Status=NOTAUTHED")
    with pytest.raises(NotificationFormatError, match="empty"):
        parse_notification(b"  ")


def test_reply_is_crlf_lines_and_cannot_be_injected() -> None:
    assert build_reply("OK", "https://shop.example/done") == (
        "Status=OK\r\nRedirectURL=https://shop.example/done\r\n"
    )
    reply = build_reply("INVALID", "https://shop.example/x", "bad\r\nStatus=OK")
    assert reply.count("\r\n") == 3
    assert "StatusDetail=bad Status=OK" in reply
    with pytest.raises(ValueError, match="OK, INVALID or ERROR"):
        build_reply("MAYBE", "https://shop.example/x")  # type: ignore[arg-type]


def test_cli_prints_valid_and_exits_zero(tmp_path: Path) -> None:
    body = tmp_path / "notification.txt"
    body.write_text(urlencode(signed_fields()))
    result = CliRunner().invoke(
        app,
        ["opayo", "verify-notification", "--vendor", VENDOR, str(body)],
        env={"OPAYO_SECURITY_KEY": KEY},
    )
    assert result.exit_code == 0, result.output
    assert result.output == "valid\n"


def test_cli_names_the_reason_reads_stdin_and_never_echoes_the_key() -> None:
    fields = signed_fields()
    fields["Status"] = "ABORT"
    result = CliRunner().invoke(
        app,
        ["opayo", "verify-notification", "--vendor", VENDOR, "--security-key", KEY, "-"],
        input=urlencode(fields),
    )
    assert result.exit_code == 1
    assert result.output.startswith("invalid: signature mismatch")
    assert KEY not in result.output


def test_cli_reports_a_missing_file_with_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["opayo", "verify-notification", "--vendor", VENDOR, str(tmp_path / "nope")],
        env={"OPAYO_SECURITY_KEY": KEY},
    )
    assert result.exit_code == 2
    assert "is not a file" in result.output


def test_a_body_that_is_not_utf8_is_read_as_latin1_not_refused() -> None:
    body = urlencode(signed_fields()).encode("ascii") + b"&CustomerName=Ren\xe9e%20M\xfcller"
    fields = parse_notification(body)
    assert fields["CustomerName"] == "Ren\u00e9e M\u00fcller"
    assert check_notification(fields, vendor_name=VENDOR, security_key=KEY)


def test_an_oversize_notification_is_refused_as_malformed() -> None:
    with pytest.raises(NotificationFormatError, match="at most"):
        parse_notification(b"Status=OK&Pad=" + b"x" * 20_000)


@pytest.mark.parametrize("field", ["Status", "TxType"])
def test_an_unknown_value_is_quoted_masked(field: str) -> None:
    check = check_notification(
        signed_fields(**{field: "4929 0000 0000 6"}), vendor_name=VENDOR, security_key=KEY
    )
    assert not check
    assert check.reason is not None
    assert "unknown value" in check.reason
    assert "4929" not in check.reason


def test_the_reply_never_carries_a_card_number() -> None:
    reply = build_reply("INVALID", "https://shop.example.com/done", "field X is 4929000000006")
    assert "4929" not in reply


@pytest.mark.parametrize("vendor_args", [[], ["--vendor", ""], ["--vendor", "   "]])
def test_cli_without_a_vendor_prints_one_line_and_exits_2(
    tmp_path: Path, vendor_args: list[str]
) -> None:
    body = tmp_path / "notification.txt"
    body.write_text(urlencode(signed_fields()))
    result = CliRunner().invoke(
        app,
        ["opayo", "verify-notification", *vendor_args, str(body)],
        env={"OPAYO_SECURITY_KEY": KEY},
    )
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.strip().count("\n") == 0
    assert "--vendor" in result.output


def test_cli_reports_an_unreadable_file_in_one_line(tmp_path: Path) -> None:
    # A regular file whose read fails even for root: the kernel refuses to read this
    # process's memory at offset 0. Elsewhere, a file nobody may read.
    unreadable = Path("/proc/self/mem")
    if not unreadable.is_file():
        unreadable = tmp_path / "notification.txt"
        unreadable.write_text(urlencode(signed_fields()))
        unreadable.chmod(0)
        if os.access(unreadable, os.R_OK):
            pytest.skip("no unreadable regular file available here")
    result = CliRunner().invoke(
        app,
        ["opayo", "verify-notification", "--vendor", VENDOR, str(unreadable)],
        env={"OPAYO_SECURITY_KEY": KEY},
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: cannot read")
    assert result.output.strip().count("\n") == 0


@pytest.mark.parametrize("vendor", ["", "   "])
def test_cli_an_empty_vendor_is_one_line_and_exit_2_before_any_prompt(
    tmp_path: Path, vendor: str
) -> None:
    body = tmp_path / "notification.txt"
    body.write_text(urlencode(signed_fields()))
    result = CliRunner().invoke(
        app, ["opayo", "verify-notification", "--vendor", vendor, str(body)]
    )
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: --vendor")
    assert "Security key" not in result.output
    assert "Traceback" not in result.output


def test_cli_without_a_key_and_no_terminal_says_how_to_give_it(tmp_path: Path) -> None:
    body = tmp_path / "notification.txt"
    body.write_text(urlencode(signed_fields()))
    result = CliRunner().invoke(
        app, ["opayo", "verify-notification", "--vendor", VENDOR, str(body)]
    )
    assert result.exit_code == 2
    assert "OPAYO_SECURITY_KEY" in result.output
