"""The secured Collector, with the real otelcol-amas binary: TLS, tokens, mTLS, bounds, fairness.

A gateway (collector/gateway.yaml) runs with a private CA, a server certificate and a token
file made at test time (collector/certgen, the program compose runs); its exporters point at
an OTLP sink (tests/e2e/secure_otlp.py) that counts what arrives per client. Checked:

- an authenticated client gets spans, metrics and logs through, over gRPC and HTTPS (gzip too);
- clients without a token, with a wrong one, in plaintext or trusting another CA are refused,
  while an authenticated client keeps flowing and loses nothing; the refusals show in the
  Collector's own metrics under the names the alerts read;
- with a client CA configured (mutual TLS) a client without a certificate is refused;
- the agent -> gateway hop (collector/agent-loadbalancing.yaml) carries data with TLS and a
  token, and an agent with a wrong token is refused and counts it;
- an oversized request (plain, or gzip that inflates past the bound) is refused and the
  Collector stays up;
- a client sending as fast as it can does not starve a well-behaved one: measured, nothing
  of the well-behaved client is lost.

Every process binds 127.0.0.1 and is stopped by the fixture that started it.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from secure_otlp import (
    REQUEST_BUILDERS,
    SIGNALS,
    Credentials,
    GrpcClient,
    HttpsClient,
    OtlpSink,
    Pki,
    agent_tls_env,
    gateway_tls_env,
    make_pki,
    new_token,
    running_sink,
    spans_request,
)

from amas_devstack.components import CollectorInstance
from amas_devstack.native_stack import NativeStack
from amas_devstack.ports import Ports

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
GATEWAY = REPO_ROOT / "collector" / "gateway.yaml"
AGENT = REPO_ROOT / "collector" / "agent-loadbalancing.yaml"
MIB = 1024 * 1024


def _require_bearertokenauth(collector: Path) -> None:
    out = subprocess.run([str(collector), "components"], capture_output=True, text=True, timeout=60).stdout
    if "bearertokenauth" not in out:
        pytest.fail(
            f"{collector} has no bearertokenauth extension: rebuild it with "
            "`bash scripts/build_binaries.sh collector`",
            pytrace=False,
        )


#: the Go runtime's soft memory limit for memory_limiter's defaults (limit 512 MiB, spike
#: 128 MiB): between the soft (384) and the hard limit, as collector/README.md says
GOMEMLIMIT = "448MiB"
MEMORY_LIMIT_MIB = 512


def gateway_env(pki: Pki, token_file: Path, sink: OtlpSink, *, mtls: bool = False) -> dict[str, str]:
    return {"GOMEMLIMIT": GOMEMLIMIT, **gateway_tls_env(pki, token_file, mtls=mtls), **sink.collector_env}


def metric_sum(port: int, name: str, **labels: str) -> float:
    """Sum of a Collector's own metric over the series whose labels include ``labels``."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    total = 0.0
    for match in re.finditer(rf"^{re.escape(name)}\{{([^}}]*)\}} (\S+)$", text, re.M):
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


@dataclass
class Secured:
    stack: NativeStack
    gateway: CollectorInstance
    pki: Pki
    token: str
    sink: OtlpSink
    run_dir: Path

    @property
    def app(self) -> Credentials:
        return Credentials(ca=self.pki.ca, token=self.token)

    def grpc(self, creds: Credentials, **kwargs: bool) -> GrpcClient:
        return GrpcClient(self.gateway.grpc_endpoint, creds, **kwargs)

    def https(self, creds: Credentials) -> HttpsClient:
        return HttpsClient(self.gateway.http, creds)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, collector_binary: Path) -> Iterator[Secured]:
    """One gateway with TLS and a token file (no client certificates), shared by the module."""
    _require_bearertokenauth(collector_binary)
    root = tmp_path_factory.mktemp("secured")
    pki = make_pki(root / "pki", clients=("app",))
    token = new_token()
    token_file = root / "tokens"
    token_file.write_text(f"{token} the test apps\n")
    with running_sink() as sink:
        stack = NativeStack(root / "stack", Ports.random(), components=())
        try:
            stack.up()
            gateway = stack.add_collector("gateway", GATEWAY, gateway_env(pki, token_file, sink))
            yield Secured(stack, gateway, pki, token, sink, root)
        finally:
            stack.down()


