"""Reading a message the way an engineer reads it: the structured error inside it first, whatever its wrapping.

Azure ML and the Azure SDKs report failures as JSON (`{"error": {"code": "UserError", "innerError": {"code": ...}}}`),
often as a string inside another JSON document (a pipeline step's error holds its child's error as escaped text), in
an SDK exception's text, or cut off. `message_lines` turns one message into the lines the catalogue reads: the
message's own lines, then one `Error code: <code>` line per code found at any depth (innermost last) and the decoded
text of every nested message, so that escaped quotes and `\\n` inside a string no longer hide a signature.
Nothing here raises: malformed JSON, binary noise and huge messages all come back as lines.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

MAX_MESSAGE_CHARS = 1 << 20     # longer messages keep their head and their tail (where a traceback ends)
_HEAD_CHARS = 256 << 10
MAX_LINE_CHARS = 4000           # the scanner's line length; longer lines are cut into pieces of this size
_MAX_JSON_STARTS = 8            # `{` positions tried per text, so a message full of braces stays linear
_MAX_DEPTH = 6                  # JSON inside a string inside JSON ..., this deep at most
_CODE_KEYS = {"code", "errorcode", "error_code", "innererrorcode", "status", "statuscode", "status_code", "reason",
              "type", "errortype", "error_type"}
_TEXT_KEYS = {"message", "msg", "error", "errormessage", "error_message", "details", "detail", "description",
              "reason", "value", "target", "exception", "traceback", "stacktrace", "stack_trace", "log", "stderr"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")
_ESCAPED_NEWLINE = re.compile(r"\\r?\\n")


def normalise(message: Any) -> str:
    """Any value as bounded, printable text.

    bytes are decoded as UTF-8 with replacement characters (never an error), dicts and lists become their JSON,
    control characters become spaces, and a message over MAX_MESSAGE_CHARS keeps its head and its tail.
    """
    if message is None:
        return ""
    if isinstance(message, (bytes, bytearray)):
        text = bytes(message[: MAX_MESSAGE_CHARS * 4]).decode("utf-8", errors="replace")
    elif isinstance(message, str):
        text = message
    elif isinstance(message, (dict, list)):
        try:
            text = json.dumps(message, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = str(message)
    else:
        text = str(message)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:_HEAD_CHARS] + "\n...\n" + text[-(MAX_MESSAGE_CHARS - _HEAD_CHARS):]
    if "\x00" in text or _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    if text.isascii():
        return text  # no surrogate can hide in ASCII: skip the copy below
    # Surrogates (from a lone escape in JSON) cannot be encoded later on; replace them now.
    return text.encode("utf-8", errors="replace").decode("utf-8")


def message_lines(text: str) -> list[str]:
    """The lines the catalogue reads for one message: its own lines, then what its structured errors say.

    Args:
        text: an already normalised message.

    Returns:
        Lines, none longer than MAX_LINE_CHARS; at least one (possibly empty) line.
    """
    lines = _cut(text.splitlines()) or [""]
    if "{" in text or "\\n" in text:
        extra: list[str] = []
        codes: list[str] = []
        for document in _json_documents(text):
            _walk(document, extra, codes, 0)
        if "\\n" in text and not extra:
            # An escaped traceback outside any parseable JSON (a cut-off error body): read it as lines too.
            extra += _ESCAPED_NEWLINE.sub("\n", text).replace('\\"', '"').splitlines()
        lines += _cut(extra) + [f"Error code: {code}" for code in codes]
    return lines


def _cut(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if len(line) <= MAX_LINE_CHARS:
            out.append(line)
        else:
            out += [line[i:i + MAX_LINE_CHARS] for i in range(0, len(line), MAX_LINE_CHARS)]
    return out


def _json_documents(text: str) -> Iterator[Any]:
    """Every JSON object or array that can be decoded from `text` (the whole text, else from its first braces)."""
    stripped = text.strip()
    if stripped[:1] in "{[":
        try:
            yield json.loads(stripped)
            return
        except (ValueError, RecursionError):
            pass
    decoder = json.JSONDecoder()
    start, tried = text.find("{"), 0
    while start != -1 and tried < _MAX_JSON_STARTS:
        tried += 1
        try:
            document, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            start = text.find("{", start + 1)
            continue
        yield document
        start = text.find("{", end)


def _walk(value: Any, lines: list[str], codes: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            lowered = str(key).lower()
            if lowered in _CODE_KEYS and isinstance(item, (str, int)) and not isinstance(item, bool):
                code = str(item).strip()
                if code and len(code) < 200 and "\n" not in code:
                    if lowered in ("status", "statuscode", "status_code") and code.isdigit():
                        lines.append(f"HTTP status code {code} from {_service(value)}")
                    else:
                        codes.append(code)
                    if lowered not in _TEXT_KEYS:
                        continue
            _walk(item, lines, codes, depth + 1)
    elif isinstance(value, list):
        for item in value[:200]:
            _walk(item, lines, codes, depth + 1)
    elif isinstance(value, str) and value.strip():
        text = value
        lines.extend(text.splitlines())
        if "{" in text:
            for document in _json_documents(text):
                if isinstance(document, (dict, list)):
                    _walk(document, lines, codes, depth + 1)


def _service(record: dict) -> str:
    """What answered, as far as the record says: a URL or host in it, else 'the service'."""
    for key in ("url", "uri", "request_url", "requestUrl", "host", "service", "target"):
        value = record.get(key)
        if isinstance(value, str) and value:
            return value[:300]
    return "the service"
