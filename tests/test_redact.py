"""The one secret redactor (tasks/redact.py): its whole contract in one place."""
from __future__ import annotations

import pytest

from tasks.redact import REDACTED, redact, redact_obj

SLACK_HOOK = "https://hooks.slack.com/" + "services/"

SECRETS = [
    ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + "k" * 86 + "==;EndpointSuffix=core.windows.net", "k" * 86),
    ("AccountKey=xyz==; the rest", "xyz=="),
    ("bare key " + "Q" * 86 + "== in a log", "Q" * 86),
    ("GET https://acct.blob.core.windows.net/c/b?sv=2019-07-07&sr=b&sig=abc%2Fdef%3D&se=2025", "abc%2Fdef%3D"),
    ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl", "eyJhbGciOiJSUzI1NiJ9"),
    ("Authorization: SharedKey acct:c2lnbmF0dXJlc2lnbmF0dXJl", "c2lnbmF0dXJlc2lnbmF0dXJl"),
    ("webhook " + SLACK_HOOK + "T0001/B0001/" + "abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx"),
    ("teams https://contoso.webhook.office.com/webhookb2/abc-def/IncomingWebhook/123/456", "IncomingWebhook/123"),
    ("Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0c2VjcmV0", "c2VjcmV0c2VjcmV0"),
    ("AZUREML_RUN_TOKEN=eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9", "eyJ0eXAiOiJKV1Qi"),
    ("client_secret: 'very-secret-value'", "very-secret-value"),
    ("HF token hf_abcdefghijklmnopqrstuvwxyzABCDEFGH used", "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_each_kind_of_secret_is_replaced_and_its_shape_kept(text, secret):
    cleaned = redact(text)
    assert secret not in cleaned and REDACTED in cleaned


def test_literal_secrets_are_removed_too_but_short_ones_are_ignored():
    assert redact("listing failed for token-of-the-day-123 at acct", "token-of-the-day-123") == \
        f"listing failed for {REDACTED} at acct"
    assert redact("a short value abc stays", "abc", None, "") == "a short value abc stays"


def test_ordinary_lines_come_back_unchanged():
    for line in ("INFO [3/12] images_1_003.avi 1.2s verdict=yes", "--max-new-tokens 160", "",
                 "Error Code: ScriptExecution.StreamAccess.NotFound",
                 "azureml://datastores/workspaceblobstore/paths/DADA-100-videos/"):
        assert redact(line) == line


def test_nested_structures_are_redacted_keys_included():
    value = {"url": SLACK_HOOK + "T1/B1/" + "s" * 24, ("tuple",): 1, "list": ["?sig=abcdefgh&x", 3],
             "AccountKey=" + "z" * 20: None}
    cleaned = redact_obj(value)
    text = repr(cleaned)
    assert "s" * 24 not in text and "abcdefgh" not in text and "z" * 20 not in text
    assert cleaned["list"][1] == 3 and cleaned[("tuple",)] == 1
