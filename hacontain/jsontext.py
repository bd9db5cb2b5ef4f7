"""JSON text through the standard library's C codec, `_json`, without json's Python
layers: json.decoder and json.encoder import re (and enum), several milliseconds
of CPU on every agent action that reads or writes a state file (the depth-0 monitor
included). Same text and same values as json.dumps / json.loads with their
defaults."""

import _json

_WHITESPACE = " \t\n\r"


class _Decoding:
    """What the C scanner reads off its context object (json.JSONDecoder's defaults)."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float           # NaN, Infinity, -Infinity


def _unserializable(value):
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_scan = _json.make_scanner(_Decoding())
_encode = _json.make_encoder(None, _unserializable, _json.encode_basestring_ascii, None,
                             ": ", ", ", False, False, True)


def loads(text):
    """The value of JSON `text` (a str); ValueError when it is not one whole JSON value."""
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan_from(text, start)
    except SystemError:
        # _json raises its syntax errors as json.decoder's JSONDecodeError, and only
        # once that module is loaded (with re and enum): load it, read again.
        import json.decoder  # noqa: F401
        value, end = _scan_from(text, start)
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return value


def _scan_from(text, start):
    try:
        return _scan(text, start)
    except StopIteration as stop:
        raise ValueError(f"expecting a JSON value at character {stop.value}") from None


def dumps(value):
    """`value` as JSON text; TypeError for what JSON cannot hold."""
    return "".join(_encode(value, 0))
