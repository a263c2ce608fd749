"""What a secret looks like, as data: the field names whose values are secrets, and
the key and token formats recognisable on their own, in any text.

Kept apart from the code that applies them (``redaction``) so that the list is
read, reviewed and extended in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SENSITIVE_NAMES", "TOKEN_FORMATS", "SensitiveName", "TokenFormat"]


@dataclass(frozen=True, slots=True)
class SensitiveName:
    """A field name whose value is masked.

    ``words`` is written in snake case; a field matches when its own words (split
    at ``_``, ``-``, ``.``, spaces and camelCase, case ignored) contain them in
    order, the first one possibly ending a longer word: ``api_key`` matches
    ``apiKey``, ``X-API-KEY`` and ``openai_api_keys``. A plural matches too,
    unless ``last``: then the words must end the field's name, singular, so that
    ``token`` matches ``access_token`` and ``githubToken`` but not
    ``input_tokens``, ``token_count`` or ``token_type`` (counts and settings that
    traces are read for).
    """

    words: str
    last: bool = False


SENSITIVE_NAMES: tuple[SensitiveName, ...] = (
    SensitiveName("password"),
    SensitiveName("passwd"),
    SensitiveName("pwd"),
    SensitiveName("passphrase"),
    SensitiveName("secret"),  # client_secret, secret_key, secrets
    SensitiveName("credential"),
    SensitiveName("api_key"),
    SensitiveName("apikey"),
    SensitiveName("private_key"),
    SensitiveName("token", last=True),  # access_token, refresh_token, id_token, token
    SensitiveName("authorization", last=True),  # not authorization_url
)


@dataclass(frozen=True, slots=True)
class TokenFormat:
    """A secret recognisable by its shape, wherever it appears in text.

    ``markers`` are lower-case strings one of which every match contains: a
    cheap test of serialized data before any regex runs. ``pattern`` must not
    match inside a longer word: the redactor requires no letter or digit
    before it (``task-...`` is not an OpenAI key).
    """

    name: str
    markers: tuple[str, ...]
    pattern: str


_B64URL = r"[A-Za-z0-9_\-]"

TOKEN_FORMATS: tuple[TokenFormat, ...] = (
    TokenFormat(
        "Stripe secret or restricted key",
        ("k_live_", "k_test_"),
        r"[sr]k_(?:live|test)_[A-Za-z0-9]{10,}",
    ),
    TokenFormat(
        "GitHub token (personal, OAuth, app, refresh)",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        r"gh[pousr]_[A-Za-z0-9]{20,}",
    ),
    TokenFormat("GitHub fine-grained token", ("github_pat_",), r"github_pat_[A-Za-z0-9_]{20,}"),
    TokenFormat(
        "Slack token",
        ("xox",),
        r"xox[abprs]-[A-Za-z0-9\-]{10,}",
    ),
    TokenFormat("AWS access key id", ("akia",), r"AKIA[0-9A-Z]{16}"),
    TokenFormat("Google API key", ("aiza",), rf"AIza{_B64URL}{{35}}"),
    TokenFormat(
        "JSON Web Token",
        ("eyj",),
        rf"eyJ{_B64URL}{{10,}}\.{_B64URL}{{10,}}\.{_B64URL}{{10,}}",
    ),
    TokenFormat(
        "PEM private key (to its END line, or the end of a cut text)",
        ("private key-----",),
        r"(?s:-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$))",
    ),
    TokenFormat("Anthropic key", ("sk-ant-",), rf"sk-ant-{_B64URL}{{16,}}"),
    TokenFormat("OpenAI key (sk-, sk-proj-)", ("sk-",), rf"sk-{_B64URL}{{16,}}"),
    TokenFormat(
        "Bearer token in text",
        ("bearer",),
        r"(?i:bearer)\s+[A-Za-z0-9._~+/\-]{16,}=*",
    ),
)
