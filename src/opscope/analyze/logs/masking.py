"""Token masking: turn the variable parts of one log token into ``<*>``.

One set of rules for every source, taken from how people label log templates (the
corrections of Khan et al., ICSE 2022, and the Loghub-2.0 post-processing rules): numbers,
hex ids, IPs and ports, UUIDs, paths, URLs, timestamps, sizes and durations are variables;
punctuation that merely surrounds a value (brackets, quotes, ``key=``, a trailing comma)
stays in the template, so ``(TID 12).`` becomes ``(TID <*>).`` and ``uid=0`` becomes
``uid=<*>``.

The rules work on three levels of one whitespace token:

* *chunks* split at separators that never belong to a value (``, ; : = | " ' ( ) [ ] { }
  < > @ !``), so that ``10.0.0.1:50010`` gives two values and ``key=value`` keeps its key;
* a chunk that is a whole path (``/var/log/x``) or an address with three or more dotted
  parts around a value (``host-7.example.org``, ``10.1.2.3``) is one value;
* otherwise each *unit* (a run of letters, digits, ``_`` and ``-``) is a value when one of
  its ``-``/``_`` parts starts with a digit (``42``, ``4G``, ``0x1f``, ``blk_-17``,
  ``node-07``) or it is a long hex string. Units that only end in digits are names
  (``ssh2``, ``eth0``, ``fpr29``) and stay.
"""

from __future__ import annotations

import re

WILDCARD = "<*>"

# Characters that separate a value from the text around it inside one token.
CHUNK_SPLIT = re.compile(r"([,;:=|\"'\[\](){}<>@!])")
_PATH = re.compile(r"^(?:~|\.{1,2})?(?:/+[^/]+)+/*$")
# MAC addresses, WWNs and fingerprints: hex pairs joined by colons or dashes.
_MAC = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{2}[:-]){5,}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:])")
_WINDOWS_PATH = re.compile(r"[A-Za-z]:\\")
_UNIT = re.compile(r"[A-Za-z0-9_\-]+")
_HEX = re.compile(r"^(?:0[xX])?[0-9a-fA-F]+$")
# Lower-case dotted names with three or more parts are host or package names
# (``proxy.example.org``, ``com.example.app``); class names (``java.io.IOException``)
# carry capitals and stay.
_DOTTED_NAME = re.compile(r"^[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*){2,}$")
_PART_SPLIT = re.compile(r"[-_]")
_VERSION = re.compile(r"^[vV]\d+$")
_DOTTED_WILDCARDS = re.compile(r"<\*>(?:\.<\*>)+")
_ADDRESS = re.compile(r"^[\w\-<>*]+(?:\.[\w\-<>*]+){2,}$")
# A token that holds none of these can only be a constant: the cheap test done first.
# Whole-token values that need none of the finer rules: numbers, IPs, hex.
_PLAIN_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d+)*|0[xX][0-9a-fA-F]+)$")
_ADDRESS_PORT = re.compile(r"^/?\d{1,3}(?:\.\d{1,3}){3}:\d+$")
_SUSPECT = re.compile(r"[0-9/\\]|true|false|null|root|admin|[a-f]{8}|[a-z]\.[a-z][\w-]*\.[a-z]",
                      re.IGNORECASE)
# Words that name a value rather than describe the event (Loghub-2.0 correction rules).
_VALUE_WORDS = frozenset({"true", "false", "null", "root", "admin"})
_TRAILING_PUNCT = ")]}>,;.'\"!?:"


def _unit_is_variable(unit: str) -> bool:
    if unit.lower() in _VALUE_WORDS or _VERSION.match(unit):
        return True
    if unit[0].isdigit():
        return True
    if "-" in unit or "_" in unit:
        for part in _PART_SPLIT.split(unit):
            if part and part[0].isdigit():
                return True
    # Letters-first hex of some length (``deadbeef``, ``a64f992``) is an id, not a word.
    if len(unit) < 6 or _HEX.match(unit) is None:
        return False
    return len(unit) >= 8 or any(ch.isdigit() for ch in unit)


def _mask_unit(match: re.Match[str]) -> str:
    unit = match.group(0)
    return WILDCARD if _unit_is_variable(unit) else unit


