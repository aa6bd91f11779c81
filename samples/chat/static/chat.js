// The chat page: plain JavaScript, no libraries, no build step.
//
// It asks the app for a client URL (POST /negotiate), then talks to Web PubSub directly over a WebSocket with the
// json.webpubsub.azure.v1 subprotocol. Everything it does is an "event" message that the service hands to the app
// (join, leave, message); everything it shows arrives as a "message" the app sent with the server SDK. After a drop
// it negotiates again, reconnects and joins its rooms again.
"use strict";

const SUBPROTOCOL = "json.webpubsub.azure.v1";
const SUGGESTED_ROOMS = ["general", "random", "python"];
const REPLACED_PREFIX = "Replaced:"; // app.py closes an older connection of a tab that connected again with this
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 10000]; // then every 10 s
const KEPT_ANNOUNCEMENTS = 5;

const state = {
  name: null, // the name signed in with; the service's "connected" message confirms it
  session: null, // a random id for this tab: a reconnect from it may take its name back at once
  socket: null,
  closeReason: "",
  attempt: 0, // reconnect attempts since the last successful connection
  retryTimer: null,
  stopped: true, // signed out: do not reconnect
  nextAckId: 1,
  pending: new Map(), // ackId -> what was asked, to explain a failure
  rooms: new Map(), // room -> {members, rev, items, seen}, for every room joined
  current: null, // the room shown
  online: { names: [], rev: 0 },
};

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------------------------------------------------------
// Signing in and connecting
// ------------------------------------------------------------------------------------------------------------------

function newSession() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function signIn(name, rooms = []) {
  state.name = name;
  state.session = state.session || newSession();
  state.stopped = false;
  state.attempt = 0;
  for (const room of rooms) addRoom(room);
  save();
  connect();
}

function signOut(reason) {
  state.stopped = true;
  clearTimeout(state.retryTimer);
  if (state.socket) state.socket.close(1000, "signed out");
  state.socket = null;
  state.rooms.clear();
  state.current = null;
  state.online = { names: [], rev: 0 };
  sessionStorage.removeItem("chat");
  setStatus("signed-out", "Signed out");
  $("chat").hidden = true;
  $("whoami").hidden = true;
  $("sign-in").hidden = false;
  $("name").value = state.name || "";
  const error = $("sign-in-error");
  error.textContent = reason || "";
  error.hidden = !reason;
  $("name").focus();
}

async function connect() {
  clearTimeout(state.retryTimer);
  if (state.stopped) return;
  setStatus("connecting", state.attempt ? "Reconnecting…" : "Connecting…");
  let response;
  try {
    response = await fetch("/negotiate", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: state.name, session: state.session }),
    });
  } catch (err) {
    retry(); // the app is unreachable: try again later
    return;
  }
  if (state.stopped) return;
  if (response.status === 400 || response.status === 409) {
    const body = await response.json().catch(() => ({}));
    signOut(body.detail || "That name cannot be used."); // a bad or taken name: the page says why
    return;
  }
  if (!response.ok) {
    retry();
    return;
  }
  const { url } = await response.json();
  open(url);
}

function open(url) {
  const socket = new WebSocket(url, SUBPROTOCOL);
  state.socket = socket;
  state.closeReason = "";
  socket.onmessage = (event) => {
    if (state.socket === socket) receive(JSON.parse(event.data));
  };
  socket.onclose = () => {
    if (state.socket !== socket) return; // an old socket we already gave up on
    state.socket = null;
    if (state.stopped) return;
    if (state.closeReason.startsWith(REPLACED_PREFIX)) {
      signOut("This chat connected again in another tab. Sign in to use it here.");
      return;
    }
    retry(); // a dropped connection, a server restart, a refused handshake: negotiate and connect again
  };
}

function retry() {
  if (state.stopped) return;
  const base = RETRY_DELAYS_MS[Math.min(state.attempt, RETRY_DELAYS_MS.length - 1)];
  const delay = base * (0.8 + Math.random() * 0.4); // spread reconnects out when many pages lost the same server
  state.attempt += 1;
  setStatus("reconnecting", `Reconnecting in ${Math.max(1, Math.round(delay / 1000))} s…`);
  state.retryTimer = setTimeout(connect, delay);
}