# ---------------------------------------------------------------------------------------
# authenticated clients get through


@pytest.mark.parametrize("signal", SIGNALS)
def test_an_authenticated_client_gets_every_signal_through_grpc_and_https(
    secured: Secured, signal: str
) -> None:
    service = f"authenticated-{signal}"
    grpc_client, https_client = secured.grpc(secured.app), secured.https(secured.app)
    try:
        assert grpc_client.export(signal, REQUEST_BUILDERS[signal](service, 10)) == grpc.StatusCode.OK
        assert https_client.export(signal, REQUEST_BUILDERS[signal](service, 10)) == 200
        assert https_client.export(signal, REQUEST_BUILDERS[signal](service, 10), compress=True) == 200
    finally:
        grpc_client.close()
        https_client.close()
    assert secured.sink.wait_for(signal, service, 30) == 30


# ---------------------------------------------------------------------------------------
# everyone else is refused, while the authenticated client keeps flowing


class SteadySender(threading.Thread):
    """An authenticated client exporting small span requests at a steady pace."""

    def __init__(self, secured: Secured, service: str, requests: int, pause: float, spans: int = 10) -> None:
        super().__init__(daemon=True)
        self.secured, self.service, self.requests, self.pause, self.spans = (
            secured,
            service,
            requests,
            pause,
            spans,
        )
        self.latencies: list[float] = []
        self.retries = 0
        self.failed = 0
        self.wall = 0.0

    def run(self) -> None:
        client = self.secured.grpc(self.secured.app)
        started_all = time.monotonic()
        try:
            for _ in range(self.requests):
                body = spans_request(self.service, self.spans)
                started = time.monotonic()
                # a well-behaved client: retries what the Collector asks it to retry, with a
                # growing pause, for up to 30 s per request
                delay = 0.1
                while True:
                    code = client.export("traces", body, timeout=10)
                    if code == grpc.StatusCode.OK:
                        break
                    if code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED) or (
                        time.monotonic() - started > 30
                    ):
                        self.failed += 1
                        break
                    self.retries += 1
                    time.sleep(delay)
                    delay = min(delay * 2, 2.0)
                self.latencies.append(time.monotonic() - started)
                time.sleep(self.pause)
        finally:
            self.wall = time.monotonic() - started_all
            client.close()

    @property
    def sent_spans(self) -> int:
        return (len(self.latencies) - self.failed) * self.spans


