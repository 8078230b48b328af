// The console's hotline desk: a member records a request taken by phone or at the on-site desk,
// and reads the number and the due date the bot gives it out to the caller. The bot checks the
// form and decides; this page only shows what it says. console.js tells it when the board is
// shown ("console:board") and when the sign-in view is ("console:signin").
// Everything from the server goes in with textContent, never innerHTML.
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  const FIELDS = ["caller", "phone", "space", "category", "text"];
  let loadedFor = null; // the web id whose form choices are loaded
  let pending = null; // the key of a submission not yet answered: a retry reuses it

  function node(tag, className, text) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined && text !== null) made.textContent = text;
    return made;
  }

  function key() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return (Date.now().toString(36) + Math.random().toString(36).slice(2)).padEnd(12, "0");
  }

  async function call(path, body) {
    const options = { credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data;
    try {
      data = await response.json();
    } catch (error) {
      data = { error: "服务器没有正常答复，请稍后再试。" };
    }
    return { status: response.status, data };
  }

  function options(select, items, label) {
    select.replaceChildren();
    for (const item of items) {
      const option = node("option", null, label(item));
      option.value = item.id;
      select.appendChild(option);
    }
  }

  function showProblem(text) {
    const problem = byId("hotline-problem");
    problem.textContent = text || "";
    problem.hidden = !text;
  }

  function mark(field) {
    for (const name of FIELDS) {
      const input = byId("hotline-" + name);
      if (name === field) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    if (field) byId("hotline-" + field).focus();
  }

  async function load(webId) {
    loadedFor = webId;
    const { status, data } = await call("/console/api/hotline");
    if (status !== 200) {
      byId("hotline").hidden = true; // not a duty group member: nothing to record
      return;
    }
    const intakes = byId("hotline-intakes");
    intakes.querySelectorAll("label").forEach((label) => label.remove());
    data.intakes.forEach((intake, index) => {
      const label = node("label");
      const radio = node("input");
      radio.type = "radio";
      radio.name = "intake";
      radio.value = intake.id;
      radio.checked = index === 0;
      label.append(radio, intake.label);
      intakes.appendChild(label);
    });
    options(byId("hotline-space"), data.spaces, (s) => s.name + "（" + s.group + "）");
    options(byId("hotline-category"), data.categories, (c) => c.label);
    byId("hotline-notice").textContent = data.notice;
    byId("hotline-notice").hidden = !data.notice;
    byId("hotline-submit").disabled = !data.spaces.length;
    byId("hotline").hidden = false;
  }

  function openForm(open) {
    byId("hotline-form").hidden = !open;
    byId("hotline-open").setAttribute("aria-expanded", String(open));
    if (open) {
      byId("hotline-taken").hidden = true;
      byId("hotline-caller").focus();
    }
  }

  // Which field a refusal is about, so it can be marked: the bot's words name it.
  function fieldOf(text) {
    if (/姓名/.test(text)) return "caller";
    if (/电话|号码/.test(text)) return "phone";
    if (/众创空间|值班/.test(text)) return "space";
    if (/类别/.test(text)) return "category";
    if (/问题/.test(text)) return "text";
    return null;
  }

  async function submit(event) {
    event.preventDefault();
    const form = byId("hotline-form");
    const chosen = form.querySelector("input[name=intake]:checked");
    const body = { id: pending || key(), intake: chosen ? chosen.value : "" };
    for (const name of FIELDS) body[name] = byId("hotline-" + name).value;
    pending = body.id;
    const button = byId("hotline-submit");
    button.disabled = true;
    showProblem("");
    try {
      const { status, data } = await call("/console/api/hotline", body);
      if (status === 200) {
        pending = null;
        taken(data);
        form.reset();
        mark(null);
        openForm(false);
        if (typeof refresh === "function") refresh(); // console.js: the new card on the board
      } else {
        pending = null; // the bot changed nothing: a corrected form is a new submission
        showProblem(data.error || "没能登记，请稍后再试。");
        mark(fieldOf(data.error || ""));
      }
    } catch (error) {
      showProblem("网络好像断了，请再点一次“登记工单”。");
    } finally {
      button.disabled = false;
    }
  }

  function taken(data) {
    const request = data.request;
    byId("taken-number").textContent = request ? request.number : "";
    byId("taken-due").textContent = request
      ? request.due_date + (request.provisional ? "（预计）" : "")
      : "";
    byId("taken-text").textContent = (data.messages || []).join("\n");
    const panel = byId("hotline-taken");
    panel.hidden = false;
    panel.querySelector("h2").focus({ preventScroll: true });
    panel.scrollIntoView({ block: "nearest" });
  }

  // A card of a request taken by phone or at the desk says so, and names the caller as such.
  window.markCallerCard = (summary, item) => {
    if (!item.intake_label) return;
    summary.querySelector("h3").append(node("span", "badge intake", item.intake_label));
    const meta = summary.querySelector(".meta");
    meta.firstChild.textContent = item.space + " · 来电人 " + item.entrepreneur;
  };

  document.addEventListener("console:board", (event) => {
    const webId = event.detail.person.web_id;
    if (webId !== loadedFor) load(webId);
  });
  document.addEventListener("console:signin", () => {
    loadedFor = null;
    byId("hotline").hidden = true;
    byId("hotline-taken").hidden = true;
    openForm(false);
  });
  byId("hotline-taken").querySelector("h2").tabIndex = -1;
  byId("hotline-open").addEventListener("click", () => {
    openForm(byId("hotline-form").hidden);
  });
  byId("hotline-cancel").addEventListener("click", () => openForm(false));
  byId("hotline-again").addEventListener("click", () => openForm(true));
  byId("hotline-form").addEventListener("submit", submit);
})();
