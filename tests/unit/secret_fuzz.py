"""An adversarial fuzz of secret shapes by the places text carries them, for the redaction tests.

**Shapes** are the token formats of the maintained secret-scanning lists, carried over as facts
(prefix, alphabet, length), not as code: gitleaks' default rules (``config/gitleaks.toml``),
GitHub's supported secret-scanning patterns (provider and token type), and for the types
GitHub lists without a format, trufflehog's detectors. Each shape gets a random body from a
seeded generator: the same cases every run. A *named* shape (an AWS secret access key, a
Mistral key: 32 or 40 random characters) is a secret only by the name it goes by, so it is
tried in the places that name it; a prefixed shape is tried everywhere.

**Places** are the ways text carries a secret (the issue's list and more): prose, quotes and
brackets, a stray ``=``, ``<`` or quote before it, env lines, headers, JSON (escaped, inside a
URL raw or percent-encoded), query values holding a ``Bearer``/``Basic`` credential, a JSON
object or a second ``?``-query, reprs, YAML, XML, CLI flags, connection strings, SQL.

A case leaks when any :data:`WINDOW` characters in a row of the secret's random part come
out, as they are or percent-decoded. ``python tests/unit/secret_fuzz.py`` prints leaks /
cases by kind (the count the issue quotes), ``--list`` every leaking text.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote, unquote_plus

WINDOW = 8
SEED = 21

_ALPHABETS = {
    "A": string.ascii_letters + string.digits,
    "a": string.ascii_lowercase + string.digits,
    "U": string.ascii_uppercase + string.digits,
    "h": "0123456789abcdef",
    "H": "0123456789ABCDEF",
    "d": string.digits,
    "u": string.ascii_letters + string.digits + "-_",  # URL-safe base64
    "w": string.ascii_letters + string.digits + "_",
    "b": string.ascii_letters + string.digits + "+/",  # base64
    "2": string.ascii_uppercase + "234567",  # base32
    "C": "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",  # bech32, upper case
}
_PART = re.compile(r"\{([A-Za-z0-9])(\d+)\}")


@dataclass(frozen=True)
class Shape:
    """A token format: ``spec`` is literal text with ``{A32}`` for 32 random characters of
    alphabet ``A`` (see ``_ALPHABETS``)."""

    provider: str
    spec: str
    source: str
    named: bool = False
    key: str = "api_key"

    def make(self, rng: random.Random) -> tuple[str, list[str]]:
        """A token and its random runs (what must not come out)."""
        runs: list[str] = []

        def fill(m: re.Match[str]) -> str:
            run = "".join(rng.choice(_ALPHABETS[m.group(1)]) for _ in range(int(m.group(2))))
            runs.append(run)
            return run

        return _PART.sub(fill, self.spec), runs


def _p(provider: str, spec: str, source: str) -> Shape:
    return Shape(provider, spec, source)


def _n(provider: str, spec: str, source: str, key: str) -> Shape:
    return Shape(provider, spec, source, named=True, key=key)


GL, GH, TH = "gitleaks:", "github:", "trufflehog:"

SHAPES: tuple[Shape, ...] = (
    # --- AI providers ----------------------------------------------------------------------
    _p("OpenAI project key", "sk-proj-{u74}T3BlbkFJ{u74}", GL + "openai-api-key"),
    _p("OpenAI service account key", "sk-svcacct-{u58}T3BlbkFJ{u58}", GL + "openai-api-key"),
    _p("OpenAI admin key", "sk-admin-{u58}T3BlbkFJ{u58}", GL + "openai-api-key"),
    _p("OpenAI legacy key", "sk-{A20}T3BlbkFJ{A20}", GL + "openai-api-key"),
    _p("Anthropic API key", "sk-ant-api03-{u93}AA", GL + "anthropic-api-key"),
    _p("Anthropic admin key", "sk-ant-admin01-{u93}AA", GL + "anthropic-admin-api-key"),
    _p("Perplexity API key", "pplx-{A48}", GL + "perplexity-api-key"),
    _p("Replicate API token", "r8_{u37}", GH + "replicate_api_token, " + TH + "replicate"),
    _p("xAI API key", "xai-{w80}", GH + "xai_api_key, " + TH + "xai"),
    _p("OpenRouter API key", "sk-or-v1-{h64}", GH + "openrouter_api_key, " + TH + "openrouter"),
    _p("DeepSeek API key", "sk-{h32}", GH + "deepseek_api_key, " + TH + "deepseek"),
    _p("Groq API key", "gsk_{A52}", GH + "groq_api_key, " + TH + "groq"),
    _p("Hugging Face user token", "hf_{A34}", GL + "huggingface-access-token"),
    _p("Hugging Face org token", "api_org_{A34}", GL + "huggingface-organization-api-token"),
    _p("Pinecone API key", "pcsk_{A5}_{A63}", GH + "pinecone_api_key, " + TH + "pinecone"),
    _p(
        "LangSmith personal token",
        "lsv2_pt_{h32}_{h10}",
        GH + "langchain_api_personal_key, " + TH + "langsmith",
    ),
    _p("LangSmith service key", "lsv2_sk_{h32}_{h10}", GH + "langchain_api_server_key, " + TH + "langsmith"),
    _p("Langfuse secret key", "sk-lf-{h8}-{h4}-{h4}-{h4}-{h12}", TH + "langfuse"),
    _p("NVIDIA API key", "nvapi-{u64}", TH + "nvapi"),
    _p("ElevenLabs API key", "sk_{h48}", TH + "elevenlabs"),
    _p("Google API key (Gemini)", "AIza{u35}", GL + "gcp-api-key"),
    _p("Google OAuth access token", "ya29.{u80}", TH + "googleoauth2"),
    _p("Google OAuth client secret", "GOCSPX-{u28}", GH + "google_oauth_client_secret"),
    # --- clouds ----------------------------------------------------------------------------
    _p("AWS access key id", "AKIA{216}", GL + "aws-access-token"),
    _p("AWS temporary access key id", "ASIA{216}", GL + "aws-access-token"),
    _p("Amazon Bedrock API key", "ABSK{b132}", GL + "aws-amazon-bedrock-api-key-long-lived"),
    _p("Azure AD client secret", "{A3}8Q~{u34}", GL + "azure-ad-client-secret"),
    _p("Azure container registry password", "{b42}+ACR{A6}", TH + "azurecontainerregistry"),
    _p("Alibaba access key id", "LTAI{A20}", GL + "alibaba-access-key-id"),
    _p("DigitalOcean PAT", "dop_v1_{h64}", GL + "digitalocean-pat"),
    _p("DigitalOcean OAuth token", "doo_v1_{h64}", GL + "digitalocean-access-token"),
    _p("DigitalOcean refresh token", "dor_v1_{h64}", GL + "digitalocean-refresh-token"),
    _p("Heroku API key v2", "HRKU-AA{u58}", GL + "heroku-api-key-v2"),
    _p("Fly.io token", "fo1_{w43}", GL + "flyio-access-token"),
    _p("Fly.io macaroon", "fm2_{b120}", GL + "flyio-access-token"),
    _p("Yandex Cloud API key", "AQVN{u37}", GL + "yandex-api-key"),
    _p("Cloudflare origin CA key", "v1.0-{h24}-{h146}", GL + "cloudflare-origin-ca-key"),
    _p("Databricks token", "dapi{h32}", GL + "databricks-api-token"),
    _p("Datastax Astra token", "AstraCS:{A24}:{h64}", GH + "datastax_astracs_token"),
    _p("Supabase PAT", "sbp_{h40}", GH + "supabase_personal_access_token, " + TH + "supabasetoken"),
    _p("Tailscale API key", "tskey-api-{A12}-{A30}", GH + "tailscale_api_key, " + TH + "tailscale"),
    _p("HashiCorp Vault service token", "hvs.{u100}", GL + "vault-service-token"),
    _p("HashiCorp Vault batch token", "hvb.{u150}", GL + "vault-batch-token"),
    _p("Terraform Cloud token", "{a14}.atlasv1.{u67}", GL + "hashicorp-tf-api-token"),
    _p("Pulumi token", "pul-{h40}", GL + "pulumi-api-token"),
    _p("PlanetScale token", "pscale_tkn_{w43}", GL + "planetscale-api-token"),
    _p("PlanetScale password", "pscale_pw_{w43}", GL + "planetscale-password"),
    _p("PlanetScale OAuth token", "pscale_oauth_{w43}", GL + "planetscale-oauth-token"),
    _p("1Password service account token", "ops_eyJ{b250}", GL + "1password-service-account-token"),
    _p("1Password secret key", "A3-{U6}-{U11}-{U5}-{U5}-{U5}", GL + "1password-secret-key"),
    _p("age secret key", "AGE-SECRET-KEY-1{C58}", GL + "age-secret-key"),
    _p("Doppler token", "dp.pt.{A43}", GL + "doppler-api-token"),
    _p("Dynatrace token", "dt0c01.{U24}.{U64}", GL + "dynatrace-api-token"),
    _p("OpenShift token", "sha256~{u43}", GL + "openshift-user-token"),
    _p("ClickHouse Cloud secret", "4b1d{A38}", GL + "clickhouse-cloud-api-secret-key"),
    # --- code hosting, CI, registries --------------------------------------------------------
    _p("GitHub classic PAT", "ghp_{A36}", GL + "github-pat"),
    _p("GitHub OAuth token", "gho_{A36}", GL + "github-oauth"),
    _p("GitHub user-to-server token", "ghu_{A36}", GL + "github-app-token"),
    _p("GitHub server-to-server token", "ghs_{A36}", GL + "github-app-token"),
    _p("GitHub refresh token", "ghr_{A36}", GL + "github-refresh-token"),
    _p("GitHub fine-grained PAT", "github_pat_{w82}", GL + "github-fine-grained-pat"),
    _p("GitLab PAT", "glpat-{u20}", GL + "gitlab-pat"),
    _p("GitLab routable PAT", "glpat-{u40}.{a2}{a7}", GL + "gitlab-pat-routable"),
    _p("GitLab deploy token", "gldt-{u20}", GL + "gitlab-deploy-token"),
    _p("GitLab runner token", "glrt-{u20}", GL + "gitlab-runner-authentication-token"),
    _p("GitLab pipeline trigger token", "glptt-{h40}", GL + "gitlab-ptt"),
    _p("GitLab SCIM token", "glsoat-{u20}", GL + "gitlab-scim-token"),
    _p("GitLab CI job token", "glcbt-{A5}_{u20}", GL + "gitlab-cicd-job-token"),
    _p("GitLab feed token", "glft-{u20}", GL + "gitlab-feed-token"),
    _p("GitLab incoming mail token", "glimt-{u25}", GL + "gitlab-incoming-mail-token"),
    _p("GitLab agent token", "glagent-{u50}", GL + "gitlab-kubernetes-agent-token"),
    _p("GitLab OAuth secret", "gloas-{u64}", GL + "gitlab-oauth-app-secret"),
    _p("GitLab feature flag token", "glffct-{u20}", GL + "gitlab-feature-flag-client-token"),
    _p("GitLab runner registration token", "GR1348941{u20}", GL + "gitlab-rrt"),
    _p("Bitbucket app password", "ATBB{A32}", TH + "bitbucketapppassword"),
    _p("Bitbucket Data Center token", "BBDC-{u44}", TH + "bitbucketdatacenter"),
    _p("Atlassian API token", "ATATT3xFfGF0{u174}={H8}", GL + "atlassian-api-token"),
    _p("Buildkite user token", "bkua_{a40}", TH + "buildkite"),
    _p("CircleCI PAT", "CCIPAT_{A22}_{h40}", TH + "circleci"),
    _p("npm token", "npm_{A36}", GL + "npm-access-token"),
    _p("PyPI token", "pypi-AgEIcHlwaS5vcmc{u70}", GL + "pypi-upload-token"),
    _p("RubyGems key", "rubygems_{h48}", GL + "rubygems-api-token"),
    _p("Clojars token", "CLOJARS_{a60}", GL + "clojars-api-token"),
    _p("Docker PAT", "dckr_pat_{u27}", GH + "docker_personal_access_token, " + TH + "dockerhub"),
    _p("Docker org token", "dckr_oat_{u32}", GH + "docker_organization_access_token, " + TH + "dockerhub"),
    _p("Artifactory API key", "AKCp{A69}", GL + "artifactory-api-key"),
    _p("Artifactory reference token", "cmVmd{A59}", GL + "artifactory-reference-token"),
    _p("Prefect API key", "pnu_{A36}", GL + "prefect-api-token"),
    _p("ReadMe API key", "rdme_{a70}", GL + "readme-api-token"),
    _p("Octopus Deploy key", "API-{U26}", GL + "octopus-deploy-api-key"),
    _p("Harness PAT", "pat.{u22}.{A24}.{A20}", GL + "harness-api-key"),
    _p("Scalingo token", "tk-us-{u48}", GL + "scalingo-api-token"),
    _p("Infracost token", "ico-{A32}", GL + "infracost-api-token"),
    _p("Sourcegraph token", "sgp_{h16}_{h40}", GL + "sourcegraph-access-token"),
    _p("Postman API key", "PMAK-{h24}-{h34}", GL + "postman-api-token"),
    _p("Figma PAT", "figp_{u44}", GH + "figma_pat, " + TH + "figmapersonalaccesstoken"),
    _p("Contentful PAT", "CFPAT-{u43}", GH + "contentful_personal_access_token, " + TH + "contentful"),
    _p("Linear API key", "lin_api_{A40}", GL + "linear-api-key"),
    _p("Notion token", "ntn_{d11}{A35}", GL + "notion-api-token"),
    _p("Notion integration secret", "secret_{A43}", GH + "notion_integration_token, " + TH + "notion"),
    # --- messaging, payments, SaaS -----------------------------------------------------------
    _p("Slack bot token", "xoxb-{d12}-{d13}-{A24}", GL + "slack-bot-token"),
    _p("Slack user token", "xoxp-{d12}-{d12}-{d13}-{A32}", GL + "slack-user-token"),
    _p("Slack app token", "xapp-1-A{U10}-{d13}-{h64}", GL + "slack-app-token"),
    _p("Slack config token", "xoxe.xoxp-1-{U164}", GL + "slack-config-access-token"),
    _p("Slack refresh token", "xoxe-1-{U146}", GL + "slack-config-refresh-token"),
    _p("Slack webhook", "https://hooks.slack.com/services/T{U8}/B{U10}/{A24}", GL + "slack-webhook-url"),
    _p("Stripe live secret key", "sk_live_{A34}", GL + "stripe-access-token"),
    _p("Stripe test secret key", "sk_test_{A34}", GL + "stripe-access-token"),
    _p("Stripe restricted key", "rk_live_{A34}", GL + "stripe-access-token"),
    _p("Stripe prod key", "sk_prod_{A34}", GL + "stripe-access-token"),
    _p("Stripe webhook secret", "whsec_{A32}", GH + "stripe_webhook_signing_secret"),
    _p("Twilio API key", "SK{h32}", GL + "twilio-api-key"),
    _p("SendGrid API key", "SG.{u22}.{u43}", GL + "sendgrid-api-token"),
    _p("Brevo API key", "xkeysib-{h64}-{A16}", GL + "sendinblue-api-token"),
    _p("Brevo SMTP key", "xsmtpsib-{h64}-{A16}", GH + "sendinblue_smtp_key"),
    _p("Mailgun API key", "key-{h32}", GL + "mailgun-private-api-token"),
    _p("Mailchimp API key", "{h32}-us{d2}", GL + "mailchimp-api-key"),
    _p("Shopify access token", "shpat_{h32}", GL + "shopify-access-token"),
    _p("Shopify custom app token", "shpca_{h32}", GL + "shopify-custom-access-token"),
    _p("Shopify private app token", "shppa_{h32}", GL + "shopify-private-app-access-token"),
    _p("Shopify shared secret", "shpss_{h32}", GL + "shopify-shared-secret"),
    _p("Square access token", "EAAA{u60}", GL + "square-access-token"),
    _p("Square OAuth token", "sq0atp-{u22}", GL + "square-access-token"),
    _p("Square OAuth secret", "sq0csp-{u43}", TH + "square"),
    _p("Facebook page token", "EAAM{A120}", GL + "facebook-page-access-token"),
    _p("Telegram bot token", "{d10}:AA{u33}", GH + "telegram_bot_token, " + TH + "telegrambottoken"),
    _p("Discord bot token", "M{u23}.{u6}.{u27}", GH + "discord_bot_token, " + TH + "discordbottoken"),
    _p("Grafana service account token", "glsa_{A32}_{h8}", GL + "grafana-service-account-token"),
    _p("Grafana Cloud token", "glc_{b40}", GL + "grafana-cloud-api-token"),
    _p("Grafana API key", "eyJrIjoi{A70}", GL + "grafana-api-key"),
    _p("New Relic user key", "NRAK-{U27}", GL + "new-relic-user-api-key"),
    _p("New Relic insert key", "NRII-{u32}", GL + "new-relic-insert-key"),
    _p("Sentry user token", "sntryu_{h64}", GL + "sentry-user-token"),
    _p("Sentry org token", "sntrys_eyJpYXQiO{b60}LCJyZWdpb25fdXJs{b60}_{b43}", GL + "sentry-org-token"),
    _p("PostHog personal key", "phx_{w43}", GH + "posthog_personal_api_key, " + TH + "posthog"),
    _p("Frame.io token", "fio-u-{u64}", GL + "frameio-api-token"),
    _p("Typeform token", "tfp_{w59}", GL + "typeform-api-token"),
    _p("Duffel token", "duffel_live_{u43}", GL + "duffel-api-token"),
    _p("EasyPost key", "EZAK{A54}", GL + "easypost-api-token"),
    _p("Flutterwave secret key", "FLWSECK_TEST-{h32}-X", GL + "flutterwave-secret-key"),
    _p("Shippo token", "shippo_live_{h40}", GL + "shippo-api-token"),
    _p("Adobe client secret", "p8e-{A32}", GL + "adobe-client-secret"),
    _p("MaxMind license key", "{A6}_{A29}_mmk", GL + "maxmind-license-key"),
    _p("Settlemint token", "sm_pat_{A16}", GL + "settlemint-personal-access-token"),
    _p("Rootly API key", "rootly_{h64}", GH + "rootly_api_key, " + TH + "rootly"),
    _p("Ramp client secret", "ramp_sec_{A48}", GH + "ramp_client_secret, " + TH + "ramp"),
    _p("Intra42 secret", "s-s4t2ud-{h64}", GL + "intra42-client-secret"),
    _p("JWT", "eyJ{u20}.eyJ{u40}.{u43}", GL + "jwt"),
    # --- secrets that only their name gives away -------------------------------------------
    _n("AWS secret access key", "{b40}", GH + "aws_secret_access_key", "aws_secret_access_key"),
    _n("AWS secret access key (SDK name)", "{b40}", GH + "aws_secret_access_key", "SecretAccessKey"),
    _n("AWS session token", "FwoGZXIvYXdzE{b120}", GH + "aws_session_token", "aws_session_token"),
    _n("Azure storage account key", "{b86}==", GH + "azure_storage_account_key", "AccountKey"),
    _n("Azure OpenAI key", "{h32}", GH + "azure_openai_key", "AZURE_OPENAI_API_KEY"),
    _n("Azure DevOps PAT", "{a52}", GH + "azure_devops_personal_access_token", "AZURE_DEVOPS_TOKEN"),
    _n("Mistral API key", "{A32}", GH + "mistral_ai_api_key", "MISTRAL_API_KEY"),
    _n("Cohere API key", "{A40}", GH + "cohere_api_key", "COHERE_API_KEY"),
    _n("Weights & Biases key", "{h40}", GH + "wandb_api_key", "WANDB_API_KEY"),
    _n("Datadog API key", "{h32}", GH + "datadog_api_key", "DD_API_KEY"),
    _n("Heroku API key", "{h8}-{h4}-{h4}-{h4}-{h12}", GL + "heroku-api-key", "HEROKU_API_KEY"),
    _n("OAuth client secret", "{u40}", GH + "google_oauth_client_secret", "client_secret"),
    _n("Password", "{A10}", GL + "generic-api-key", "password"),
    _n("Database password", "{A8}-{A8}", GL + "generic-api-key", "DB_PASSWORD"),
    _n("Auth token header", "{A32}", GL + "generic-api-key", "X-Auth-Token"),
)


# --- places ------------------------------------------------------------------------------------

Place = Callable[[str, str], "str | tuple[str, list[str]]"]
"""(token, name) → the text, or the text and the parts that must not come out (when the token
is carried encoded, as in ``Basic`` credentials)."""


def _words(key: str) -> str:
    """``aws_secret_access_key`` → ``aws secret access key``, ``SecretAccessKey`` → ``secret access key``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)
    return re.sub(r"[_\-.]+", " ", spaced).lower().strip()