def test_clients_without_valid_credentials_are_refused_while_an_authenticated_one_flows(
    secured: Secured, tmp_path: Path, e2e_summary: list[str]
) -> None:
    steady = SteadySender(secured, "steady-during-refusals", requests=60, pause=0.05)
    grpc_before = metric_sum(
        secured.gateway.metrics, "rpc_server_call_duration_count", rpc_response_status_code="UNAUTHENTICATED"
    )
    http_before = metric_sum(
        secured.gateway.metrics, "http_server_request_duration_count", http_response_status_code="401"
    )
    other_ca = make_pki(tmp_path / "other-pki").ca
    intruder = "intruder"
    body = spans_request(intruder, 5)
    steady.start()
    try:
        attempts = {
            "gRPC, no token": (Credentials(ca=secured.pki.ca), {}),
            "gRPC, wrong token": (Credentials(ca=secured.pki.ca, token=new_token()), {}),
            "gRPC, plaintext": (Credentials(token=secured.token), {"plaintext": True}),
            "gRPC, another CA": (Credentials(ca=other_ca, token=secured.token), {}),
        }
        grpc_codes = {}
        for name, (creds, kwargs) in attempts.items():
            client = secured.grpc(creds, **kwargs)
            try:
                grpc_codes[name] = client.export("traces", body, timeout=5)
            finally:
                client.close()
        https_codes = {}
        for name, creds in {
            "HTTPS, no token": Credentials(ca=secured.pki.ca),
            "HTTPS, wrong token": Credentials(ca=secured.pki.ca, token=new_token()),
            "HTTPS, another CA": Credentials(ca=other_ca, token=secured.token),
        }.items():
            client = secured.https(creds)
            try:
                https_codes[name] = client.export("traces", body)
            finally:
                client.close()
        # plain HTTP to the TLS port: Go's TLS server answers 400 and reads nothing
        plain = urllib.request.Request(
            f"http://127.0.0.1:{secured.gateway.http}/v1/traces",
            data=body,
            headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {secured.token}"},
        )
        try:
            https_codes["HTTP, plaintext"] = urllib.request.urlopen(plain, timeout=5).status
        except urllib.error.HTTPError as error:
            https_codes["HTTP, plaintext"] = error.code
    finally:
        steady.join(timeout=120)
    assert not steady.is_alive()

    assert grpc_codes == {
        "gRPC, no token": grpc.StatusCode.UNAUTHENTICATED,
        "gRPC, wrong token": grpc.StatusCode.UNAUTHENTICATED,
        "gRPC, plaintext": grpc.StatusCode.UNAVAILABLE,  # the handshake fails: no call at all
        "gRPC, another CA": grpc.StatusCode.UNAVAILABLE,  # the client refuses the server
    }
    assert https_codes == {
        "HTTPS, no token": 401,
        "HTTPS, wrong token": 401,
        "HTTPS, another CA": 0,
        "HTTP, plaintext": 400,
    }
    # nothing of the refused client arrived; all of the authenticated one did
    assert steady.failed == 0 and steady.sent_spans == 600
    assert secured.sink.wait_for("traces", steady.service, 600) == 600
    time.sleep(1.0)
    assert secured.sink.count("traces", intruder) == 0
    # the refusals are counted where CollectorRefusingCredentials reads them
    grpc_refused = (
        metric_sum(
            secured.gateway.metrics,
            "rpc_server_call_duration_count",
            rpc_response_status_code="UNAUTHENTICATED",
        )
        - grpc_before
    )
    http_refused = (
        metric_sum(
            secured.gateway.metrics, "http_server_request_duration_count", http_response_status_code="401"
        )
        - http_before
    )
    assert (grpc_refused, http_refused) == (2, 2)
    e2e_summary.append(
        f"security: refused {sorted(set(grpc_codes) | set(https_codes))}; the authenticated client "
        f"sent 600 spans meanwhile, 600 arrived, p50 {statistics.median(steady.latencies) * 1000:.1f} ms"
    )


def test_a_new_token_is_taken_without_a_restart(secured: Secured) -> None:
    """The token file is watched: a rotation (add the new token, roll clients, drop the old)
    needs no restart of the Collector."""
    token_file = Path(secured.stack.extra_collectors["gateway"].env["AMAS_COLLECTOR_TOKEN_FILE"])
    rotated = new_token()
    client = secured.grpc(Credentials(ca=secured.pki.ca, token=rotated))
    try:
        assert client.export("traces", spans_request("rotated", 1)) == grpc.StatusCode.UNAUTHENTICATED
        token_file.write_text(f"{secured.token} the test apps\n{rotated} the rotated one\n")
        deadline = time.monotonic() + 15
        while client.export("traces", spans_request("rotated", 1)) != grpc.StatusCode.OK:
            assert time.monotonic() < deadline, "the new token was not taken within 15 s"
            time.sleep(0.2)
    finally:
        token_file.write_text(f"{secured.token} the test apps\n")
        client.close()


# ---------------------------------------------------------------------------------------
# mutual TLS


