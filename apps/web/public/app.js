// DIY Device Cloud page: log in, list devices, send commands, follow live updates (SSE).
// Plain DOM code, no inline script (the CSP forbids it), text only through textContent.
(() => {
  const $ = (id) => document.getElementById(id);
  let csrfToken = "";
  let events = null;
  const devices = new Map(); // id -> device view from the server
  const pending = new Map(); // "id/output" -> request id of the command in flight
  const CONFIRM_MS = 8000;

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
      state === "connected" ? "Broker connected" : "Broker unreachable: commands will fail until it is back";
  }

  function renderDevice(d) {
    const online = d.online === null ? "unknown" : String(d.online);
    const li = el(
      "li",
      { class: "device", id: `device-${d.id}`, "data-device": d.id, "data-online": online },
      el(
        "h3",
        {},
        d.label,
        el("span", {
          class: "online",
          "data-online": online,
          text: online === "true" ? "online" : online === "false" ? "offline" : "status unknown",
        }),
      ),
    );
    for (const o of d.outputs) {
      const key = `${d.id}/${o.name}`;
      const waiting = pending.has(key) && pending.get(key) !== o.req;
      const value = o.value === null ? "unknown" : o.value;
      const row = el(
        "div",
        { class: "output", "data-output": o.name, "data-state": value },
        el("span", { class: "name", text: o.name }),
        el("span", {
          class: "state",
          "data-state": value,
          role: "status",
          "aria-label": `${o.name} is ${value}`,
          text: value,
        }),
      );
      for (const v of ["on", "off", "toggle"]) {
        row.append(
          el("button", {
            type: "button",
            "data-value": v,
            "aria-label": `${d.label} ${o.name} ${v}`,
            text: v[0].toUpperCase() + v.slice(1),
            onclick: () => command(d.id, o.name, v),
          }),
        );
      }
      if (waiting) row.append(el("span", { class: "pending", text: "sent…" }));
      li.append(row);
    }
    for (const i of d.inputs) {
      li.append(
        el(
          "div",
          { class: "input", "data-input": i.name },
          el("span", { class: "name", text: i.name }),
          el("span", {
            text: i.value === null ? "no events yet" : `${i.value} at ${new Date(i.at).toLocaleTimeString()}`,
          }),
        ),
      );
    }
    return li;
  }

  function renderAll() {
    const list = $("device-list");
    list.replaceChildren(...[...devices.values()].map(renderDevice));
    $("no-devices").hidden = devices.size > 0;
  }

  function updateDevice(d) {
    devices.set(d.id, d);
    for (const o of d.outputs) if (pending.get(`${d.id}/${o.name}`) === o.req) pending.delete(`${d.id}/${o.name}`);
    const old = $(`device-${d.id}`);
    if (!old) return renderAll();
    // Keep keyboard focus on the same button across the re-render.
    const f = document.activeElement;
    const focused =
      f && old.contains(f) && f.dataset.value ? [f.closest(".output").dataset.output, f.dataset.value] : null;
    const fresh = renderDevice(d);
    old.replaceWith(fresh);
    if (focused)
      fresh.querySelector(`.output[data-output="${focused[0]}"] button[data-value="${focused[1]}"]`)?.focus();
  }

  async function command(id, output, value) {
    $("message").textContent = "";
    const { status, data } = await api(
      "POST",
      `/api/devices/${encodeURIComponent(id)}/outputs/${encodeURIComponent(output)}`,
      { value },
    );
    if (status === 202) {
      const key = `${id}/${output}`;
      pending.set(key, data.req);
      const d = devices.get(id);
      if (d) updateDevice(d);
      // The broker took the command; if the device never reports the new state, say so.
      setTimeout(() => {
        if (pending.get(key) !== data.req) return;
        pending.delete(key);
        const dev = devices.get(id);
        if (dev) updateDevice(dev);
        $("message").textContent =
          `${dev ? dev.label : id} did not confirm "${output}" within ${CONFIRM_MS / 1000} s: is it online?`;
      }, CONFIRM_MS);
    } else if (status === 401) {
      loggedOut();
    } else {
      $("message").textContent = `Command failed: ${data.error || `HTTP ${status}`}`;
    }
  }

  function follow() {
    if (events) events.close();
    events = new EventSource("/api/events");
    events.addEventListener("snapshot", (e) => {
      const s = JSON.parse(e.data);
      setBroker(s.broker);
      devices.clear();
      for (const d of s.devices) devices.set(d.id, d);
      renderAll();
    });
    events.addEventListener("device", (e) => updateDevice(JSON.parse(e.data)));
    events.addEventListener("broker", (e) => setBroker(JSON.parse(e.data).broker));
    events.addEventListener("error", async () => {
      // The browser retries by itself; if the session has ended, go back to the login form.
      const { data } = await api("GET", "/api/session");
      if (!data.authenticated) loggedOut();
    });
  }

  function loggedIn(token) {
    csrfToken = token;
    show("devices");
    follow();
  }

  function loggedOut() {
    if (events) events.close();
    events = null;
    csrfToken = "";
    devices.clear();
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