def _basic(token: str) -> tuple[str, list[str]]:
    credential = base64.b64encode(f"svc-user:{token}".encode()).decode()
    return credential, [credential[12:]]


def _header(key: str) -> str:
    return "-".join(w.capitalize() for w in _words(key).split())


API = "https://api.example.com/v1/tasks"

# Places any self-identifying token must be found in, with no name to help.
UNNAMED_PLACES: dict[str, Place] = {
    "bare": lambda t, k: t,
    "prose": lambda t, k: f"calling the provider with {t} now",
    "prose colon": lambda t, k: f"using this one: {t}",
    "sentence end": lambda t, k: f"the call failed for {t}.",
    "double quotes": lambda t, k: f'rejected "{t}" again',
    "single quotes": lambda t, k: f"rejected '{t}' again",
    "backticks": lambda t, k: f"run `{t}` again",
    "parentheses": lambda t, k: f"(with {t})",
    "brackets": lambda t, k: f"[{t}]",
    "braces": lambda t, k: f"{{{t}}}",
    "angle brackets": lambda t, k: f"<{t}>",
    "stray =": lambda t, k: f"value=={t}",
    "stray = alone": lambda t, k: f"={t}",
    "stray <": lambda t, k: f"a<{t}",
    "stray double quote": lambda t, k: f'"{t}',
    "stray single quote": lambda t, k: f"'{t}",
    "after colon": lambda t, k: f"value:{t}",
    "comma list": lambda t, k: f"a,{t},b",
    "semicolon list": lambda t, k: f"a;{t};b",
    "pipe": lambda t, k: f"a|{t}|b",
    "lines": lambda t, k: f"first\n{t}\nlast",
    "tab": lambda t, k: f"col\t{t}\tcol",
    "repr escaped": lambda t, k: repr(f"line\n{t}"),
    "exception repr": lambda t, k: repr(ValueError(f"bad\n{t}")),
    "json value": lambda t, k: json.dumps({"value": t, "n": 1}),
    "json escaped": lambda t, k: json.dumps(json.dumps({"value": t})),
    "url path": lambda t, k: f"{API}/{t}/status",
    "query value": lambda t, k: f"{API}?q={t}&page=2",
    "query value encoded": lambda t, k: f"{API}?next={quote(f'https://x.example/?q={t}', safe='')}",
    "second ?-query": lambda t, k: f"{API}?next=/cb?{t}&page=2",
    "fragment": lambda t, k: f"{API}#{t}",
    "url encoded whole": lambda t, k: quote(f"see {t} here", safe=""),
    "form encoded": lambda t, k: quote_plus(f"see {t} here"),
    "bearer": lambda t, k: f"Bearer {t}",
    "authorization bearer": lambda t, k: f"Authorization: Bearer {t}",
    "unknown header": lambda t, k: f"X-Custom: {t}",
    "xml text": lambda t, k: f"<value>{t}</value>",
    "html attribute": lambda t, k: f'<input value="{t}">',
    "markdown": lambda t, k: f"**{t}**",
    "cli argument": lambda t, k: f"app --verbose {t}",
}