def test_with_a_client_ca_a_client_without_a_certificate_is_refused(
    collector_binary: Path, tmp_path: Path
) -> None:
    _require_bearertokenauth(collector_binary)
    pki = make_pki(tmp_path / "pki", clients=("app",))
    stranger = make_pki(tmp_path / "stranger", clients=("app",))
    token = new_token()
    token_file = tmp_path / "tokens"
    token_file.write_text(token + "\n")
    with running_sink() as sink:
        stack = NativeStack(tmp_path / "stack", Ports.random(), components=())
        try:
            stack.up()
            gw = stack.add_collector("gateway", GATEWAY, gateway_env(pki, token_file, sink, mtls=True))
            cases = {
                "certificate and token": Credentials(
                    pki.ca, token, pki.client_cert("app"), pki.client_key("app")
                ),
                "token, no certificate": Credentials(pki.ca, token),
                "certificate of another CA": Credentials(
                    pki.ca, token, stranger.client_cert("app"), stranger.client_key("app")
                ),
                "certificate, no token": Credentials(
                    pki.ca, None, pki.client_cert("app"), pki.client_key("app")
                ),
            }
            grpc_codes, https_codes = {}, {}
            for name, creds in cases.items():
                client = GrpcClient(gw.grpc_endpoint, creds)
                try:
                    grpc_codes[name] = client.export(
                        "logs", REQUEST_BUILDERS["logs"](f"mtls-{name}", 3), timeout=5
                    )
                finally:
                    client.close()
                https = HttpsClient(gw.http, creds)
                try:
                    https_codes[name] = https.export("logs", REQUEST_BUILDERS["logs"](f"mtls-{name}", 3))
                finally:
                    https.close()
            assert sink.wait_for("logs", "mtls-certificate and token", 6) == 6
            time.sleep(1.0)
            arrived = {name: sink.count("logs", f"mtls-{name}") for name in cases}
        finally:
            stack.down()
    assert grpc_codes == {
        "certificate and token": grpc.StatusCode.OK,
        "token, no certificate": grpc.StatusCode.UNAVAILABLE,
        "certificate of another CA": grpc.StatusCode.UNAVAILABLE,
        "certificate, no token": grpc.StatusCode.UNAUTHENTICATED,
    }
    assert https_codes == {
        "certificate and token": 200,
        "token, no certificate": 0,
        "certificate of another CA": 0,
        "certificate, no token": 401,
    }
    assert arrived == {name: 6 if name == "certificate and token" else 0 for name in cases}


# ---------------------------------------------------------------------------------------
# the agent -> gateway hop


def test_the_agent_reaches_the_gateway_with_tls_and_a_token_and_is_refused_with_a_wrong_one(
    secured: Secured, tmp_path: Path
) -> None:
    agent_token = tmp_path / "agent-token"
    agent_token.write_text(secured.token + "\n")
    env = {"AMAS_GATEWAYS": f"[{secured.gateway.grpc_endpoint}]", **agent_tls_env(secured.pki, agent_token)}
    good = secured.stack.add_collector("agent-good", AGENT, env)
    bad_token = tmp_path / "bad-token"
    bad_token.write_text(new_token() + "\n")
    bad = secured.stack.add_collector("agent-bad", AGENT, {**env, "AMAS_GATEWAYS_TOKEN_FILE": str(bad_token)})
    try:
        for signal in SIGNALS:
            app = GrpcClient(good.grpc_endpoint, Credentials(), plaintext=True)  # the app: loopback, plain
            try:
                assert app.export(signal, REQUEST_BUILDERS[signal]("via-agent", 7)) == grpc.StatusCode.OK
            finally:
                app.close()
            assert secured.sink.wait_for(signal, "via-agent", 7) == 7, signal
        app = GrpcClient(bad.grpc_endpoint, Credentials(), plaintext=True)
        try:
            # the agent retries for up to 8 s, then the app gets the error
            code = app.export("traces", spans_request("via-bad-agent", 3), timeout=30)
        finally:
            app.close()
        refused = metric_sum(bad.metrics, "otelcol_exporter_send_failed_spans", error_type="Unauthenticated")
    finally:
        secured.stack.stop("agent-good")
        secured.stack.stop("agent-bad")
    assert code != grpc.StatusCode.OK
    assert refused == 3, "the agent's refused spans are counted where CollectorExportRefused reads them"
    assert secured.sink.count("traces", "via-bad-agent") == 0


# ---------------------------------------------------------------------------------------
# bounded input


def _rss_peak_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1)) / 1024  # type: ignore[union-attr]


