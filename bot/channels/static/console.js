// The commissioners' console. It never changes a request itself: every button posts the chat
// command's parts to /console/api/act, the bot's handlers decide, and their reply is shown.
// Everything from the server goes in with textContent, never innerHTML.
"use strict";

const POLL_MS = 4000;
const SECTIONS = ["overdue", "due_soon", "active", "resolved"];
const LABELS = { claim: "认领", reply: "回复", ask: "请补充", resolve: "办结", transfer: "转交" };
const PROMPTS = {
  reply: "写给创业者的回复",
  ask: "需要创业者补充什么？（补充之前答复期限暂停）",
  resolve: "办理结果",
  transfer: "转交原因（必填，接收的小组会看到）",
};
const LIMITS = { transfer: 200 }; // the server's limits; a reply's is the default
const TEXT_LIMIT = 1900;
const FILE_TYPES =
  "image/jpeg,image/png,image/gif,image/webp,application/pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.zip";
const SUBMITS = { reply: "发送回复", ask: "发送", resolve: "确认办结", transfer: "确认转交" };

const $ = (id) => document.getElementById(id);
const cards = new Map(); // request number -> card entry
let allGroups = [];
let timer = null;
let signedIn = false;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function newId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return (Date.now().toString(36) + Math.random().toString(36).slice(2)).padEnd(12, "0");
}