# Places that name the secret (``key`` is the name it goes by).
NAMED_PLACES: dict[str, Place] = {
    "assignment": lambda t, k: f"{k}={t}",
    "assignment spaced": lambda t, k: f"{k} = {t}",
    "env export": lambda t, k: f"export {k.upper()}={t}",
    "env quoted": lambda t, k: f'{k.upper()}="{t}"',
    "yaml": lambda t, k: f"{k}: {t}",
    "yaml quoted": lambda t, k: f'  {k}: "{t}"',
    "colon no space": lambda t, k: f"{k}:{t}",
    "json": lambda t, k: json.dumps({"user": "ann", k: t}),
    "json nested": lambda t, k: json.dumps({"credentials": {k: t, "region": "eu"}}),
    "json escaped": lambda t, k: json.dumps(json.dumps({k: t})),
    "python kwargs": lambda t, k: f"Client({k}='{t}', timeout=5)",
    "python dict repr": lambda t, k: repr({k: t}),
    "query": lambda t, k: f"{API}?{k}={t}&page=2",
    "query encoded value": lambda t, k: f"{API}?{k}={quote(t, safe='')}&page=2",
    "json in url": lambda t, k: f"{API}?data={json.dumps({k: t})}",
    "json in url encoded": lambda t, k: f"{API}?data={quote(json.dumps({k: t}), safe='')}",
    "json in url form-encoded": lambda t, k: f"{API}?data={quote_plus(json.dumps({k: t}))}",
    "json object query value": lambda t, k: f'{API}?filter={{"{k}":"{t}"}}&page=2',
    "second ?-query": lambda t, k: f"{API}?next=/cb?{k}={t}&page=2",
    "second ?-query url": lambda t, k: f"{API}?redirect=https://app.example/cb?{k}={t}",
    "second ?-query encoded": lambda t, k: (
        f"{API}?redirect={quote(f'https://app.example/cb?{k}={t}', safe='')}"
    ),
    "query bearer": lambda t, k: f"{API}?auth=Bearer%20{t}&page=2",
    "query bearer plus": lambda t, k: f"{API}?auth=Bearer+{t}&page=2",
    "query bearer raw": lambda t, k: f"{API}?auth=Bearer {t}&page=2",
    "query authorization header": lambda t, k: f"{API}?h=Authorization%3A%20Bearer%20{t}",
    "query basic": lambda t, k: (lambda c: (f"{API}?auth=Basic%20{c[0]}&page=2", c[1]))(_basic(t)),
    "query basic raw": lambda t, k: (lambda c: (f"{API}?h=Basic {c[0]}", c[1]))(_basic(t)),
    "authorization basic": lambda t, k: (lambda c: (f"Authorization: Basic {c[0]}", c[1]))(_basic(t)),
    "authorization bearer": lambda t, k: f"Authorization: Bearer {t}",
    "authorization token": lambda t, k: f"authorization: token {t}",
    "named header": lambda t, k: f"{_header(k)}: {t}",
    "prose named": lambda t, k: f"the {_words(k)} is {t}",
    "prose named colon": lambda t, k: f"{_words(k)}: {t}",
    "prose named plain": lambda t, k: f"using {_words(k)} {t} for the call",
    "prose my": lambda t, k: f"my {_words(k)} is {t}, keep it safe",
    "stray ==": lambda t, k: f"{k}=={t}",
    "stray =<": lambda t, k: f"{k}=<{t}>",
    "stray ='\"": lambda t, k: f"{k}='\"{t}\"'",
    "stray =\"'": lambda t, k: f"{k}=\"'{t}'\"",
    "stray : <": lambda t, k: f"{k}: <{t}>",
    "stray =`": lambda t, k: f"{k}=`{t}`",
    "stray = quote unclosed": lambda t, k: f'{k}="{t}',
    "xml element": lambda t, k: f"<{k}>{t}</{k}>",
    "xml add key": lambda t, k: f'<add key="{k}" value="{t}" />',
    "cli flag": lambda t, k: f"app --{k.lower().replace('_', '-')} {t}",
    "cli flag =": lambda t, k: f"app --{k.lower().replace('_', '-')}={t}",
    "curl bearer": lambda t, k: f'curl -H "Authorization: Bearer {t}" {API}',
    "curl user": lambda t, k: f"curl -u svc-user:{t} {API}",
    "url userinfo": lambda t, k: f"https://svc-user:{t}@api.example.com/v1",
    "connection string": lambda t, k: f"Server=db;User Id=app;{k}={t};Encrypt=true",
    "sql": lambda t, k: f"ALTER USER app PASSWORD '{t}'",
    "cookie": lambda t, k: f"Cookie: theme=dark; {k}={t}; lang=en",
    "log fields": lambda t, k: f"level=info {k}={t} msg=ok",
}