def test_an_oversized_request_is_refused_and_the_collector_stays_up(
    secured: Secured, e2e_summary: list[str]
) -> None:
    """4 MiB per request, on the wire and decompressed; just under it passes (and reaches the
    store: the exporters' batches are bounded by the same 4 MiB)."""
    under = spans_request("just-under-the-bound", 1, attribute_bytes=4 * MIB - 4096)
    over = spans_request("oversized", 1, attribute_bytes=4 * MIB + 4096)
    assert len(under) < 4 * MIB < len(over)
    grpc_client, https_client = secured.grpc(secured.app), secured.https(secured.app)
    try:
        codes = {
            "gRPC over": grpc_client.export("traces", over),
            "gRPC over, gzip": grpc_client.export("traces", over, compress=True),
            "HTTPS over": https_client.export("traces", over),
            "HTTPS over, gzip": https_client.export("traces", over, compress=True),
            "gRPC under": grpc_client.export("traces", under),
            "HTTPS under, gzip": https_client.export("traces", under, compress=True),
        }
        # still up, still taking ordinary requests
        after = grpc_client.export("traces", spans_request("after-oversized", 5))
    finally:
        grpc_client.close()
        https_client.close()
    assert codes == {
        "gRPC over": grpc.StatusCode.RESOURCE_EXHAUSTED,
        "gRPC over, gzip": grpc.StatusCode.RESOURCE_EXHAUSTED,  # checked after decompression
        # the OTLP receiver answers a body past the bound with 400 (permanent: no retry)
        "HTTPS over": 400,
        "HTTPS over, gzip": 400,
        "gRPC under": grpc.StatusCode.OK,
        "HTTPS under, gzip": 200,
    }
    assert after == grpc.StatusCode.OK
    assert secured.stack.is_running("gateway")
    assert urllib.request.urlopen(f"http://127.0.0.1:{secured.gateway.health}/", timeout=5).status == 200
    assert secured.sink.wait_for("traces", "after-oversized", 5) == 5
    assert secured.sink.wait_for("traces", "just-under-the-bound", 2) == 2
    assert secured.sink.count("traces", "oversized") == 0
    e2e_summary.append(
        f"security: requests of 4 MiB + 4 KiB refused (gRPC, HTTPS, gzip-inflated), 4 MiB - 4 KiB taken and "
        f"delivered; gateway peak RSS "
        f"{_rss_peak_mib(secured.stack.pid('gateway')):.0f} MiB"  # type: ignore[arg-type]
    )


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Flooder:
    """An authenticated client sending as fast as it can, in its own process: ``streams``
    requests in flight on each of ``connections`` connections, each the same pre-built request
    of ``spans`` spans (padded by ``pad`` bytes), for ``seconds``, ignoring the answers."""

    def __init__(
        self, secured: Secured, *, connections: int, streams: int, spans: int, seconds: float, pad: int = 0
    ) -> None:
        self.spans = spans
        self.codes: dict[str, int] = {}
        self._proc = subprocess.Popen(
            [
                sys.executable, str(Path(__file__).with_name("secure_otlp.py")),
                secured.gateway.grpc_endpoint, str(secured.pki.ca), secured.token,
                str(connections), str(streams), str(spans), str(seconds), str(pad),
            ],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def wait(self, timeout: float) -> None:
        try:
            out, _ = self._proc.communicate(timeout=timeout)
        finally:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait(timeout=10)
        assert self._proc.returncode == 0, out
        self.codes = json.loads(out)

    @property
    def accepted_spans(self) -> int:
        return self.codes.get("OK", 0) * self.spans


def test_a_flooding_client_does_not_starve_a_well_behaved_one(
    secured: Secured, e2e_summary: list[str]
) -> None:
    """A client sends 1000-span requests as fast as it can over 4 connections; meanwhile a
    well-behaved client sends 100 requests of 10 spans, retrying what the Collector asks it
    to retry. Its latencies are compared with a run without the flood (ratios: the machine
    is shared); none of its spans may be lost, and the Collector must stay up."""
    pid = secured.stack.pid("gateway")
    assert pid is not None

    baseline = SteadySender(secured, "steady-baseline", requests=100, pause=0.02)
    baseline.start()
    baseline.join(timeout=120)
    assert not baseline.is_alive() and baseline.failed == 0

    cpu0 = _cpu_seconds(pid)
    flood = Flooder(secured, connections=4, streams=1, spans=1000, seconds=12)
    try:
        time.sleep(2.0)  # the flood at full speed first
        under = SteadySender(secured, "steady-under-flood", requests=100, pause=0.02)
        under.start()
        under.join(timeout=180)
        assert not under.is_alive(), "the well-behaved client did not finish within 180 s"
    finally:
        flood.wait(timeout=120)
    cpu = _cpu_seconds(pid) - cpu0

    assert under.failed == 0, f"{under.failed} requests of the well-behaved client failed for good"
    assert secured.stack.is_running("gateway")
    assert secured.sink.wait_for("traces", "steady-under-flood", 1000, timeout=300) == 1000
    assert flood.accepted_spans > 20 * 1000, f"the flood was not one: {dict(flood.codes)}"
    p50 = statistics.median(under.latencies) / statistics.median(baseline.latencies)
    p95 = statistics.quantiles(under.latencies, n=20)[18] / statistics.quantiles(baseline.latencies, n=20)[18]
    # not starved: it keeps its pace (a request every 20 ms plus the answer) within a factor
    # of the pace it had alone, though each answer waits behind the flood (2 cores shared by
    # the flood, the Collector and the sink); starving would be orders of magnitude
    pace = under.wall / baseline.wall
    assert pace < 10, f"the well-behaved client took {pace:.1f}x as long under the flood"
    refused = {code: n for code, n in flood.codes.items() if code != "OK"}
    e2e_summary.append(
        f"security: a flood of {flood.accepted_spans} spans taken (4 connections of 1000-span requests; "
        f"answered otherwise: {refused or 'none'}; gateway {flood.accepted_spans / cpu:.0f} spans per "
        f"CPU-second); the well-behaved client: 1000/1000 spans arrived, {under.retries} retries, under the "
        f"flood / without: its 100 requests took {pace:.1f}x as long, each answer p50 {p50:.1f}x, p95 "
        f"{p95:.1f}x; gateway peak RSS {_rss_peak_mib(pid):.0f} MiB"
    )


class RssSampler(threading.Thread):
    """The peak anonymous memory (heap, stacks: what a container limit counts and the page
    cache does not) of a process, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_mib = pid, 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            status = Path(f"/proc/{self.pid}/status").read_text()
            anon = int(re.search(r"^RssAnon:\s+(\d+) kB", status, re.M).group(1)) / 1024  # type: ignore[union-attr]
            self.peak_mib = max(self.peak_mib, anon)

    def stop(self) -> float:
        self._done.set()
        self.join(timeout=5)
        return self.peak_mib


def test_one_client_at_the_bounds_cannot_take_the_collector_down(
    secured: Secured, e2e_summary: list[str]
) -> None:
    """One connection with as many requests in flight as the receiver allows (8), each just
    under the 4 MiB bound, for 8 s: the gateway's memory stays under memory_limiter's hard
    limit (with GOMEMLIMIT set as collector/README.md says), it stays up, and a well-behaved
    client, retrying what it is told to retry, loses nothing."""
    pid = secured.stack.pid("gateway")
    assert pid is not None
    sampler = RssSampler(pid)
    sampler.start()
    flood = Flooder(secured, connections=1, streams=8, spans=1, seconds=8, pad=4 * MIB - 4096)
    try:
        time.sleep(1.0)
        steady = SteadySender(secured, "steady-beside-big-requests", requests=50, pause=0.05)
        steady.start()
        steady.join(timeout=180)
        assert not steady.is_alive()
    finally:
        flood.wait(timeout=120)
        peak = sampler.stop()
    assert secured.stack.is_running("gateway")
    assert flood.codes.get("OK", 0) > 0, f"no big request was taken: {flood.codes}"
    assert steady.failed == 0
    assert secured.sink.wait_for("traces", steady.service, 500, timeout=240) == 500
    assert peak < MEMORY_LIMIT_MIB, f"the gateway's anonymous memory peaked at {peak:.0f} MiB"
    e2e_summary.append(
        f"security: one connection, 8 requests of 4 MiB in flight for 8 s: {flood.codes}; gateway peak "
        f"anonymous memory {peak:.0f} MiB (GOMEMLIMIT {GOMEMLIMIT}, hard limit {MEMORY_LIMIT_MIB} MiB); "
        f"the well-behaved client: 500/500 spans, {steady.retries} retries"
    )
