"""Opayo's signature primitives, checked against vectors computed by hand with hashlib."""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opayo_fba.opayo.signatures import (
    build_reporting_request,
    compute_reporting_signature,
    compute_vps_signature,
    escape_xml_text,
    signatures_match,
    verify_reporting_signature,
    verify_vps_signature,
)

NOTIFICATION = {
    "VPSProtocol": "4.00",
    "TxType": "DEFERRED",
    "VendorTxCode": "order-1001",
    "VPSTxId": "{2C1A4B0E-8D3F-4F7A-9E21-0A1B2C3D4E5F}",
    "Status": "OK",
    "StatusDetail": "0000 : The Authorisation was Successful.",
    "TxAuthNo": "8341234",
    "AVSCV2": "ALL MATCH",
    "AddressResult": "MATCHED",
    "PostCodeResult": "MATCHED",
    "CV2Result": "MATCHED",
    "GiftAid": "0",
    "3DSecureStatus": "OK",
    "CAVV": "AAABARR5kwAAAAAAAAAAAAAAAAA=",
    "CardType": "VISA",
    "Last4Digits": "0006",
    "DeclineCode": "00",
    "ExpiryDate": "1230",
    "BankAuthCode": "999777",
    "ACSTransID": "acs-1",
    "DSTransID": "ds-1",
    "SchemeTraceID": "trace-1",
    "Token": "{TOKEN-NOT-SIGNED}",
}
SECURITY_KEY = "ABCDEFGH12"

# Written out field by field from the reference's order, so a mistake in the code's order
# table cannot hide in the test. Empty: AddressStatus, PayerStatus, FraudResponse; Token is
# excluded because TxType is not TOKEN.
HAND_CONCATENATION = (
    "{2C1A4B0E-8D3F-4F7A-9E21-0A1B2C3D4E5F}"  # VPSTxId, braces kept
    "order-1001"  # VendorTxCode
    "OK"  # Status
    "8341234"  # TxAuthNo
    "myshop"  # lowercase(VendorName)
    "ALL MATCH"  # AVSCV2
    ""  # Token (TxType is DEFERRED)
    "ABCDEFGH12"  # SecurityKey
    "MATCHED"  # AddressResult
    "MATCHED"  # PostCodeResult
    "MATCHED"  # CV2Result
    "0"  # GiftAid
    "OK"  # 3DSecureStatus
    "AAABARR5kwAAAAAAAAAAAAAAAAA="  # CAVV
    ""  # AddressStatus
    ""  # PayerStatus
    "VISA"  # CardType
    "0006"  # Last4Digits
    "00"  # DeclineCode
    "1230"  # ExpiryDate
    ""  # FraudResponse
    "999777"  # BankAuthCode
    "acs-1"  # ACSTransID
    "ds-1"  # DSTransID
    "trace-1"  # SchemeTraceID
)
HAND_SIGNATURE = hashlib.md5(HAND_CONCATENATION.encode()).hexdigest().upper()


def test_vps_signature_matches_the_hand_computed_vector() -> None:
    assert compute_vps_signature(NOTIFICATION, vendor_name="MyShop", security_key=SECURITY_KEY) == (
        HAND_SIGNATURE
    )
    # Pinned as a literal too, so an edit to the concatenation above cannot go unnoticed.
    assert HAND_SIGNATURE == "867CF86688CD8F381490243FA5B60695"


def test_token_counts_only_for_token_transactions() -> None:
    token_fields = {**NOTIFICATION, "TxType": "TOKEN"}
    with_token = compute_vps_signature(token_fields, vendor_name="myshop", security_key="K")
    without = compute_vps_signature(
        {**token_fields, "Token": ""}, vendor_name="myshop", security_key="K"
    )
    assert with_token != without
    deferred = compute_vps_signature(NOTIFICATION, vendor_name="myshop", security_key="K")
    assert deferred == compute_vps_signature(
        {**NOTIFICATION, "Token": ""}, vendor_name="myshop", security_key="K"
    )


def test_verification_is_case_insensitive_and_rejects_tampering() -> None:
    signed = {**NOTIFICATION, "VPSSignature": HAND_SIGNATURE.lower()}
    assert verify_vps_signature(signed, vendor_name="MYSHOP", security_key=SECURITY_KEY)
    assert not verify_vps_signature(
        {**signed, "Status": "NOTAUTHED"}, vendor_name="myshop", security_key=SECURITY_KEY
    )
    assert not verify_vps_signature(signed, vendor_name="myshop", security_key="WRONGKEY00")
    assert not verify_vps_signature(NOTIFICATION, vendor_name="myshop", security_key=SECURITY_KEY)
    assert not verify_vps_signature(
        {**NOTIFICATION, "VPSSignature": "not hex é"}, vendor_name="myshop", security_key="K"
    )