function send(event, data, what) {
  if (!state.socket || state.socket.readyState !== WebSocket.OPEN) {
    showError("Not connected at the moment; try again when the status says Connected.");
    return false;
  }
  const ackId = state.nextAckId++;
  state.pending.set(ackId, what);
  state.socket.send(JSON.stringify({ type: "event", event, dataType: "json", data, ackId }));
  return true;
}

// ------------------------------------------------------------------------------------------------------------------
// What arrives
// ------------------------------------------------------------------------------------------------------------------

function receive(frame) {
  if (frame.type === "system" && frame.event === "connected") {
    onConnected(frame);
  } else if (frame.type === "system" && frame.event === "disconnected") {
    state.closeReason = frame.message || ""; // the close follows
  } else if (frame.type === "ack") {
    const what = state.pending.get(frame.ackId);
    state.pending.delete(frame.ackId);
    if (!frame.success) showError(`${what || "That"} failed: ${frame.error.message}`);
  } else if (frame.type === "message") {
    if (frame.dataType === "json" && frame.data && typeof frame.data === "object") {
      onChatMessage(frame.data, frame.from === "group");
    } else if (frame.dataType === "text") {
      addAnnouncement(frame.data); // plain text from the server SDK, e.g. service.send_to_all("...")
    }
  }
}

function onConnected(frame) {
  state.name = frame.userId;
  state.attempt = 0;
  state.online.rev = 0; // a new connection: whatever it receives is newer than what the old one showed
  for (const room of state.rooms.values()) room.rev = 0;
  setStatus("connected", "Connected");
  $("my-name").textContent = state.name;
  $("whoami").hidden = false;
  $("sign-in").hidden = true;
  $("sign-in-error").hidden = true;
  $("chat").hidden = false;
  for (const room of state.rooms.keys()) send("join", { room }, `Joining #${room}`); // again, after a reconnect
  render();
}

function onChatMessage(data, toGroup) {
  switch (data.kind) {
    case "presence":
      if (data.rev > state.online.rev) state.online = { names: data.online, rev: data.rev };
      renderOnline();
      break;
    case "room": // the answer to our join: members and recent messages
      if (state.rooms.has(data.room)) {
        const room = state.rooms.get(data.room);
        setMembers(room, data);
        for (const message of data.history) addMessage(room, message);
        render();
      }
      break;
    case "joined":
    case "left":
      if (toGroup && state.rooms.has(data.room)) {
        const room = state.rooms.get(data.room);
        setMembers(room, data);
        if (data.user !== state.name) addNotice(room, `${data.user} ${data.kind} #${data.room}`);
        render();
      }
      break;
    case "message":
      if (state.rooms.has(data.room)) {
        addMessage(state.rooms.get(data.room), data);
        render();
      }
      break;
    case "announcement":
      addAnnouncement(data.text);
      break;
    case "error":
      showError(data.text);
      break;
  }
}

function setMembers(room, data) {
  if (data.rev > room.rev) {
    room.members = data.members;
    room.rev = data.rev;
  }
}

// ------------------------------------------------------------------------------------------------------------------
// What the user does
// ------------------------------------------------------------------------------------------------------------------

function addRoom(name) {
  if (!state.rooms.has(name)) state.rooms.set(name, { members: [], rev: 0, items: [], seen: new Set() });
}

function joinRoom(name) {
  name = name.trim().toLowerCase();
  if (!name) return;
  if (!state.rooms.has(name)) {
    if (!send("join", { room: name }, `Joining #${name}`)) return;
    addRoom(name);
    save();
  }
  state.current = name;
  render();
}

function leaveRoom(name) {
  if (!send("leave", { room: name }, `Leaving #${name}`)) return;
  state.rooms.delete(name);
  if (state.current === name) state.current = state.rooms.keys().next().value || null;
  save();
  render();
}