def _mask_chunk(chunk: str, names: bool) -> str:
    if not chunk or chunk in "@:=,;|\"'[](){}<>!":
        return chunk
    if chunk[0] in "/~." and _PATH.match(chunk):
        return WILDCARD
    if names and "." in chunk and _DOTTED_NAME.match(chunk):
        return WILDCARD
    masked = _UNIT.sub(_mask_unit, chunk)
    if WILDCARD not in masked:
        return masked
    masked = _DOTTED_WILDCARDS.sub(WILDCARD, masked)
    # Dotted names with three or more parts around a value are addresses as a whole
    # (host names, versions, IPs); two parts (``core.17``) keep their constant word.
    if masked.count(".") >= 2 and _ADDRESS.match(masked):
        return WILDCARD
    while "<*><*>" in masked:
        masked = masked.replace("<*><*>", WILDCARD)
    return masked


def _wildcard_tail(token: str, start: int) -> str:
    """Mask ``token[start:]`` as one value, keeping closing punctuation after it."""
    rest = token[start:]
    core = rest.rstrip(_TRAILING_PUNCT)
    if not core:
        return token
    return token[:start] + WILDCARD + rest[len(core):]


def mask_token(token: str, names: bool = True) -> str:
    """Return ``token`` with each variable part replaced by ``<*>``.

    ``names=False`` keeps dotted names: the first word of a message names the event.
    """
    if _SUSPECT.search(token) is None:
        return token
    if " " in token:
        # A quoted value kept whole by the tokenizer: each word follows the usual rules.
        return " ".join(mask_token(part, names) for part in token.split(" "))
    if token.isdigit() or _PLAIN_NUMBER.match(token):
        return WILDCARD
    if _ADDRESS_PORT.match(token):
        return "<*>:<*>"  # what the chunk rules give, found without them: very common
    scheme = token.find("://")
    if scheme > 0:
        return _wildcard_tail(token, scheme + 3)
    mac = _MAC.search(token)
    if mac is not None:
        token = token[:mac.start()] + WILDCARD + token[mac.end():]
    win = _WINDOWS_PATH.search(token)
    if win is not None:
        return _wildcard_tail(token, win.start())
    parts = CHUNK_SPLIT.split(token)
    masked = "".join(_mask_chunk(part, names) for part in parts)
    while "<*><*>" in masked:
        masked = masked.replace("<*><*>", WILDCARD)
    return masked


_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# A written-out date with a clock time spans several tokens; it is one value, masked to
# the shape of its clock time as a lone ``hh:mm:ss`` token would be.
DATETIME_PHRASE = re.compile(
    rf"\b(?:(?:{_DAYS}),?\s+)?(?:{_MONTHS})\s+\d{{1,2}},?\s+(?:\d{{4}}\s+)?"
    rf"\d{{1,2}}:\d{{2}}:\d{{2}}(?:[.,]\d+)?(?:\s+\d{{4}}\b)?"
    rf"|\b\d{{4}}-\d{{2}}-\d{{2}}[T ]\d{{2}}:\d{{2}}:\d{{2}}(?:[.,]\d+)?(?:Z|[+-]\d{{2}}:?\d{{2}})?"
)
DATETIME_MASK = "<*>:<*>:<*>"


def mask_datetimes(message: str) -> str:
    """Replace multi-token date-times with one masked token (see ``DATETIME_PHRASE``)."""
    return DATETIME_PHRASE.sub(DATETIME_MASK, message)


class TokenMasker:
    """Masks tokens with a bounded cache: constants and common values repeat a lot."""

    def __init__(self, cache_size: int = 50_000) -> None:
        self._cache: dict[str, str] = {}
        self._first: dict[str, str] = {}  # first tokens, masked without the names rule
        self._cache_size = cache_size

    def mask(self, token: str) -> str:
        found = self._cache.get(token)
        if found is not None:
            return found
        masked = mask_token(token)
        if len(self._cache) >= self._cache_size:
            # Dropping everything is cheaper than LRU bookkeeping and the cache refills
            # from the tokens still in use within a few lines.
            self._cache.clear()
        self._cache[token] = masked
        return masked

    def mask_tokens(self, tokens: list[str]) -> list[str]:
        cache = self._cache
        out: list[str] = []
        if tokens and "." in tokens[0]:
            first = self._first.get(tokens[0])
            if first is None:
                first = mask_token(tokens[0], names=False)
                if len(self._first) >= self._cache_size:
                    self._first.clear()
                self._first[tokens[0]] = first
            out.append(first)
            tokens = tokens[1:]
        for token in tokens:
            found = cache.get(token)
            if found is None:
                # Plain numbers are the most common values: answered without caching
                # so that they do not crowd the constants out of the cache.
                found = WILDCARD if token.isdigit() else self.mask(token)
            out.append(found)
        return out


def is_variable_like(token: str) -> bool:
    """True when a token that differs between two lines reads like a value, not a word."""
    return WILDCARD in mask_token(token)
