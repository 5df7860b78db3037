"""Provider token formats: the prefix that names a token and the body that follows it.

Facts (prefix, alphabet, length) carried over from the maintained secret-scanning lists:
gitleaks' default rules (``config/gitleaks.toml``), GitHub's supported secret-scanning
patterns (which name the provider and token type), and, for the types GitHub lists without a
format (Replicate, xAI, Pinecone, LangSmith, Docker…), trufflehog's detectors.

Each body is a *minimum*: a longer run of the same alphabet is taken whole, so a format that
grows still goes out redacted, and whatever joins the token on (``.01abcdefg``, ``/part``,
``==``) is taken with it (:data:`TAIL`). A shape whose prefix also starts ordinary words or
names (``secret_``, ``key-``, ``API-``, ``sk-``) is redacted only when its body looks random
(:func:`~amas_telemetry._internal.redact.engine.looks_random`).

What the lists have but this table leaves to other rules: formats with no prefix (an AWS
secret access key, a Mistral or Azure OpenAI key: 32 or 40 random characters) are secrets
only by their name (``aws_secret_access_key=…``, ``MISTRAL_API_KEY: …``), which
:data:`~amas_telemetry._internal.redact.rules.PAIRS` handles; PEM blocks, URL credentials and
``Authorization`` headers have rules of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["KEY_SHAPES", "TAIL", "KeyShape"]


@dataclass(frozen=True, slots=True)
class KeyShape:
    """``prefix`` + ``body`` (RE2, case-sensitive) is one provider's token.

    ``trigger``: a case-insensitive RE2 fragment every such token holds (the prefix when it
    is unset), for the cheap pre-check that lets ordinary text skip the scan. ``random``:
    the body must look random (the prefix also starts ordinary words).
    """

    provider: str
    prefix: str
    body: str
    trigger: str = ""
    random: bool = False

    def __post_init__(self) -> None:
        if self.random and not self.prefix.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"{self.provider}: a shape checked for a random body needs a literal prefix")

    @property
    def pattern(self) -> str:
        return self.prefix + self.body

    @property
    def trigger_pattern(self) -> str:
        return self.trigger or self.prefix


_ALNUM = "[A-Za-z0-9]"
_URLSAFE = r"[A-Za-z0-9_\-]"
_HEX = "[a-f0-9]"
_B64 = "[A-Za-z0-9+/]"

TAIL: Final = r"(?:(?:[.:~+/=]|%(?:2[BbFf]|3[AaDd]))[A-Za-z0-9_\-]+)*(?:=|%3[Dd])*"
"""What may join a token on: parts after ``.`` ``:`` ``~`` ``+`` ``/`` ``=`` (also
percent-encoded), base64 padding."""

KEY_SHAPES: Final[tuple[KeyShape, ...]] = (
    # --- AI providers ------------------------------------------------------------------------
    # OpenAI (sk-proj-, sk-svcacct-, sk-admin-, legacy), Anthropic (sk-ant-api03-,
    # sk-ant-admin01-), OpenRouter (sk-or-v1-), DeepSeek, Langfuse (sk-lf-)
    KeyShape("OpenAI, Anthropic, OpenRouter, DeepSeek, Langfuse", "sk-", _URLSAFE + "{16,}", random=True),
    KeyShape("ElevenLabs", "sk_", _HEX + "{40,}"),
    KeyShape("Perplexity", "pplx-", _ALNUM + "{40,}"),
    KeyShape("Replicate", "r8_", _URLSAFE + "{30,}", random=True),
    KeyShape("xAI", "xai-", "[A-Za-z0-9_]{60,}"),
    KeyShape("Groq", "gsk_", _ALNUM + "{40,}"),
    KeyShape("Hugging Face user token", "hf_", _ALNUM + "{30,}"),
    KeyShape("Hugging Face organization token", "api_org_", _ALNUM + "{30,}"),
    KeyShape("Pinecone", "pcsk_", _ALNUM + "{4,8}_" + _ALNUM + "{50,}"),
    KeyShape("LangSmith", "lsv2_(?:pt|sk)_", _HEX + "{32}_" + _HEX + "{10}", trigger="lsv2_"),
    KeyShape("NVIDIA", "nvapi-", _URLSAFE + "{50,}"),
    KeyShape("Google API key (Gemini, Maps…)", "AIza", r"[0-9A-Za-z_\-]{35}"),
    KeyShape("Google OAuth access token", r"ya29\.", r"[0-9A-Za-z_\-]{20,}", trigger=r"ya29\."),
    KeyShape("Google OAuth client secret", "GOCSPX-", _URLSAFE + "{24,}"),
    # --- clouds and infrastructure -----------------------------------------------------------
    KeyShape(
        "AWS access key id",
        "(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA|ABIA|ACCA)",
        "[A-Z0-9]{16}",
        trigger="a3t|akia|agpa|aida|aroa|aipa|anpa|anva|asia|abia|acca",
    ),
    KeyShape("Amazon Bedrock API key", "ABSK", _B64 + "{100,}"),
    KeyShape("Azure AD client secret", "", r"[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34}", trigger="q~"),
    KeyShape("Azure container registry password", "", _B64 + r"{42}\+ACR" + _ALNUM + "{6}", trigger=r"\+acr"),
    KeyShape("Alibaba Cloud access key id", "LTAI", _ALNUM + "{20}"),
    KeyShape("DigitalOcean", "do[opr]_v1_", _HEX + "{64}", trigger="do[opr]_v1_"),
    KeyShape("Heroku", "HRKU-AA", _URLSAFE + "{50,}"),
    KeyShape("Fly.io", "fo1_", "[A-Za-z0-9_\\-]{43}"),
    KeyShape("Fly.io macaroon", "fm[12][ar]?_", _B64 + "{100,}", trigger="fm[12][ar]?_"),
    KeyShape("Yandex Cloud API key", "AQVN", _URLSAFE + "{35,}"),
    KeyShape("Cloudflare origin CA key", r"v1\.0-", _HEX + "{24}-" + _HEX + "{146}", trigger=r"v1\.0-"),
    KeyShape("Databricks", "dapi", _HEX + "{32}"),
    KeyShape("DataStax Astra", "AstraCS:", _ALNUM + "{24}:" + _HEX + "{64}"),
    KeyShape("Supabase", "sbp_", "[a-z0-9]{40}"),
    KeyShape("Tailscale", "tskey-", "[a-z]+-" + _ALNUM + "{8,}-" + _ALNUM + "{16,}"),
    KeyShape("HashiCorp Vault", r"hv[sb]\.", _URLSAFE + "{90,}", trigger=r"hv[sb]\."),
    KeyShape(
        "Terraform Cloud", "", r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,}", trigger=r"\.atlasv1\."
    ),
    KeyShape("Pulumi", "pul-", _HEX + "{40}"),
    KeyShape("PlanetScale", "pscale_(?:tkn|pw|oauth)_", r"[A-Za-z0-9_=.\-]{32,}", trigger="pscale_"),
    KeyShape("1Password service account", "ops_eyJ", _B64 + "{250,}"),
    KeyShape(
        "1Password secret key",
        "A3-",
        "[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}",
    ),
    KeyShape("age secret key", "AGE-SECRET-KEY-1", "[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    KeyShape("Doppler", r"dp\.(?:pt|st|ct|sa|scim|audit)\.", _URLSAFE + "{40,}", trigger=r"dp\.[a-z]+\."),
    KeyShape("Dynatrace", r"dt0c01\.", _ALNUM + r"{24}\." + _ALNUM + "{64}", trigger=r"dt0c01\."),
    KeyShape("OpenShift", "sha256~", _URLSAFE + "{43}"),
    KeyShape("ClickHouse Cloud", "4b1d", _ALNUM + "{38}"),
    # --- code hosting, CI, registries --------------------------------------------------------
    KeyShape(
        "GitHub classic, OAuth, user/server-to-server, refresh",
        "gh[pousr]_",
        _ALNUM + "{30,}",
        trigger="gh[pousr]_",
    ),
    KeyShape("GitHub fine-grained token", "github_pat_", "[A-Za-z0-9_]{22,}"),
    KeyShape(
        "GitLab",
        "gl(?:pat|dt|rt|soat|ft|ffct|imt|agent|oas|ptt|cbt)-",
        _URLSAFE + "{20,}",
        trigger="gl(?:pat|dt|rt|soat|ft|ffct|imt|agent|oas|ptt|cbt)-",
    ),
    KeyShape("GitLab runner registration", "GR1348941", _URLSAFE + "{20,}"),
    KeyShape("Bitbucket app password", "ATBB", r"[A-Za-z0-9_=.\-]{32,}"),
    KeyShape("Bitbucket Data Center", "BBDC-", r"[A-Za-z0-9+/@_\-]{40,}"),
    KeyShape("Atlassian API token", "AT[AC]TT3", r"[A-Za-z0-9_\-=]{150,}", trigger="at[ac]tt3"),
    KeyShape("Buildkite", "bkua_", "[a-z0-9]{40}"),
    KeyShape("CircleCI", "CCIPAT_", _ALNUM + "{22}_[a-fA-F0-9]{40}"),
    KeyShape("npm", "npm_", _ALNUM + "{36,}"),
    KeyShape("PyPI", "pypi-AgE", _URLSAFE + "{50,}"),
    KeyShape("RubyGems", "rubygems_", _HEX + "{48}"),
    KeyShape("Clojars", "CLOJARS_", "[a-z0-9]{60}"),
    KeyShape("Docker", "dckr_(?:pat|oat)_", _URLSAFE + "{27,}", trigger="dckr_"),
    KeyShape("Artifactory API key", "AKCp", _ALNUM + "{69}"),
    KeyShape("Artifactory reference token", "cmVmd", _ALNUM + "{59}"),
    KeyShape("Prefect", "pnu_", _ALNUM + "{36}"),
    KeyShape("ReadMe", "rdme_", "[a-z0-9]{70}"),
    KeyShape("Octopus Deploy", "API-", "[A-Z0-9]{26}", random=True),
    KeyShape(
        "Harness",
        r"(?:pat|sat)\.",
        _URLSAFE + r"{22}\." + _ALNUM + r"{24}\." + _ALNUM + "{20}",
        trigger=r"[ps]at\.",
    ),
    KeyShape("Scalingo", "tk-us-", _URLSAFE + "{48}"),
    KeyShape("Infracost", "ico-", _ALNUM + "{32}", random=True),
    KeyShape("Sourcegraph", "sgp_", "(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}"),
    KeyShape("Postman", "PMAK-", "[a-fA-F0-9]{24}-[a-fA-F0-9]{34}"),
    KeyShape("Figma", "figp_", r"[A-Za-z0-9_=\-]{40,}"),
    KeyShape("Contentful", "CFPAT-", _URLSAFE + "{43}"),
    KeyShape("Linear", "lin_api_", _ALNUM + "{40}"),
    KeyShape("Notion", "ntn_", "[0-9]{11}" + _ALNUM + "{35}"),
    KeyShape("Notion (legacy)", "secret_", _ALNUM + "{43}", random=True),
    # --- messaging, payments, SaaS -----------------------------------------------------------
    KeyShape("Slack", "xox[abposre]-", r"[A-Za-z0-9\-]{10,}", trigger="xox"),
    KeyShape("Slack configuration token", r"xoxe\.xox[bp]-", r"[A-Za-z0-9\-]{10,}", trigger="xox"),
    KeyShape("Slack app-level token", "xapp-", r"[A-Za-z0-9\-]{10,}"),
    KeyShape(
        "Slack webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/",
        "[A-Za-z0-9_/]{20,}",
        trigger=r"hooks\.slack",
    ),
    KeyShape(
        "Stripe secret and restricted keys",
        "[sr]k_(?:live|test|prod)_",
        _ALNUM + "{10,}",
        trigger="k_(?:live|test|prod)_",
    ),
    KeyShape("Stripe webhook secret", "whsec_", "[A-Za-z0-9+/=]{16,}"),
    KeyShape("Twilio API key", "SK", "[0-9a-fA-F]{32}", trigger="sk[0-9a-f]{32}"),
    KeyShape("SendGrid", r"SG\.", _URLSAFE + r"{16,}\." + _URLSAFE + "{16,}", trigger=r"sg\."),
    KeyShape("Brevo (Sendinblue)", "xkeysib-", _HEX + "{64}-" + _ALNUM + "{16}"),
    KeyShape("Brevo SMTP", "xsmtpsib-", _HEX + "{64}-" + _ALNUM + "{16}"),
    KeyShape("Mailgun", "key-", _HEX + "{32}"),
    KeyShape("Mailchimp", "", _HEX + "{32}-us[0-9]{1,2}", trigger=r"-us[0-9]"),
    KeyShape("Shopify", "shp(?:at|ca|pa|ss)_", "[a-fA-F0-9]{32}", trigger="shp(?:at|ca|pa|ss)_"),
    KeyShape("Square, Facebook", "EAA[ACM]", _URLSAFE + "{60,}", trigger="eaa[acm]"),
    KeyShape("Square OAuth", "sq0(?:atp|csp|idp)-", _URLSAFE + "{22,}", trigger="sq0"),
    KeyShape("Telegram bot", "[0-9]{8,10}:", _URLSAFE + "{35}", trigger=r"[0-9]:[a-z0-9_\-]{35}"),
    KeyShape(
        "Discord bot",
        "",
        "[MNO]" + _URLSAFE + r"{23,25}\." + _URLSAFE + r"{6}\." + _URLSAFE + "{27,38}",
        trigger=r"[mno][a-z0-9_\-]{23}[a-z0-9_\-]{0,2}\.[a-z0-9_\-]{6}\.",
    ),
    KeyShape("Grafana service account", "glsa_", _ALNUM + "{32}_[A-Fa-f0-9]{8}"),
    KeyShape("Grafana Cloud", "glc_", _B64 + "{32,}"),
    KeyShape("Grafana API key", "eyJrIjoi", _ALNUM + "{70,}"),
    KeyShape("New Relic", "NR(?:AK|II|JS|IQ|BR)-", _URLSAFE + "{19,}", trigger="nr(?:ak|ii|js|iq|br)-"),
    KeyShape("Sentry user token", "sntryu_", _HEX + "{64}"),
    KeyShape("Sentry organization token", "sntrys_eyJ", r"[A-Za-z0-9+/=_]{100,}"),
    KeyShape("PostHog personal key", "phx_", "[A-Za-z0-9_]{40,}"),
    KeyShape("Frame.io", "fio-u-", r"[A-Za-z0-9_=\-]{64}"),
    KeyShape("Typeform", "tfp_", r"[A-Za-z0-9_\-.=]{40,}"),
    KeyShape("Duffel", "duffel_(?:test|live)_", r"[A-Za-z0-9_\-=]{43}", trigger="duffel_"),
    KeyShape("EasyPost", "EZ[AT]K", _ALNUM + "{54}", trigger="ez[at]k"),
    KeyShape(
        "Flutterwave", "FLW(?:SECK|PUBK)(?:_TEST)?-", "[a-hA-H0-9]{12,32}(?:-X)?", trigger="flw(?:seck|pubk)"
    ),
    KeyShape("Shippo", "shippo_(?:live|test)_", "[a-fA-F0-9]{40}", trigger="shippo_"),
    KeyShape("Adobe client secret", "p8e-", _ALNUM + "{32}"),
    KeyShape("MaxMind license key", "", _ALNUM + "{6}_" + _ALNUM + "{29}_mmk", trigger="_mmk"),
    KeyShape("SettleMint", "sm_(?:pat|aat|sat)_", _ALNUM + "{16}", trigger="sm_[ps]at_|sm_aat_"),
    KeyShape("Rootly", "rootly_", _HEX + "{64}"),
    KeyShape("Ramp", "ramp_(?:id|sec)_", _ALNUM + "{40,}", trigger="ramp_"),
    KeyShape("42 Intra", "s-s4t2(?:ud|af)-", _HEX + "{64}", trigger="s-s4t2"),
    KeyShape("JWT (also unsigned)", "eyJ", r"[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"),
)