function addMessage(room, message) {
  if (room.seen.has(message.id)) return; // history after a reconnect repeats what we have
  room.seen.add(message.id);
  room.items.push({ ...message, type: "message" }); // messages missed while offline come after what we had
}

function addNotice(room, text) {
  room.items.push({ type: "notice", text, time: Date.now() / 1000 });
}

function addAnnouncement(text) {
  const list = $("announcements");
  const item = document.createElement("li");
  item.textContent = text;
  list.prepend(item);
  while (list.children.length > KEPT_ANNOUNCEMENTS) list.lastChild.remove();
}

function showError(text) {
  const error = $("chat-error");
  error.textContent = text;
  error.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => (error.hidden = true), 6000);
}

function save() {
  const saved = { name: state.name, session: state.session, rooms: [...state.rooms.keys()] };
  sessionStorage.setItem("chat", JSON.stringify(saved));
}

// ------------------------------------------------------------------------------------------------------------------
// Drawing (text always goes in with textContent, never as HTML)
// ------------------------------------------------------------------------------------------------------------------

function setStatus(kind, text) {
  const status = $("status");
  status.dataset.state = kind;
  status.textContent = text;
  document.body.dataset.connection = kind; // the stylesheet dims what may be out of date while not connected
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render() {
  renderRooms();
  renderOnline();
  renderConversation();
}

function renderRooms() {
  const list = $("rooms");
  list.replaceChildren();
  for (const name of new Set([...SUGGESTED_ROOMS, ...state.rooms.keys()])) {
    const joined = state.rooms.has(name);
    const item = element("li", joined ? "joined" : "");
    item.append(element("span", "room-name", `#${name}`));
    const button = element("button", joined ? "secondary" : "", joined ? "Leave" : "Join");
    button.type = "button";
    button.setAttribute("aria-label", `${joined ? "Leave" : "Join"} #${name}`);
    button.onclick = () => (joined ? leaveRoom(name) : joinRoom(name));
    item.append(button);
    list.append(item);
  }
}

function renderOnline() {
  const list = $("online");
  list.replaceChildren();
  for (const name of state.online.names) {
    const item = element("li", "", name);
    if (name === state.name) item.append(" ", element("span", "me", "(you)"));
    list.append(item);
  }
  $("online-count").textContent = `(${state.online.names.length})`;
}

function renderConversation() {
  const tabs = $("tabs");
  tabs.replaceChildren();
  for (const name of state.rooms.keys()) {
    const tab = element("button", "", `#${name}`);
    tab.type = "button";
    tab.setAttribute("aria-current", String(name === state.current));
    tab.onclick = () => {
      state.current = name;
      render();
    };
    tabs.append(tab);
  }
  if (state.current && !state.rooms.has(state.current)) state.current = null;
  if (!state.current) state.current = state.rooms.keys().next().value || null;
  const room = state.current && state.rooms.get(state.current);
  $("no-room").hidden = Boolean(room);
  $("room-view").hidden = !room;
  if (!room) return;
  $("room-title").textContent = `#${state.current}`;
  $("members").textContent = room.members.join(", ") || "nobody yet";
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren();
  for (const item of room.items) {
    if (item.type === "notice") {
      list.append(element("li", "notice", item.text));
      continue;
    }
    const line = element("li", item.user === state.name ? "mine" : "");
    line.append(element("span", "author", item.user), element("span", "text", item.text));
    const time = new Date(item.time * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    line.append(element("span", "time", time));
    list.append(line);
  }
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// ------------------------------------------------------------------------------------------------------------------
// Start
// ------------------------------------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("name").value);
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    joinRoom($("new-room").value);
    $("new-room").value = "";
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("text");
    if (!input.value.trim() || !state.current) return;
    if (send("message", { room: state.current, text: input.value }, "Sending")) input.value = "";
  });
  const saved = JSON.parse(sessionStorage.getItem("chat") || "null");
  if (saved && saved.name) {
    state.session = saved.session;
    signIn(saved.name, saved.rooms || []); // a reload keeps the sign-in and the rooms
  }
});
