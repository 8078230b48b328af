// The web chat page. Every text from the server or the user goes in with textContent, never
// innerHTML, so a question holding <script> shows as the characters typed.
"use strict";

const log = document.getElementById("log");
const form = document.getElementById("ask");
const input = document.getElementById("text");
const send = document.getElementById("send");

function bubble(kind) {
  const div = document.createElement("div");
  div.className = "msg " + kind;
  log.appendChild(div);
  return div;
}

function show(message) {
  const div = bubble("bot");
  const text = document.createElement("div");
  text.className = "text";
  text.textContent = message.text;
  div.appendChild(text);
  if (message.source) {
    const source = document.createElement("div");
    source.className = "source";
    source.textContent = "来源：" + message.source;
    div.appendChild(source);
  }
  if (message.buttons && message.buttons.length) {
    const choices = document.createElement("div");
    choices.className = "choices";
    for (const button of message.buttons) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = button.label;
      b.dataset.payload = button.payload;
      b.addEventListener("click", () => post({ choice: button.payload }, button.label));
      choices.appendChild(b);
    }
    div.appendChild(choices);
  }
  log.scrollTop = log.scrollHeight;
}

async function post(body, echo) {
  if (echo) bubble("me").textContent = echo;
  log.scrollTop = log.scrollHeight;
  send.disabled = true;
  // randomUUID needs a secure context (HTTPS or localhost); the fallback keeps to the
  // characters the server takes in an id: letters, digits, "-" and "_".
  body.id = crypto.randomUUID
    ? crypto.randomUUID()
    : Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  try {
    const response = await fetch("/api/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = await response.json();
    if (data.error) {
      const div = bubble("bot error");
      div.textContent = data.error;
    }
    for (const message of data.messages || []) show(message);
  } catch (error) {
    bubble("bot error").textContent = "网络好像断了，请稍后再试。";
  } finally {
    send.disabled = false;
    input.focus();
  }
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

// What arrives later (a commissioner's reply, a deadline notice) is fetched here; asking for
// what comes after `cursor` also tells the server everything up to it was shown.
let cursor = 0;
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
        }
      }
      cursor = Math.max(cursor, data.cursor || 0);
    }
  } catch (error) {
    // offline for a moment: the next poll asks again
  }
  setTimeout(poll, 3000);
}

post({ text: "/start" }, null).then(poll);
