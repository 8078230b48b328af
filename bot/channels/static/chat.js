// The web chat page. Every text from the server or the user goes in with textContent, never
// innerHTML, so a question holding <script> shows as the characters typed.
"use strict";

const T = JSON.parse(document.getElementById("texts").textContent);
const log = document.getElementById("log");
const scroller = log.parentElement;  // <main> scrolls; the list inside it grows
const form = document.getElementById("ask");
const input = document.getElementById("text");
const send = document.getElementById("send");
const typing = document.getElementById("typing");
const pending = document.getElementById("pending");
const baseTitle = document.title;
const STAR = /^req:rate:[^:]+:([1-5])$/;
const NUMBER = /\b(\d{4}-\d{4,})\b/g;
const clock = new Intl.DateTimeFormat(document.documentElement.lang, {
  timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  hour12: false,
});

// Times are shown in Beijing time, whatever the device's zone: due dates are decided there.
function stamp(at) {
  return clock.format(at ? new Date(at) : new Date());
}

// One bubble: a list item that says who spoke and when, for a screen reader as for the eye.
function bubble(mine, at) {
  const li = document.createElement("li");
  li.className = "msg " + (mine ? "me" : "bot");
  const who = document.createElement("span");
  who.className = "hidden";
  who.textContent = (mine ? T.me : T.bot) + T.said;
  li.appendChild(who);
  const text = document.createElement("div");
  text.className = "text";
  li.appendChild(text);
  const time = document.createElement("time");
  time.className = "at";
  time.dateTime = at || new Date().toISOString();
  time.textContent = stamp(at);
  li.appendChild(time);
  log.appendChild(li);
  return li;
}

// A request's number in a bot message opens its page: the whole thread, replies and result.
function linked(node, text) {
  let last = 0;
  for (const found of text.matchAll(NUMBER)) {
    node.appendChild(document.createTextNode(text.slice(last, found.index)));
    const a = document.createElement("a");
    a.href = "/chat/requests/" + found[1];
    a.textContent = found[1];
    node.appendChild(a);
    last = found.index + found[1].length;
  }
  node.appendChild(document.createTextNode(text.slice(last)));
}

function label(button) {
  const star = STAR.exec(button.payload);
  if (!star) return button.label;
  const n = Number(star[1]);
  return "⭐ " + (n === 1 ? T.star : T.stars).replace("{n}", n);
}

function show(message, pressed) {
  const li = bubble(false, message.at);
  linked(li.querySelector(".text"), message.text);
  if (message.source) {
    const source = document.createElement("div");
    source.className = "source";
    source.textContent = T.source + message.source;
    li.insertBefore(source, li.querySelector("time"));
  }
  // Files from another channel: a picture shown, any other file as a link to it.
  for (const file of message.files || []) {
    const holder = document.createElement("div");
    holder.className = "file";
    const a = document.createElement("a");
    a.href = file.url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    if (file.kind === "photo") {
      const img = document.createElement("img");
      img.src = file.url;
      img.alt = file.name || T.photo;
      img.loading = "lazy";
      a.appendChild(img);
    } else {
      a.textContent = "📎 " + (file.name || T.file);
    }
    holder.appendChild(a);
    li.insertBefore(holder, li.querySelector("time"));
  }
  if (message.buttons && message.buttons.length) {
    const choices = document.createElement("div");
    choices.className = "choices";
    const done = message.buttons.some((b) => pressed && pressed.has(b.payload));
    for (const button of message.buttons) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label(button);
      b.dataset.payload = button.payload;
      b.disabled = done;
      if (done && pressed.has(button.payload)) b.classList.add("chosen");
      b.addEventListener("click", () => {
        // A finished step's buttons: pressed once, then they are history.
        for (const other of choices.querySelectorAll("button")) other.disabled = true;
        b.classList.add("chosen");
        post({ choice: button.payload, label: b.textContent }, b.textContent);
      });
      choices.appendChild(b);
    }
    li.insertBefore(choices, li.querySelector("time"));
  }
  scroller.scrollTop = scroller.scrollHeight;
  return li;
}