@dataclass(frozen=True)
class Case:
    shape: Shape
    place: str
    text: str
    parts: tuple[str, ...]


def cases(seed: int = SEED) -> list[Case]:
    """Every shape in every place that applies to it: named shapes only where named."""
    rng = random.Random(seed)
    out = []
    for shape in SHAPES:
        places = {**({} if shape.named else UNNAMED_PLACES), **NAMED_PLACES}
        for name, place in places.items():
            token, runs = shape.make(rng)
            made = place(token, shape.key)
            text, parts = made if isinstance(made, tuple) else (made, runs)
            out.append(Case(shape, name, text, tuple(parts)))
    return out


def _windows(part: str) -> Iterator[str]:
    if len(part) < WINDOW:
        return
    for i in range(len(part) - WINDOW + 1):
        yield part[i : i + WINDOW]


def leaked(case: Case, output: str) -> bool:
    """Any :data:`WINDOW` characters in a row of a secret part in the output (as it is or
    percent-decoded)."""
    decoded = {output, unquote(output), unquote_plus(output)}
    return any(window in text for part in case.parts for window in _windows(part) for text in decoded)


def leaks(scrub: Callable[[str], str], seed: int = SEED) -> list[tuple[Case, str]]:
    return [(case, out) for case in cases(seed) if leaked(case, out := scrub(case.text))]


def main() -> None:
    from amas_telemetry.redact import Scrubber

    all_cases = cases()
    found = leaks(Scrubber().text)
    print(f"leaks / cases: {len(found)} / {len(all_cases)}")
    named = sum(c.shape.named for c in all_cases)
    print(
        f"  prefixed shapes: {len(SHAPES) - sum(s.named for s in SHAPES)}, named shapes: "
        f"{sum(s.named for s in SHAPES)}; cases of named shapes: {named}"
    )
    by_shape = Counter(c.shape.provider for c, _ in found)
    by_place = Counter(c.place for c, _ in found)
    print("\nby shape:")
    for name, n in by_shape.most_common():
        print(f"  {n:4} {name}")
    print("\nby place:")
    for name, n in by_place.most_common():
        print(f"  {n:4} {name}")
    if "--list" in sys.argv:
        for case, out in found:
            print(f"\n[{case.shape.provider} | {case.place}]\n  in:  {case.text!r}\n  out: {out!r}")


if __name__ == "__main__":
    main()
