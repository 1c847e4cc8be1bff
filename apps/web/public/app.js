// DIY Device Cloud page: log in, list devices, switch outputs and follow live updates over one WebSocket
// (/api/live, apps/web/live-socket.ts), chart sensors. Plain DOM code, no inline script or style attribute
// (the CSP forbids both), text only through textContent. Charts are uPlot (/uplot.js, served by the app),
// drawn on canvas. Login, logout, the session and the history charts stay plain HTTP requests.
(() => {
  const $ = (id) => document.getElementById(id);
  let csrfToken = "";
  let live = null; // the open (or opening) WebSocket, null when logged out
  let retryTimer = null;
  let retryMs = 0;
  let lastRef = 0;
  const devices = new Map(); // id -> device view from the server
  const pending = new Map(); // "id/output" -> { ref, value } of the command in flight
  const charts = new Map(); // "id/sensor" -> { plot, range, data, step, unit, el }
  const timelines = new Map(); // "id/input" -> [{ t, value }] newest first
  const CONFIRM_MS = 8000;
  const RANGES = { hour: 3600e3, day: 86400e3, week: 7 * 86400e3, year: 365 * 86400e3 };
  const TIMELINE_MAX = 12;
  const LIVE_URL = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/live`;
  /** The server closes with this when the session ends (logout, expiry): log in again, do not reconnect. */
  const SESSION_ENDED = 4401;
  const RETRY_MIN_MS = 500;
  const RETRY_MAX_MS = 10e3;

  function show(section) {
    $("login").hidden = section !== "login";
    $("devices").hidden = section !== "devices";
    $("logout").hidden = section !== "devices";
    $("broker").hidden = section !== "devices";
    if (section === "login") $("password").focus();
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
    const res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try {
      data = await res.json();
    } catch {
      /* empty body */
    }
    return { status: res.status, data };
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v;
      else if (k === "onclick") e.addEventListener("click", v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c) e.append(c);
    return e;
  }

  function setBroker(state) {
    const b = $("broker");
    b.dataset.state = state;
    b.textContent =
      state === "connected"
        ? "Broker connected"
        : state === "reconnecting"
          ? "Connection to the server lost: reconnecting…"
          : "Broker unreachable: commands will fail until it is back";
  }

  function ago(iso) {
    if (!iso) return "never seen";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return "seen just now";
    if (s < 3600) return `seen ${Math.round(s / 60)} min ago`;
    if (s < 86400) return `seen ${Math.round(s / 3600)} h ago`;
    return `seen ${new Date(iso).toLocaleDateString()}`;
  }

  function fmt(v) {
    if (v === null || v === undefined) return "–";
    return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
  }

  // ---- outputs: one switch each; "pending" until the device confirms the command's request id.
  function renderOutput(d, o) {
    const key = `${d.id}/${o.name}`;
    const wait = pending.get(key);
    const value = o.value === null ? "unknown" : o.value;
    const sw = el(
      "button",
      {
        type: "button",
        role: "switch",
        class: "switch",
        "aria-checked": String(value === "on"),
        "aria-label": `${d.label} ${o.name}`,
        "data-state": value,
        onclick: () => command(d.id, o.name, value === "on" ? "off" : "on"),
      },
      el("span", { class: "knob", "aria-hidden": "true" }),
    );
    if (wait) {
      sw.setAttribute("aria-busy", "true");
      sw.dataset.pending = wait.value;
    }
    return el(
      "div",
      { class: "output", "data-output": o.name, "data-state": value, ...(wait ? { "data-pending": wait.value } : {}) },
      el("span", { class: "name", text: o.name }),
      sw,
      el("span", {
        class: "state",
        role: "status",
        text: wait ? `switching ${wait.value}…` : value,
      }),
    );
  }

  // ---- inputs: the last events as a timeline, newest first.
  function renderInput(d, i) {
    const list = timelines.get(`${d.id}/${i.name}`) || [];
    const items = list.length
      ? list.map((e) =>
          el(
            "li",
            { "data-value": e.value },
            el("time", { datetime: new Date(e.t).toISOString(), text: new Date(e.t).toLocaleTimeString() }),
            ` ${e.value}`,
          ),
        )
      : [el("li", { class: "empty", text: "no events yet" })];
    return el(
      "div",
      { class: "input", "data-input": i.name },
      el("span", { class: "name", text: i.name }),
      el("ol", { class: "timeline", "aria-label": `${i.name} events` }, ...items),
    );
  }

  // ---- sensors: the last value and a chart with range buttons.
  function renderSensor(d, s) {
    const key = `${d.id}/${s.name}`;
    const c = charts.get(key);
    const range = c ? c.range : "hour";
    const box = c ? c.el : el("div", { class: "chart", "data-chart": key });
    const tabs = el(
      "div",
      { class: "ranges", role: "group", "aria-label": `${s.name} range` },
      ...Object.keys(RANGES).map((r) =>
        el("button", {
          type: "button",
          "data-range": r,
          "aria-pressed": String(r === range),
          text: r,
          onclick: () => loadChart(d.id, s.name, r),
        }),
      ),
    );
    return el(
      "div",
      { class: "sensor", "data-sensor": s.name },
      el(
        "div",
        { class: "reading" },
        el("span", { class: "name", text: s.name }),
        el("span", { class: "value", role: "status", text: `${fmt(s.value)} ${s.unit || ""}`.trim() }),
        el("span", { class: "at", text: s.at ? new Date(s.at).toLocaleTimeString() : "" }),
      ),
      tabs,
      box,
    );
  }

  function renderDevice(d) {
    const online = d.online === null ? "unknown" : String(d.online);
    const li = el(
      "li",
      { class: "device", id: `device-${d.id}`, "data-device": d.id, "data-online": online },
      el(
        "h3",
        {},
        el("span", { class: "label", text: d.label }),
        el("span", {
          class: "online",
          "data-online": online,
          text: online === "true" ? "online" : online === "false" ? "offline" : "status unknown",
        }),
        el("span", { class: "seen", "data-seen": d.lastSeen || "", text: ago(d.lastSeen) }),
      ),
    );
    for (const o of d.outputs) li.append(renderOutput(d, o));
    for (const i of d.inputs) li.append(renderInput(d, i));
    for (const s of d.sensors || []) li.append(renderSensor(d, s));
    return li;
  }

  function renderAll() {
    const list = $("device-list");
    list.replaceChildren(...[...devices.values()].map(renderDevice));
    $("no-devices").hidden = devices.size > 0;
    for (const d of devices.values()) {
      for (const s of d.sensors || []) if (!charts.has(`${d.id}/${s.name}`)) loadChart(d.id, s.name, "hour");
      for (const i of d.inputs) if (!timelines.has(`${d.id}/${i.name}`)) loadTimeline(d.id);
    }
  }

  /** A device's new view; `answers` are the refs of our commands whose result it is. */
  function updateDevice(d, answers) {
    const before = devices.get(d.id);
    devices.set(d.id, d);
    for (const ref of answers || []) for (const [key, p] of pending) if (p.ref === ref) pending.delete(key);
    for (const s of d.sensors || []) {
      const was = before?.sensors?.find((x) => x.name === s.name);
      if (s.value !== null && s.at && (!was || was.at !== s.at)) liveReading(d.id, s);
    }
    const old = $(`device-${d.id}`);
    if (!old) return renderAll();
    // Keep keyboard focus on the same control across the re-render.
    const f = document.activeElement;
    const focus =
      f && old.contains(f)
        ? f.closest(".output")
          ? `.output[data-output="${f.closest(".output").dataset.output}"] .switch`
          : f.dataset.range
            ? `.sensor[data-sensor="${f.closest(".sensor").dataset.sensor}"] [data-range="${f.dataset.range}"]`
            : null
        : null;
    const fresh = renderDevice(d);
    old.replaceWith(fresh);
    if (focus) fresh.querySelector(focus)?.focus();
  }

  // One frame up; the answer is the device frame naming this ref, or a "refused" frame.
  function command(id, output, value) {
    $("message").textContent = "";
    const key = `${id}/${output}`;
    if (pending.has(key)) return; // one command at a time per switch
    if (!live || live.readyState !== WebSocket.OPEN) {
      $("message").textContent = "Not connected to the server: reconnecting, try again in a moment.";
      return;
    }
    const ref = `c${++lastRef}`;
    live.send(JSON.stringify({ type: "command", ref, csrf: csrfToken, device: id, output, value }));
    pending.set(key, { ref, value });
    const d = devices.get(id);
    if (d) updateDevice(d);
    // If the device never reports the new state, say so.
    setTimeout(() => {
      if (pending.get(key)?.ref !== ref) return;
      pending.delete(key);
      const dev = devices.get(id);
      if (dev) updateDevice(dev);
      $("message").textContent =
        `${dev ? dev.label : id} did not confirm "${output}" within ${CONFIRM_MS / 1000} s: is it online?`;
    }, CONFIRM_MS);
  }

  function refused(f) {
    for (const [key, p] of pending) {
      if (p.ref !== f.ref) continue;
      pending.delete(key);
      const d = devices.get(key.slice(0, key.indexOf("/")));
      if (d) updateDevice(d);
    }
    if (f.status === 401) return loggedOut();
    $("message").textContent = `Command failed: ${f.error || `HTTP ${f.status}`}`;
  }

  // ---- charts
  function chartOpts(key, unit, width) {
    const css = getComputedStyle(document.documentElement);
    const line = css.getPropertyValue("--chart").trim() || "#2f6feb";
    const band = css.getPropertyValue("--band").trim() || "rgba(47,111,235,.18)";
    return {
      width,
      height: 170,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{}, { values: (_u, ticks) => ticks.map((v) => `${fmt(v)}${unit ? ` ${unit}` : ""}`), size: 64 }],
      series: [
        {},
        { label: "min", stroke: "transparent", points: { show: false } },
        { label: "avg", stroke: line, width: 2, points: { show: false } },
        { label: "max", stroke: "transparent", points: { show: false } },
      ],
      // The min/max band: filled between the max (3) and min (1) series.
      bands: [{ series: [3, 1], fill: band }],
    };
  }

  function toColumns(p) {
    return [p.t.map((t) => t / 1000), p.min, p.avg, p.max];
  }

  async function loadChart(id, sensor, range) {
    const key = `${id}/${sensor}`;
    const to = Date.now();
    const from = to - RANGES[range];
    const { status, data } = await api(
      "GET",
      `/api/devices/${encodeURIComponent(id)}/sensors/${encodeURIComponent(sensor)}/history?from=${from}&to=${to}`,
    );
    if (status === 401) return loggedOut();
    let c = charts.get(key);
    if (!c) {
      c = { el: el("div", { class: "chart", "data-chart": key }), plot: null };
      charts.set(key, c);
    }
    c.range = range;
    if (status !== 200) {
      c.el.replaceChildren(el("p", { class: "error", text: data.error || `history: HTTP ${status}` }));
      c.plot = null;
      return;
    }
    c.step = data.step * 1000;
    c.unit = data.unit;
    c.points = data.points;
    c.el.dataset.points = String(data.points.t.length);
    c.el.dataset.range = range;
    const width = Math.max(240, c.el.clientWidth || c.el.parentElement?.clientWidth || 320);
    if (c.plot) c.plot.destroy();
    c.el.replaceChildren();
    c.plot = new uPlot(chartOpts(key, data.unit, width), toColumns(data.points), c.el);
    const d = devices.get(id);
    if (d) updateDevice(d);
  }

  // A reading arrives over the live socket: fold it into the chart's last bucket or start a new one.
  function liveReading(id, s) {
    const c = charts.get(`${id}/${s.name}`);
    if (!c || !c.plot || !c.points) return;
    const t = Date.parse(s.at);
    const b = Math.floor(t / c.step) * c.step;
    const p = c.points;
    const last = p.t.length - 1;
    if (last >= 0 && p.t[last] === b) {
      const n = p.count[last] + 1;
      p.min[last] = Math.min(p.min[last], s.value);
      p.max[last] = Math.max(p.max[last], s.value);
      p.avg[last] = p.avg[last] + (s.value - p.avg[last]) / n;
      p.count[last] = n;
    } else if (last < 0 || b > p.t[last]) {
      p.t.push(b);
      p.min.push(s.value);
      p.avg.push(s.value);
      p.max.push(s.value);
      p.count.push(1);
      // Keep the window: drop buckets that slid out of the range.
      const oldest = Date.now() - RANGES[c.range];
      while (p.t.length > 1 && p.t[0] < oldest) for (const k of ["t", "min", "avg", "max", "count"]) p[k].shift();
    } else return;
    c.el.dataset.points = String(p.t.length);
    c.plot.setData(toColumns(p));
  }

  async function loadTimeline(id) {
    const { status, data } = await api("GET", `/api/devices/${encodeURIComponent(id)}/events?limit=100`);
    if (status !== 200) return;
    const d = devices.get(id);
    for (const i of d ? d.inputs : []) {
      timelines.set(`${id}/${i.name}`, data.events.filter((e) => e.input === i.name).slice(0, TIMELINE_MAX));
    }
    if (d) updateDevice(d);
  }

  function liveInput(e) {
    const key = `${e.deviceId}/${e.name}`;
    const list = timelines.get(key) || [];
    list.unshift({ t: Date.parse(e.at), value: e.value });
    timelines.set(key, list.slice(0, TIMELINE_MAX));
  }

  function onFrame(f) {
    if (f.type === "snapshot") {
      retryMs = 0; // connected: the next drop retries quickly again
      setBroker(f.broker);
      devices.clear();
      for (const d of f.devices) devices.set(d.id, d);
      // Events may have come and gone while the socket was down: the timelines are read again.
      timelines.clear();
      renderAll();
    } else if (f.type === "device") updateDevice(f.device, f.answers);
    else if (f.type === "input") liveInput(f.input);
    else if (f.type === "broker") setBroker(f.broker);
    else if (f.type === "refused") refused(f);
  }

  function follow() {
    clearTimeout(retryTimer);
    retryTimer = null;
    const old = live;
    live = null;
    if (old) old.close();
    const ws = new WebSocket(LIVE_URL);
    live = ws;
    ws.addEventListener("message", (e) => onFrame(JSON.parse(e.data)));
    ws.addEventListener("close", (e) => {
      if (live !== ws) return; // logged out, or replaced
      live = null;
      if (e.code === SESSION_ENDED) return loggedOut();
      lostConnection();
    });
  }

  async function lostConnection() {
    setBroker("reconnecting");
    // Commands on the old socket are answered on it alone: their switches show the state again.
    if (pending.size > 0) {
      pending.clear();
      for (const d of devices.values()) updateDevice(d);
    }
    // A refused upgrade looks like any dropped connection (1006): a session that ended means the login form.
    // Only the app's own answer says so: while it restarts, nginx answers 502 and the page keeps trying.
    try {
      const { status, data } = await api("GET", "/api/session");
      if (status === 200 && !data.authenticated) return loggedOut();
    } catch {
      // the server is not answering (restarting): try again below
    }
    if (!csrfToken || live || retryTimer) return; // logged out, or already back meanwhile
    retryMs = Math.min(RETRY_MAX_MS, retryMs ? retryMs * 2 : RETRY_MIN_MS);
    retryTimer = setTimeout(follow, retryMs);
  }

  // "seen 3 min ago" ages without any message: refresh the text, and the longer charts, now and then.
  setInterval(() => {
    for (const s of document.querySelectorAll(".seen")) s.textContent = ago(s.dataset.seen);
  }, 30e3);
  setInterval(() => {
    for (const [key, c] of charts) if (c.range !== "hour") loadChart(...key.split("/"), c.range);
  }, 5 * 60e3);
  window.addEventListener("resize", () => {
    for (const c of charts.values())
      if (c.plot) c.plot.setSize({ width: Math.max(240, c.el.clientWidth), height: 170 });
  });

  function loggedIn(token) {
    csrfToken = token;
    show("devices");
    follow();
  }

  function loggedOut() {
    const ws = live;
    live = null;
    if (ws) ws.close();
    clearTimeout(retryTimer);
    retryTimer = null;
    retryMs = 0;
    csrfToken = "";
    pending.clear();
    devices.clear();
    for (const c of charts.values()) if (c.plot) c.plot.destroy();
    charts.clear();
    timelines.clear();
    show("login");
  }

  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("login-error").textContent = "";
    const { status, data } = await api("POST", "/api/login", { password: $("password").value });
    $("password").value = "";
    if (status === 200) loggedIn(data.csrfToken);
    else $("login-error").textContent = data.error || `Login failed (HTTP ${status})`;
  });

  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/logout");
    loggedOut();
  });

  api("GET", "/api/session").then(({ data }) => (data.authenticated ? loggedIn(data.csrfToken) : loggedOut()));
})();
