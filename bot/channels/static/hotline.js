// The console's hotline desk: a member records a request taken by phone or at the on-site desk,
// and reads the number and the due date the bot gives it out to the caller. The bot checks the
// form and decides; this page only shows what it says. console.js tells it when the board is
// shown ("console:board") and when the sign-in view is ("console:signin"), and lends it its
// helpers: $ (an element by id), el (make one), newId (a submission's key), api, refresh.
// Everything from the server goes in with textContent, never innerHTML.
"use strict";

(() => {
  const FIELDS = ["caller", "phone", "space", "category", "text"];
  let loadedFor = null; // the web id whose form choices are loaded
  let pending = null; // the key of a submission not yet answered: a retry reuses it

  function options(select, items, label) {
    select.replaceChildren();
    for (const item of items) {
      const option = el("option", null, label(item));
      option.value = item.id;
      select.appendChild(option);
    }
  }

  function showProblem(text) {
    const problem = $("hotline-problem");
    problem.textContent = text || "";
    problem.hidden = !text;
  }

  function mark(field) {
    for (const name of FIELDS) {
      const input = $("hotline-" + name);
      // The refusal is read out with the field it is about.
      if (name === field) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", "hotline-problem");
      } else {
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      }
    }
    if (field) $("hotline-" + field).focus();
  }

  async function load(webId) {
    loadedFor = webId;
    const { status, data } = await api("/console/api/hotline");
    if (status !== 200) {
      $("hotline").hidden = true; // not a duty group member: nothing to record
      return;
    }
    const intakes = $("hotline-intakes");
    intakes.querySelectorAll("label").forEach((label) => label.remove());
    data.intakes.forEach((intake, index) => {
      const label = el("label");
      const radio = el("input");
      radio.type = "radio";
      radio.name = "intake";
      radio.value = intake.id;
      radio.checked = index === 0;
      label.append(radio, intake.label);
      intakes.appendChild(label);
    });
    options($("hotline-space"), data.spaces, (s) => s.name + "（" + s.group + "）");
    options($("hotline-category"), data.categories, (c) => c.label);
    $("hotline-notice").textContent = data.notice;
    $("hotline-notice").hidden = !data.notice;
    $("hotline-submit").disabled = !data.spaces.length;
    $("hotline").hidden = false;
  }

  function openForm(open) {
    $("hotline-form").hidden = !open;
    $("hotline-open").setAttribute("aria-expanded", String(open));
    if (open) {
      $("hotline-taken").hidden = true;
      $("hotline-caller").focus();
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
    const form = $("hotline-form");
    const chosen = form.querySelector("input[name=intake]:checked");
    const body = { id: pending || newId(), intake: chosen ? chosen.value : "" };
    for (const name of FIELDS) body[name] = $("hotline-" + name).value;
    pending = body.id;
    const button = $("hotline-submit");
    button.disabled = true;
    showProblem("");
    try {
      const { status, data } = await api("/console/api/hotline", body);
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
    $("taken-number").textContent = request ? request.number : "";
    $("taken-due").textContent = request
      ? request.due_date + (request.provisional ? "（预计）" : "")
      : "";
    $("taken-text").textContent = (data.messages || []).join("\n");
    const panel = $("hotline-taken");
    panel.hidden = false;
    panel.querySelector("h2").focus({ preventScroll: true });
    panel.scrollIntoView({ block: "nearest" });
  }

  // A card of a request taken by phone or at the desk says so, and names the caller as such.
  window.markCallerCard = (summary, item) => {
    if (!item.intake_label) return;
    summary.querySelector(".head").append(el("span", "badge intake", item.intake_label));
    const meta = summary.querySelector(".meta");
    meta.firstChild.textContent = item.space + " · 来电人 " + item.entrepreneur;
  };

  document.addEventListener("console:board", (event) => {
    const webId = event.detail.person.web_id;
    if (webId !== loadedFor) load(webId);
  });
  document.addEventListener("console:signin", () => {
    loadedFor = null;
    $("hotline").hidden = true;
    $("hotline-taken").hidden = true;
    openForm(false);
  });
  $("hotline-taken").querySelector("h2").tabIndex = -1;
  $("hotline-open").addEventListener("click", () => {
    openForm($("hotline-form").hidden);
  });
  $("hotline-cancel").addEventListener("click", () => openForm(false));
  $("hotline-again").addEventListener("click", () => openForm(true));
  $("hotline-form").addEventListener("submit", submit);
})();