async function api(path, body) {
  const options = { credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  return answerOf(await fetch(path, options));
}

// A move with files goes as multipart: its fields first, so the bot checks them (and the
// person's right to the request) before it reads a file.
async function postForm(path, body, files) {
  const form = new FormData();
  for (const [name, value] of Object.entries(body)) form.append(name, value);
  for (const file of files) form.append("file", file, file.name);
  return answerOf(await fetch(path, { method: "POST", credentials: "same-origin", body: form }));
}

async function answerOf(response) {
  let data;
  try {
    data = await response.json();
  } catch (error) {
    data = { error: "服务器没有正常答复，请稍后再试。" };
  }
  return { status: response.status, data };
}

function showProblem(text) {
  const problem = $("problem");
  problem.textContent = text || "";
  problem.hidden = !text;
}

async function refresh() {
  clearTimeout(timer);
  try {
    const { status, data } = await api("/console/api/requests");
    $("loading").hidden = true;
    if (status === 401) {
      showSignin(data);
    } else if (status === 200) {
      showProblem("");
      showBoard(data);
    } else {
      showProblem(data.error);
    }
  } catch (error) {
    showProblem("网络好像断了，稍后会自动重试。");
  }
  // Only a signed-in board changes by itself; the sign-in view waits for a click.
  if (signedIn) timer = setTimeout(refresh, POLL_MS);
}

// --- sign-in -----------------------------------------------------------------------------

function showSignin(data) {
  signedIn = false;
  document.dispatchEvent(new CustomEvent("console:signin")); // hotline.js
  $("board").hidden = true;
  $("who").hidden = true;
  $("signin").hidden = false;
  for (const entry of cards.values()) entry.article.remove();
  cards.clear();
  document.dispatchEvent(new CustomEvent("console:signedout"));
  $("signin-note").textContent = data.demo ? data.note : data.error;
  const list = $("people");
  list.replaceChildren();
  for (const person of data.people || []) {
    const item = el("li");
    const button = el("button", "person");
    button.type = "button";
    button.dataset.webId = person.web_id;
    button.append(el("span", "name", person.name), el("span", "roles", person.roles.join("、")));
    button.addEventListener("click", () => demoSignin(person.web_id));
    item.appendChild(button);
    list.appendChild(item);
  }
}

async function demoSignin(webId) {
  try {
    const { status, data } = await api("/console/api/demo-signin", { web_id: webId });
    if (status !== 200) {
      showProblem(data.error);
      return;
    }
    showProblem("");
    refresh();
  } catch (error) {
    showProblem("网络好像断了，请稍后再试。");
  }
}

$("signout").addEventListener("click", async () => {
  try {
    await api("/console/api/signout", {});
  } finally {
    refresh();
  }
});

// --- the board ---------------------------------------------------------------------------

function showBoard(data) {
  signedIn = true;
  $("signin").hidden = true;
  $("board").hidden = false;
  $("who").hidden = false;
  const roles = data.person.roles.length ? "（" + data.person.roles.join("、") + "）" : "";
  $("who-name").textContent = data.person.name + roles;
  $("groups").textContent = data.groups.length
    ? "您所在的服务小组：" + data.groups.map((g) => g.name).join("、")
    : "";
  $("notice").textContent = data.notice;
  $("notice").hidden = !data.notice;
  allGroups = data.all_groups;
  const seen = new Set();
  for (const name of SECTIONS) {
    const section = $(name);
    const list = section.querySelector(".cards");
    const items = data.sections[name] || [];
    for (const item of items) {
      seen.add(item.number);
      const entry = cards.get(item.number) || makeCard(item.number);
      update(entry, item);
      list.appendChild(entry.article); // moves it into this section, in the server's order
    }
    section.querySelector(".count").textContent = "(" + items.length + ")";
    section.querySelector(".empty").hidden = items.length > 0;
    section.classList.toggle("has-cards", items.length > 0);
    // Someone in no group (a supervisor) has no board of their own to show.
    section.hidden = !data.groups.length;
  }
  for (const [number, entry] of cards) {
    if (!seen.has(number)) {
      entry.article.remove();
      cards.delete(number);
    }
  }
  // Once per answer: hotline.js offers its desk to members, district.js draws the report
  // picker and a supervisor's view.
  document.dispatchEvent(new CustomEvent("console:board", { detail: data }));
}

// A card keeps its action area across polls, so a half-written reply survives a refresh;
// only the summary above it is redrawn, and only when the request changed.
function makeCard(number) {
  const article = el("article", "card");
  article.dataset.number = number;
  const summary = el("div", "summary");
  const buttons = el("div", "buttons");
  const form = el("form", "compose");
  form.hidden = true;
  const textarea = el("textarea");
  textarea.rows = 3;
  textarea.maxLength = TEXT_LIMIT;
  const select = el("select");
  select.setAttribute("aria-label", "转交给哪个服务小组");
  const submit = el("button", "send");
  submit.type = "submit";
  const cancel = el("button", "cancel", "取消");
  cancel.type = "button";
  // A reply, a question or a result may carry files (a PDF from WeCom, where the bot cannot
  // receive one); the bot checks each and says in plain words why one cannot go.
  const attach = el("label", "attach", "附件（可选，最多 3 个）：");
  const files = el("input");
  files.type = "file";
  files.multiple = true;
  files.accept = FILE_TYPES;
  attach.appendChild(files);
  const row = el("div", "row");
  row.append(select, submit, cancel);
  form.append(textarea, attach, row);
  const result = el("p", "result");
  result.setAttribute("role", "status");
  const entry = {
    number, article, summary, buttons, form, textarea, select, submit, result, files, attach,
  };
  entry.signature = "";
  entry.item = null;
  for (const action of Object.keys(LABELS)) {
    const button = el("button", "act act-" + action, LABELS[action]);
    button.type = "button";
    button.dataset.action = action;
    button.addEventListener("click", () => choose(entry, action));
    buttons.appendChild(button);
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const action = form.dataset.action;
    const body = { action, number };
    if (action === "transfer") body.group = select.value;
    body.text = textarea.value;
    send(entry, body, action === "transfer" ? [] : [...files.files]);
  });
  cancel.addEventListener("click", () => closeForm(entry));
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  const actions = el("div", "actions");
  actions.append(buttons, form, result);
  article.append(summary, actions);
  cards.set(number, entry);
  return entry;
}

function update(entry, item) {
  entry.item = item;
  for (const button of entry.buttons.children) {
    button.hidden = !item.actions.includes(button.dataset.action);
  }
  if (!entry.form.hidden && !item.actions.includes(entry.form.dataset.action)) closeForm(entry);
  const signature = JSON.stringify(item);
  if (signature === entry.signature) return;
  entry.signature = signature;
  entry.article.classList.toggle("overdue", item.overdue);
  entry.summary.replaceChildren(...renderSummary(item));
}

