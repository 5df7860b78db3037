// amas trace view: one trace as a span waterfall, and a list of recent traces, read from
// Jaeger's query API (/api/traces, /api/services) on the origin that serves this page.
// Plain DOM, no build step; text from the API is only ever set as textContent.
"use strict";

(function () {
  const app = document.getElementById("app");
  const settings = window.TRACE_VIEW || { config: {}, jaegerVersion: null };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key === "style") node.setAttribute("style", value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function show(...nodes) {
    app.replaceChildren(...nodes);
  }

  function fail(message) {
    show(el("p", { class: "status error", id: "error" }, message));
  }

  async function getJSON(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  function ms(micros) {
    return micros >= 1000 ? `${(micros / 1000).toFixed(micros >= 100000 ? 0 : 1)} ms` : `${micros} µs`;
  }

  function tagValue(tags, key) {
    const tag = (tags || []).find((t) => t.key === key);
    return tag ? tag.value : undefined;
  }

  function isError(span) {
    return tagValue(span.tags, "error") === true || tagValue(span.tags, "otel.status_code") === "ERROR";
  }

  // Jaeger UI's linkPatterns (type "traces"), so the same ui.config_file serves both UIs
  function traceLinks(trace, start, end) {
    const patterns = (settings.config && settings.config.linkPatterns) || [];
    const values = { trace_id: trace.traceID, startTime: start, endTime: end };
    return patterns
      .filter((p) => p.type === "traces" && p.url)
      .map((p) => {
        const url = p.url.replace(/#\{(\w+)\}/g, (_, name) => encodeURIComponent(values[name] ?? ""));
        return el("a", { class: "trace-link", href: url, target: p.target || "_self" }, p.text || url);
      });
  }

  // spans in tree order (parents before children, siblings by start time), with depths
  function ordered(spans) {
    const ids = new Set(spans.map((s) => s.spanID));
    const children = new Map();
    const roots = [];
    for (const span of spans) {
      const ref = (span.references || []).find((r) => r.refType === "CHILD_OF" && ids.has(r.spanID));
      if (ref) {
        if (!children.has(ref.spanID)) children.set(ref.spanID, []);
        children.get(ref.spanID).push(span);
      } else {
        roots.push(span);
      }
    }
    const byStart = (a, b) => a.startTime - b.startTime;
    const out = [];
    const visit = (span, depth) => {
      out.push({ span, depth });
      for (const child of (children.get(span.spanID) || []).sort(byStart)) visit(child, depth + 1);
    };
    for (const root of roots.sort(byStart)) visit(root, 0);
    return out;
  }

  function details(span, process) {
    const rows = (span.tags || []).map((t) => el("tr", {}, el("th", {}, t.key), el("td", {}, JSON.stringify(t.value))));
    const events = (span.logs || []).map((log) =>
      el("li", {}, `+${ms(log.timestamp - span.startTime)} `, (log.fields || []).map((f) => `${f.key}=${f.value}`).join(" ")),
    );
    const resource = (process.tags || []).map((t) => `${t.key}=${t.value}`).join(", ");
    return el(
      "div",
      { class: "details" },
      el("p", {}, `span ${span.spanID} · service ${process.serviceName}`),
      el("table", {}, ...rows),
      events.length ? el("p", {}, "events:") : null,
      events.length ? el("ul", {}, ...events) : null,
      resource ? el("p", { class: "resource" }, `resource: ${resource}`) : null,
    );
  }

  async function showTrace(traceId) {
    document.title = `trace ${traceId} · amas trace view`;
    let body;
    try {
      body = await getJSON(`api/traces/${encodeURIComponent(traceId)}`);
    } catch (err) {
      fail(`Trace ${traceId} could not be read from Jaeger: ${err.message}`);
      return;
    }
    const trace = (body.data || [])[0];
    if (!trace || !trace.spans || !trace.spans.length) {
      fail(`Jaeger has no trace ${traceId}.`);
      return;
    }
    const processes = trace.processes || {};
    const start = Math.min(...trace.spans.map((s) => s.startTime));
    const end = Math.max(...trace.spans.map((s) => s.startTime + s.duration));
    const total = Math.max(end - start, 1);
    const rows = ordered(trace.spans);
    const root = rows[0].span;
    const services = [...new Set(trace.spans.map((s) => (processes[s.processID] || {}).serviceName))];
    const errors = trace.spans.filter(isError).length;

    const waterfall = el("div", { class: "waterfall", id: "waterfall" });
    for (const { span, depth } of rows) {
      const process = processes[span.processID] || { serviceName: "?" };
      const left = ((span.startTime - start) / total) * 100;
      const width = Math.max((span.duration / total) * 100, 0.3);
      const row = el(
        "div",
        { class: `span-row${isError(span) ? " error" : ""}`, "data-span-id": span.spanID, tabindex: "0" },
        el(
          "div",
          { class: "span-name", style: `padding-left: ${depth * 14 + 6}px`, title: span.operationName },
          el("span", { class: "service" }, process.serviceName),
          " ",
          span.operationName,
        ),
        el(
          "div",
          { class: "span-timeline" },
          el("div", { class: "bar", style: `left: ${left}%; width: ${width}%` }),
          // the label right of the bar, or left of it when the bar reaches the end
          left + width < 88
            ? el("span", { class: "duration", style: `left: ${left + width}%` }, ms(span.duration))
            : el("span", { class: "duration before", style: `right: ${100 - left}%` }, ms(span.duration)),
        ),
      );
      let open = null;
      const toggle = () => {
        if (open) {
          open.remove();
          open = null;
        } else {
          open = details(span, process);
          row.after(open);
        }
      };
      row.addEventListener("click", toggle);
      row.addEventListener("keydown", (e) => e.key === "Enter" && toggle());
      waterfall.append(row);
    }

    show(
      el("h1", { id: "trace-title" }, `${(processes[root.processID] || {}).serviceName}: ${root.operationName}`),
      el(
        "p",
        { class: "summary" },
        "trace ",
        el("code", { id: "trace-id" }, trace.traceID),
        ` · started ${new Date(start / 1000).toISOString().replace("T", " ").slice(0, 23)} UTC`,
        ` · duration ${ms(end - start)} · `,
        el("span", { id: "span-count" }, String(trace.spans.length)),
        " spans · services: ",
        services.join(", "),
        errors ? el("span", { class: "error-count" }, ` · ${errors} with errors`) : null,
      ),
      el(
        "p",
        { class: "links" },
        ...traceLinks(trace, Math.floor(start / 1000), Math.ceil(end / 1000)),
        el("a", { href: `api/traces/${trace.traceID}` }, "Jaeger API JSON"),
      ),
      el("div", { class: "axis" }, el("span", {}, "0"), el("span", {}, ms(total))),
      waterfall,
    );
  }

  async function showSearch(params) {
    document.title = "recent traces · amas trace view";
    let services;
    try {
      services = ((await getJSON("api/services")).data || []).filter((s) => s !== "jaeger").sort();
    } catch (err) {
      fail(`Services could not be read from Jaeger: ${err.message}`);
      return;
    }
    if (!services.length) {
      fail("Jaeger holds no traces yet.");
      return;
    }
    const service = params.get("service") || services[0];
    const picker = el(
      "select",
      { id: "service", onchange: (e) => (location.href = `search?service=${encodeURIComponent(e.target.value)}`) },
      ...services.map((s) => (s === service ? el("option", { selected: "" }, s) : el("option", {}, s))),
    );
    const body = await getJSON(`api/traces?service=${encodeURIComponent(service)}&limit=20&lookback=1h`);
    const traces = (body.data || []).sort(
      (a, b) => Math.min(...b.spans.map((s) => s.startTime)) - Math.min(...a.spans.map((s) => s.startTime)),
    );
    const items = traces.map((t) => {
      const root = ordered(t.spans)[0].span;
      const errors = t.spans.filter(isError).length;
      return el(
        "li",
        {},
        el("a", { href: `trace/${t.traceID}` }, root.operationName),
        ` · ${t.spans.length} spans · ${ms(root.duration)}`,
        errors ? el("span", { class: "error-count" }, ` · ${errors} with errors`) : null,
        " · ",
        el("code", {}, t.traceID),
      );
    });
    show(
      el("h1", {}, "Recent traces (last hour, newest 20)"),
      el("p", {}, "service: ", picker),
      items.length ? el("ul", { class: "trace-list" }, ...items) : el("p", { class: "status" }, "none"),
    );
  }

  if (settings.jaegerVersion && settings.jaegerVersion.gitVersion) {
    document.getElementById("jaeger-version").textContent = `Jaeger ${settings.jaegerVersion.gitVersion}`;
  }

  const params = new URLSearchParams(location.search);
  const match = location.pathname.match(/\/trace\/([0-9a-fA-F]+)\/?$/);
  const traceId = match ? match[1] : params.get("id");
  (traceId ? showTrace(traceId.trim()) : showSearch(params)).catch((err) => fail(String(err)));
})();