function newId() {
  // randomUUID needs a secure context (HTTPS or localhost); the fallback keeps to the
  // characters the server takes in an id: letters, digits, "-" and "_".
  return crypto.randomUUID
    ? crypto.randomUUID()
    : Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
}

async function post(body, echo, mine) {
  if (echo && !mine) {
    mine = bubble(true);
    mine.querySelector(".text").textContent = echo;
  }
  scroller.scrollTop = scroller.scrollHeight;
  pending.hidden = true;
  send.disabled = true;
  typing.hidden = false;
  body.id = body.id || newId();  // a retry keeps its id: the server takes it once
  try {
    const response = await fetch("/api/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = await response.json();
    if (mine) mine.classList.remove("failed");
    if (data.error) {
      const li = bubble(false);
      li.classList.add("error");
      li.querySelector(".text").textContent = data.error;
    }
    for (const message of data.messages || []) show(message);
  } catch (error) {
    failed(body, echo, mine);
  } finally {
    typing.hidden = true;
    send.disabled = false;
    input.focus();
  }
}

// Not sent: the words stay, in their bubble, with a button that sends them again.
function failed(body, echo, mine) {
  const li = bubble(false);
  li.classList.add("error");
  li.querySelector(".text").textContent = T.offline;
  if (!echo) return;
  if (mine) mine.classList.add("failed");
  const again = document.createElement("button");
  again.type = "button";
  again.className = "retry";
  again.textContent = T.retry;
  again.addEventListener("click", () => {
    li.remove();
    post(body, echo, mine);
  });
  const choices = document.createElement("div");
  choices.className = "choices";
  choices.appendChild(again);
  li.insertBefore(choices, li.querySelector("time"));
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value;
  input.value = "";
  post({ text }, text.trim() ? text : null);
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

for (const quick of document.querySelectorAll("nav.quick button")) {
  quick.addEventListener("click", () => post({ text: quick.dataset.command }, quick.textContent));
}

document.getElementById("pending-cancel").addEventListener("click", () => {
  post({ text: "/cancel" }, T.cancel);
});

// What arrives later (a commissioner's reply, a deadline notice) is fetched here; asking for
// what comes after `cursor` also tells the server everything up to it was shown.
let cursor = 0;
let unseen = 0;
const shown = new Set();
async function poll() {
  try {
    const response = await fetch("/api/updates?after=" + cursor, { credentials: "same-origin" });
    if (response.ok) {
      const data = await response.json();
      for (const message of data.messages || []) {
        if (!shown.has(message.id)) {
          shown.add(message.id);
          show(message);
          if (document.hidden) unseen += 1;
        }
      }
      cursor = Math.max(cursor, data.cursor || 0);
      if (unseen) document.title = "(" + unseen + ") " + T.new_reply + " · " + baseTitle;
    }
  } catch (error) {
    // offline for a moment: the next poll asks again
  }
  setTimeout(poll, 3000);
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    unseen = 0;
    document.title = baseTitle;
  }
});

// The conversation so far, as the server keeps it: a reload or a second tab shows it again.
async function restore() {
  let data = null;
  try {
    const response = await fetch("/api/transcript", { credentials: "same-origin" });
    if (response.ok) data = await response.json();
  } catch (error) {
    // the greeting below still works; the next poll brings what waits
  }
  const entries = (data && data.entries) || [];
  const pressed = new Set(entries.filter((e) => e.mine && e.choice).map((e) => e.choice));
  for (const entry of entries) {
    if (entry.mine) {
      bubble(true, entry.at).querySelector(".text").textContent = entry.text;
    } else {
      shown.add(entry.id);
      show(entry, pressed);
    }
  }
  cursor = Math.max(cursor, (data && data.cursor) || 0);
  if (data && data.step) {
    document.getElementById("pending-text").textContent = T.pending;
    document.getElementById("pending-cancel").textContent = T.cancel;
    pending.hidden = false;
  }
  scroller.scrollTop = scroller.scrollHeight;
  // Announced from now on: what arrives, not the whole history read out on every load.
  log.setAttribute("aria-live", "polite");
  if (!entries.length) await post({ text: "/start", quiet: true }, null);
}

restore().then(poll);