// What a card says of its request: shared with the supervisors' read-only cards (district.js),
// which sit deeper in the page's outline and pass their heading level.
function renderSummary(item, level = "h3") {
  const head = el(level, "head");
  head.append(
    el("span", "number", item.number),
    el("span", "category", item.category),
    el("span", "status status-" + item.status, item.status_label),
  );
  const meta = el("p", "meta", item.space + " · " + item.entrepreneur);
  if (item.phone) meta.append(" · 电话 ", el("a", "phone", item.phone));
  if (item.phone) meta.querySelector(".phone").href = "tel:" + item.phone;
  // Who the group is talking to: where the entrepreneur writes, and in which language (a
  // call's card says how it came in, in its heading: see hotline.js).
  if (!item.intake) meta.append(
    " · ",
    el("span", "badge channel channel-" + item.channel, item.channel_label),
    " ",
    el("span", "badge language language-" + item.language, item.language_label),
  );
  const due = el("p", "due");
  due.append("答复期限 ", el("strong", "due-date", item.due_date));
  if (item.provisional) due.append(" ", el("span", "badge provisional", "预计"));
  if (item.overdue) due.append(" ", el("span", "badge overdue", "已超期"));
  const who = el("p", "assignee", "承办：" + (item.assignee || "未认领") + " · " + item.group);
  const opened = el("p", "opened", "提交于 " + item.opened_at);
  const text = el("p", "text", item.text);
  const parts = [head, meta, due, who, opened, text];
  if (item.result) parts.push(el("p", "outcome", "办理结果：" + item.result));
  const timeline = el("ol", "timeline");
  for (const event of item.events) {
    const line = el("li", "event event-" + event.kind);
    line.append(el("time", "at", event.at), el("span", "who", event.who), el("span", "what", event.what));
    if (event.text) line.append(el("span", "detail", event.text));
    for (const file of event.files || []) {
      // A file sent on another channel (an entrepreneur's photo): a signed link to it.
      const link = el("a", "file", "📎 " + (file.name || (file.kind === "photo" ? "图片" : "文件")));
      link.href = file.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      line.append(" ", link);
    }
    timeline.appendChild(line);
  }
  parts.push(timeline);
  // A call or a visit: hotline.js names it on the card, with the caller instead of a chat.
  if (window.markCallerCard) {
    const holder = el("div");
    holder.append(...parts);
    window.markCallerCard(holder, item);
  }
  return parts;
}

function choose(entry, action) {
  if (action === "claim") {
    send(entry, { action, number: entry.number });
    return;
  }
  const { form, textarea, select, submit } = entry;
  if (form.dataset.action !== action) delete form.dataset.key;
  form.dataset.action = action;
  form.hidden = false;
  submit.textContent = SUBMITS[action];
  const transfer = action === "transfer";
  select.hidden = !transfer;
  entry.attach.hidden = transfer;
  textarea.maxLength = LIMITS[action] || TEXT_LIMIT;
  textarea.placeholder = PROMPTS[action];
  // A placeholder is gone once typing starts: the label stays for screen readers.
  textarea.setAttribute("aria-label", PROMPTS[action]);
  textarea.required = true;
  if (transfer) {
    select.replaceChildren();
    for (const group of allGroups) {
      if (group.id === entry.item.group_id) continue;
      const option = el("option", null, group.name);
      option.value = group.id;
      select.appendChild(option);
    }
    select.focus();
  } else {
    textarea.focus();
  }
}

function closeForm(entry) {
  entry.form.hidden = true;
  entry.files.value = "";
  delete entry.form.dataset.action;
  delete entry.form.dataset.key;
}

function busy(entry, on) {
  entry.article.classList.toggle("busy", on);
  for (const button of entry.article.querySelectorAll("button")) button.disabled = on;
}

async function send(entry, body, files = []) {
  // A retry after a lost answer reuses the key, so the bot handles the action once.
  const form = entry.form;
  const key = body.action === "claim" ? newId() : form.dataset.key || newId();
  if (body.action !== "claim") form.dataset.key = key;
  body.id = key;
  busy(entry, true);
  entry.result.classList.remove("error");
  entry.result.textContent = "正在提交…";
  try {
    const { status, data } = files.length
      ? await postForm("/console/api/act", body, files)
      : await api("/console/api/act", body);
    if (status === 200) {
      entry.result.textContent = (data.messages || []).map((m) => m.text).join("\n");
      if (body.action !== "claim") {
        entry.textarea.value = "";
        closeForm(entry);
      }
    } else {
      entry.result.classList.add("error");
      entry.result.textContent = data.error || "没能提交，请稍后再试。";
    }
  } catch (error) {
    entry.result.classList.add("error");
    entry.result.textContent = "网络好像断了，请再点一次提交。";
  } finally {
    busy(entry, false);
  }
  if (signedIn) refresh(); // shows the change at once, or the sign-in view after a 401
}

refresh();
