// The emulator's live trace page. Plain JavaScript, nothing loaded from elsewhere.
//
// The page reads one Server-Sent Events stream, /trace/api/live: first a "snapshot" (the hubs and their live
// connections), then "entries" batches (what happened, oldest first, each with a sequence number, plus how many
// entries this page lost because it fell behind). Connections, their groups and the hubs are kept up to date from
// the entries; filtering and pausing happen here, in the page: the emulator sends every page the same feed.
"use strict";

(function () {
  const KEEP = 5000; // entries kept in the page (older ones are dropped from the page, not counted as lost)
  const ROWS = 500; // feed rows on screen
  const DEPARTED = 1000; // ended connections remembered, to attribute their last entries
  const FILTERS = ["hub", "user", "connection", "group"];

  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"),
    shown: $("shown"),
    lost: $("lost"),
    pause: $("pause"),
    clear: $("clear"),
    signOut: $("sign-out"),
    hubs: $("hubs"),
    noHubs: $("no-hubs"),
    connections: document.querySelector("#connections tbody"),
    connectionCount: $("connection-count"),
    noConnections: $("no-connections"),
    feed: $("feed"),
    noEntries: $("no-entries"),
    pausedNote: $("paused-note"),
    filters: Object.fromEntries(FILTERS.map((name) => [name, $("filter-" + name)])),
    lists: Object.fromEntries(FILTERS.map((name) => [name, $("known-" + name + "s")])),
  };

  const state = {
    connections: new Map(), // "hub\nid" -> {hub, connection, user, protocol, groups: Set, since, state}
    departed: new Map(), // the same, for connections that ended (oldest first, bounded)
    hubs: new Set(),
    entries: [], // oldest first, at most KEEP
    snapshotSeq: 0,
    lost: 0,
    paused: false,
    unseen: 0, // entries that arrived while paused
    everConnected: false,
    filter: { hub: "", user: "", connection: "", group: "" },
  };

  // ------------------------------------------------------------------ formatting
  const key = (hub, id) => hub + "\n" + id;
  const pad = (n, w) => String(n).padStart(w, "0");
  function clock(ts) {
    const d = new Date(ts * 1000);
    return `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.${pad(d.getMilliseconds(), 3)}`;
  }
  function ago(ts) {
    const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
  }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  // a value that sets a filter when clicked
  function chip(filter, value, shown, extra) {
    const button = el("button", "chip" + (extra ? " " + extra : ""), shown === undefined ? value : shown);
    button.type = "button";
    button.dataset.filter = filter;
    button.dataset.value = value;
    button.title = `Show only ${filter} ${value}`;
    return button;
  }
  const shortId = (id) => (id.length > 10 ? id.slice(0, 8) + "…" : id);

  // ------------------------------------------------------------------ filters
  function matchesEntry(e) {
    const f = state.filter;
    if (f.hub && (e.hub || "").toLowerCase() !== f.hub.toLowerCase()) return false;
    if (f.user && e.user !== f.user) return false;
    if (f.connection && e.connection !== f.connection) return false;
    if (f.group && !(e.groups || []).includes(f.group)) return false;
    return true;
  }
  function matchesConnection(c) {
    const f = state.filter;
    if (f.hub && c.hub.toLowerCase() !== f.hub.toLowerCase()) return false;
    if (f.user && c.user !== f.user) return false;
    if (f.connection && c.connection !== f.connection) return false;
    if (f.group && !c.groups.has(f.group)) return false;
    return true;
  }
  function readFilters() {
    for (const name of FILTERS) {
      state.filter[name] = ui.filters[name].value.trim();
      ui.filters[name].classList.toggle("active", state.filter[name] !== "");
    }
    const params = new URLSearchParams();
    for (const name of FILTERS) if (state.filter[name]) params.set(name, state.filter[name]);
    const hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname);
    renderAll();
  }
  function setFilter(name, value) {
    ui.filters[name].value = value;
    readFilters();
  }

  // ------------------------------------------------------------------ state from the stream
  function remember(c) {
    state.connections.set(key(c.hub, c.connection), c);
    state.hubs.add(c.hub);
  }
  function depart(k) {
    const c = state.connections.get(k);
    if (!c) return;
    state.connections.delete(k);
    state.departed.set(k, c);
    if (state.departed.size > DEPARTED) state.departed.delete(state.departed.keys().next().value);
  }
  function applySnapshot(snapshot) {
    state.connections.clear();
    state.snapshotSeq = snapshot.seq;
    for (const hub of snapshot.hubs) {
      state.hubs.add(hub.name);
      for (const c of hub.connections) remember({ ...c, groups: new Set(c.groups) });
    }
    ui.signOut.hidden = snapshot.access !== "signed-in";
  }
  // keep connections, groups and hubs up to date (only entries newer than the snapshot change them)
  function apply(e) {
    if (e.hub) state.hubs.add(e.hub);
    if (e.seq < state.snapshotSeq || !e.connection || !e.hub) return;
    const k = key(e.hub, e.connection);
    const d = e.detail || {};
    if (e.kind === "session") {
      if (d.event === "open") {
        remember({
          hub: e.hub, connection: e.connection, user: d.user, protocol: d.protocol,
          groups: new Set(), since: e.ts, state: "open",
        });
      } else if (d.new === "closing" || d.new === "gone") {
        depart(k);
      } else if (state.connections.has(k)) {
        state.connections.get(k).state = d.new;
      }
    } else if (e.kind === "group" && state.connections.has(k)) {
      const groups = state.connections.get(k).groups;
      if (d.event === "join") groups.add(d.group);
      else groups.delete(d.group);
    }
  }
  // an entry about a connection that just ended gets the user and groups the page knew for it
  function attribute(e) {
    if (!e.connection || !e.hub) return;
    const k = key(e.hub, e.connection);
    const known = state.connections.get(k) || state.departed.get(k);
    if (!known) return;
    if (e.user === null || e.user === undefined) e.user = known.user;
    if ((!e.groups || e.groups.length === 0) && !state.connections.has(k)) e.groups = Array.from(known.groups);
  }

  // ------------------------------------------------------------------ what an entry says
  function describe(e) {
    const d = e.detail || {};
    const what = el("span", "what");
    const add = (text, cls) => what.appendChild(el("span", cls, text));
    const status = (code) => add(code === null || code === undefined ? "unreachable" : code,
      code === null || code === undefined || code >= 400 ? "bad" : "good");
    switch (e.kind) {
      case "rest":
        add(`${d.method} ${d.path} → `);
        status(d.status);
        if (typeof d.ms === "number") add(` ${d.ms.toFixed(1)} ms`, "ms");
        break;
      case "frame-in":
      case "frame-out": {
        const who = e.kind === "frame-in" ? "from the client" : "to the client";
        if (d.type === "close") {
          add(`close ${who}: `);
          add(d.code === undefined || d.code === null ? "no code" : d.code, d.code === 1000 ? "good" : "bad");
          if (d.reason) add(` “${d.reason}”`);
        } else {
          add(`${d.type} ${who}, ${d.size} B${d.text !== undefined ? ": " : ""}`);
          if (d.text !== undefined) add(d.text, "text");
        }
        break;
      }
      case "upstream":
        add(`${d.event} event → `);
        status(d.status);
        if (typeof d.ms === "number") add(` in ${d.ms.toFixed(1)} ms`, "ms");
        if (d.url) add(` · ${d.url}`, "ms");
        break;
      case "refused":
        add("handshake refused: ");
        add(`${d.status} ${d.code}`, "bad");
        if (d.reason) add(` ${d.reason}`);
        break;
      case "session":
        if (d.event === "open") add(`opened (${d.protocol})`, "good");
        else {
          add(`${d.old} → ${d.new} (${d.event})`, d.new === "gone" || d.new === "closing" ? "bad" : "");
          if (d.reason) add(`: ${d.reason}`);
        }
        break;
      case "group":
        add(d.event === "join" ? "joined " : "left ");
        what.appendChild(chip("group", d.group));
        break;
      default: // a kind this page does not know yet: its detail as it came
        add(JSON.stringify(d));
    }
    return what;
  }
  const KIND_NAMES = {
    rest: "REST", "frame-in": "in", "frame-out": "out", upstream: "upstream", refused: "refused",
    session: "session", group: "group",
  };

  function row(e) {
    const li = el("li", "entry");
    li.dataset.kind = e.kind;
    li.dataset.seq = e.seq;
    li.appendChild(el("time", "", clock(e.ts)));
    li.appendChild(el("span", "kind", KIND_NAMES[e.kind] || e.kind));
    const hub = el("span", "hub");
    if (e.hub) hub.appendChild(chip("hub", e.hub));
    li.appendChild(hub);
    const who = el("span", "who");
    if (e.user !== null && e.user !== undefined) who.appendChild(chip("user", e.user, e.user, "user"));
    if (e.connection) who.appendChild(chip("connection", e.connection, shortId(e.connection), "id"));
    li.appendChild(who);
    li.appendChild(describe(e));
    return li;
  }
  const marker = (text) => ({ marker: text, seq: -1 });
  function markerRow(e) {
    return el("li", "entry marker", e.marker);
  }

  // ------------------------------------------------------------------ rendering
  function renderFeed() {
    const fragment = document.createDocumentFragment();
    let rows = 0;
    for (let i = state.entries.length - 1; i >= 0 && rows < ROWS; i--) {
      const e = state.entries[i];
      if (e.marker) fragment.appendChild(markerRow(e));
      else if (matchesEntry(e)) fragment.appendChild(row(e));
      else continue;
      rows++;
    }
    ui.feed.replaceChildren(fragment);
    renderCounters();
  }
  function prepend(entries) {
    const fragment = document.createDocumentFragment();
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i];
      if (e.marker) fragment.appendChild(markerRow(e));
      else if (matchesEntry(e)) fragment.appendChild(row(e));
    }
    ui.feed.insertBefore(fragment, ui.feed.firstChild);
    while (ui.feed.childElementCount > ROWS) ui.feed.lastElementChild.remove();
  }
  function renderCounters() {
    const shown = ui.feed.querySelectorAll(".entry:not(.marker)").length;
    const total = state.entries.filter((e) => !e.marker).length;
    ui.shown.textContent = shown === total ? `${total} entries` : `${shown} of ${total} entries shown`;
    ui.noEntries.hidden = shown > 0;
    ui.lost.hidden = state.lost === 0;
    ui.lost.dataset.count = String(state.lost);
    ui.lost.textContent = `${state.lost} lost`;
    if (state.paused) {
      ui.pausedNote.hidden = false;
      ui.pausedNote.textContent = state.unseen === 0 ? "Paused." :
        `Paused: ${state.unseen} new ${state.unseen === 1 ? "entry" : "entries"} not shown yet.`;
    } else {
      ui.pausedNote.hidden = true;
    }
  }
  function renderConnections() {
    const shown = Array.from(state.connections.values()).filter(matchesConnection)
      .sort((a, b) => a.hub.localeCompare(b.hub) || a.since - b.since);
    const fragment = document.createDocumentFragment();
    for (const c of shown) {
      const tr = el("tr");
      tr.dataset.connection = c.connection;
      tr.dataset.state = c.state;
      const cell = (child, cls) => {
        const td = el("td", cls);
        if (child) td.appendChild(child);
        tr.appendChild(td);
        return td;
      };
      cell(chip("hub", c.hub), "hub");
      cell(chip("connection", c.connection, shortId(c.connection), "id"), "connection");
      cell(c.user === null || c.user === undefined ? el("span", "empty", "anonymous") : chip("user", c.user), "user");
      cell(el("span", "", c.protocol), "protocol");
      const groups = cell(null, "groups");
      for (const g of Array.from(c.groups).sort()) groups.appendChild(chip("group", g));
      const since = cell(el("span", "", clock(c.since).slice(0, 8)), "since");
      since.appendChild(el("span", "ago", ago(c.since)));
      cell(el("span", "", c.state), "state");
      fragment.appendChild(tr);
    }
    ui.connections.replaceChildren(fragment);
    ui.connectionCount.textContent = shown.length === state.connections.size ?
      `${shown.length}` : `${shown.length} of ${state.connections.size}`;
    ui.noConnections.hidden = shown.length > 0;
  }
  function renderHubs() {
    const counts = new Map(Array.from(state.hubs).map((h) => [h, 0]));
    for (const c of state.connections.values()) counts.set(c.hub, (counts.get(c.hub) || 0) + 1);
    const fragment = document.createDocumentFragment();
    for (const [hub, n] of Array.from(counts.entries()).sort()) {
      const li = el("li");
      li.appendChild(chip("hub", hub));
      li.appendChild(el("span", "n", `${n} connected`));
      fragment.appendChild(li);
    }
    ui.hubs.replaceChildren(fragment);
    ui.noHubs.hidden = counts.size > 0;
  }
  function renderLists() {
    const values = { hub: new Set(state.hubs), user: new Set(), connection: new Set(), group: new Set() };
    for (const c of state.connections.values()) {
      if (c.user !== null && c.user !== undefined) values.user.add(c.user);
      values.connection.add(c.connection);
      for (const g of c.groups) values.group.add(g);
    }
    for (const name of FILTERS) {
      const fragment = document.createDocumentFragment();
      for (const v of Array.from(values[name]).sort()) {
        const option = document.createElement("option");
        option.value = v;
        fragment.appendChild(option);
      }
      ui.lists[name].replaceChildren(fragment);
    }
  }
  function renderState() {
    renderConnections();
    renderHubs();
    renderLists();
  }
  function renderAll() {
    renderState();
    renderFeed();
  }
  function setStatus(name, text) {
    ui.status.dataset.state = name;
    ui.status.textContent = text;
  }
  function liveStatus() {
    if (state.paused) setStatus("paused", "Paused");
    else setStatus("live", "Live");
  }

  // ------------------------------------------------------------------ the stream
  function keep(items) {
    for (const e of items) state.entries.push(e);
    if (state.entries.length > KEEP) state.entries.splice(0, state.entries.length - KEEP);
  }
  function onEntries(batch) {
    state.lost += batch.lost;
    const added = [];
    if (batch.lost > 0) added.push(marker(`${batch.lost} ${batch.lost === 1 ? "entry" : "entries"} lost here: this page fell behind`));
    for (const e of batch.entries) {
      apply(e);
      attribute(e);
      added.push(e);
    }
    keep(added);
    renderState();
    if (state.paused) {
      state.unseen += batch.entries.length;
      renderCounters();
    } else {
      prepend(added);
      renderCounters();
    }
  }
  function connect() {
    const source = new EventSource("/trace/api/live");
    source.addEventListener("snapshot", (message) => {
      const snapshot = JSON.parse(message.data);
      if (state.everConnected && !snapshot.resumed) {
        keep([marker("Reconnected to the emulator: what happened while the page was away is not shown")]);
      }
      state.everConnected = true;
      applySnapshot(snapshot);
      liveStatus();
      renderAll();
    });
    source.addEventListener("entries", (message) => onEntries(JSON.parse(message.data)));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        setStatus("closed", "Disconnected: reload the page (signed out?)");
      } else {
        setStatus("reconnecting", "Reconnecting");
      }
    });
  }

  // ------------------------------------------------------------------ controls
  ui.pause.addEventListener("click", () => {
    state.paused = !state.paused;
    ui.pause.setAttribute("aria-pressed", String(state.paused));
    ui.pause.textContent = state.paused ? "Resume" : "Pause";
    if (!state.paused) {
      state.unseen = 0;
      renderFeed();
    }
    if (ui.status.dataset.state === "live" || ui.status.dataset.state === "paused") liveStatus();
    renderCounters();
  });
  ui.clear.addEventListener("click", () => {
    state.entries = [];
    state.unseen = 0;
    renderFeed();
  });
  for (const name of FILTERS) ui.filters[name].addEventListener("input", readFilters);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("clear-filters").addEventListener("click", () => {
    for (const name of FILTERS) ui.filters[name].value = "";
    readFilters();
  });
  document.addEventListener("click", (event) => {
    const target = event.target.closest("button.chip");
    if (target) setFilter(target.dataset.filter, target.dataset.value);
  });
  setInterval(() => {
    for (const td of ui.connections.querySelectorAll("td.since")) {
      const c = state.connections.get(key(td.parentElement.querySelector(".hub .chip").dataset.value,
        td.parentElement.dataset.connection));
      if (c) td.querySelector(".ago").textContent = ago(c.since);
    }
  }, 5000);

  const initial = new URLSearchParams(location.hash.slice(1));
  for (const name of FILTERS) ui.filters[name].value = initial.get(name) || "";
  readFilters();
  connect();
})();