def test_missing_fields_count_as_empty() -> None:
    minimal = {"VPSTxId": "{A}", "VendorTxCode": "v", "Status": "ABORT"}
    expected = hashlib.md5(b"{A}vABORTshopKEY").hexdigest().upper()
    assert compute_vps_signature(minimal, vendor_name="Shop", security_key="KEY") == expected


def test_signatures_match() -> None:
    assert signatures_match("ABC123", "abc123")
    assert not signatures_match("ABC123", "ABC124")
    assert not signatures_match("ABC123", "")


def test_reporting_signature_matches_the_hand_computed_vector() -> None:
    parameters = [("startdate", "01/02/2026 00:00:00"), ("enddate", "02/02/2026 00:00:00")]
    hand = hashlib.md5(
        b"<command>getBatchList</command><vendor>sandbox</vendor><user>sandbox-user</user>"
        b"<startdate>01/02/2026 00:00:00</startdate><enddate>02/02/2026 00:00:00</enddate>"
        b"<password>sandbox-password</password>"
    ).hexdigest()
    signature = compute_reporting_signature(
        command="getBatchList",
        vendor="sandbox",
        user="sandbox-user",
        parameters=parameters,
        password="sandbox-password",
    )
    assert signature == hand
    document = build_reporting_request(
        command="getBatchList",
        vendor="sandbox",
        user="sandbox-user",
        parameters=parameters,
        password="sandbox-password",
    )
    assert document == (
        "<vspaccess><command>getBatchList</command><vendor>sandbox</vendor>"
        "<user>sandbox-user</user><startdate>01/02/2026 00:00:00</startdate>"
        f"<enddate>02/02/2026 00:00:00</enddate><signature>{hand}</signature></vspaccess>"
    )
    assert "sandbox-password" not in document
    common = {"command": "getBatchList", "vendor": "sandbox", "user": "sandbox-user"}
    assert verify_reporting_signature(
        **common, parameters=parameters, password="sandbox-password", signature=hand.upper()
    )
    assert not verify_reporting_signature(
        **common, parameters=parameters, password="other", signature=hand
    )
    assert not verify_reporting_signature(
        **common, parameters=parameters[:1], password="sandbox-password", signature=hand
    )


def test_reporting_values_are_escaped_as_sent() -> None:
    parameters = [("vendortxcode", "a&b<c")]
    document = build_reporting_request(
        command="getTransactionDetail", vendor="v", user="u", parameters=parameters, password="p"
    )
    assert "<vendortxcode>a&amp;b&lt;c</vendortxcode>" in document
    expected = hashlib.md5(
        b"<command>getTransactionDetail</command><vendor>v</vendor><user>u</user>"
        b"<vendortxcode>a&amp;b&lt;c</vendortxcode><password>p</password>"
    ).hexdigest()
    assert f"<signature>{expected}</signature>" in document


@pytest.mark.parametrize("name", ["password", "signature x", "", "vendor"])
def test_reporting_request_rejects_bad_parameter_names(name: str) -> None:
    with pytest.raises(ValueError, match="parameter name"):
        build_reporting_request(
            command="getBatchList", vendor="v", user="u", parameters=[(name, "x")], password="p"
        )


def test_a_successful_token_registration_is_signed_the_token_way() -> None:
    # omnipay-sagepay ServerNotifyTrait: VPSTxId without braces, nothing after SecurityKey.
    import hashlib

    from opayo_fba.opayo.signatures import compute_vps_signature, verify_vps_signature

    fields = {
        "TxType": "TOKEN",
        "Status": "OK",
        "VPSTxId": "{AB-CD}",
        "VendorTxCode": "tok-1",
        "AVSCV2": "ALL MATCH",
        "Token": "TOK",
        "CardType": "VISA",
        "Last4Digits": "0006",
    }
    base = "AB-CD" + "tok-1" + "OK" + "" + "vendor" + "ALL MATCH" + "TOK" + "KEY"
    expected = hashlib.md5(base.encode()).hexdigest().upper()
    assert compute_vps_signature(fields, vendor_name="Vendor", security_key="KEY") == expected
    aborted = {**fields, "Status": "ABORT"}
    full = "{AB-CD}tok-1ABORTvendorALL MATCHTOKKEY" + "VISA0006"
    assert compute_vps_signature(aborted, vendor_name="Vendor", security_key="KEY") == (
        hashlib.md5(full.encode()).hexdigest().upper()
    )
    assert verify_vps_signature(
        {**fields, "VPSSignature": expected.lower()}, vendor_name="vendor", security_key="KEY"
    )


@given(st.text(alphabet=st.sampled_from("&<>;amp lgt#x\"'\u00e9"), max_size=40) | st.text())
def test_reporting_values_are_escaped_as_xml_sax_escapes_them(value: str) -> None:
    assert escape_xml_text(value) == escape(value)


def test_an_escaped_value_is_its_entities() -> None:
    assert escape_xml_text("R&D <a> &amp;") == "R&amp;D &lt;a&gt; &amp;amp;"
