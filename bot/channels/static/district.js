// The supervisors' part of the console: the quarterly report picker (supervisors and admins)
// and a supervisor's read-only view of their districts. console.js tells this file about each
// board it draws ("console:board") and about signing out; cards are drawn with its renderSummary.
// Everything from the server goes in with textContent, never innerHTML.
"use strict";

const DISTRICT_POLL_MS = 15000;
let districtTimer = null;
let districtShown = false;
let pickerSignature = "";

document.addEventListener("console:board", (event) => {
  showPicker(event.detail.reports);
  if (event.detail.district_view) {
    if (!districtShown) {
      districtShown = true;
      loadDistrict();
    }
  } else {
    hideDistrict();
  }
});

document.addEventListener("console:signedout", () => {
  showPicker(null);
  pickerSignature = "";
  hideDistrict();
});

// --- the report picker -----------------------------------------------------------------------

function fill(select, options, label) {
  const chosen = select.value;
  select.replaceChildren();
  for (const option of options) {
    const node = el("option", null, option[label]);
    node.value = option.id;
    select.appendChild(node);
  }
  if (options.some((option) => option.id === chosen)) select.value = chosen; // keep a choice
}

// A link, not a form: the console's policy allows no form submissions (form-action 'none').
function pointDownload() {
  const wanted = new URLSearchParams({
    quarter: $("report-quarter").value,
    format: $("report-format").value,
    district: $("report-district").value,
  });
  $("report-download").href = "/console/report?" + wanted.toString();
}

for (const id of ["report-quarter", "report-format", "report-district"]) {
  $(id).addEventListener("change", pointDownload);
}

function showPicker(reports) {
  const form = $("reports");
  form.hidden = !reports;
  const signature = JSON.stringify(reports);
  if (!reports || signature === pickerSignature) return; // an open list stays open
  pickerSignature = signature;
  fill($("report-quarter"), reports.quarters, "label");
  fill($("report-format"), reports.formats, "label");
  fill($("report-district"), reports.districts, "name");
  $("report-district-label").hidden = reports.districts.length < 2;
  pointDownload();
}

// --- a supervisor's districts ----------------------------------------------------------------

function hideDistrict() {
  districtShown = false;
  clearTimeout(districtTimer);
  $("district").hidden = true;
  $("district-body").replaceChildren();
}

async function loadDistrict() {
  clearTimeout(districtTimer);
  try {
    const { status, data } = await api("/console/api/district");
    if (!districtShown) return; // signed out meanwhile
    if (status === 200) showDistrict(data);
    else if (status === 401 || status === 403) {
      hideDistrict();
      return;
    }
  } catch (error) {
    // The board's own poll reports a broken network; try again with the next round.
  }
  districtTimer = setTimeout(loadDistrict, DISTRICT_POLL_MS);
}

function figuresTable(data, district) {
  const table = el("table", "figures");
  const head = el("tr");
  head.append(el("th", null, "服务小组"), ...data.columns.map((name) => el("th", null, name)));
  const body = el("tbody");
  for (const row of [...district.groups, { name: district.name + "合计", figures: district.figures }]) {
    const line = el("tr");
    line.append(el("th", null, row.name), ...row.figures.map((cell) => el("td", null, cell)));
    body.appendChild(line);
  }
  const thead = el("thead");
  thead.appendChild(head);
  table.append(thead, body);
  // On a phone the table scrolls sideways: keyboard users reach it with Tab to scroll it too.
  const wrap = el("div", "figures-wrap");
  wrap.tabIndex = 0;
  wrap.setAttribute("role", "region");
  wrap.setAttribute("aria-label", district.name + "本季度数据");
  wrap.appendChild(table);
  return wrap;
}

function showDistrict(data) {
  $("district").hidden = false;
  $("district-quarter").textContent = data.quarter.label + "，截至 " + data.as_of;
  const parts = [];
  for (const district of data.districts) {
    const block = el("section", "district");
    block.dataset.district = district.id;
    block.append(el("h3", null, district.name), figuresTable(data, district));
    for (const group of district.groups) {
      const box = el("section", "group");
      box.dataset.group = group.id;
      box.appendChild(el("h4", null, group.name));
      let any = false;
      for (const section of data.sections) {
        const items = group.sections[section.id];
        if (!items.length) continue;
        any = true;
        const list = el("div", "cards " + section.id);
        for (const item of items) {
          const card = el("article", "card read-only" + (item.overdue ? " overdue" : ""));
          card.dataset.number = item.number;
          card.append(...renderSummary(item, "h6")); // under the group (h4) and its bucket (h5)
          list.appendChild(card);
        }
        box.append(el("h5", "bucket-" + section.id, section.label + " (" + items.length + ")"), list);
      }
      if (!any) box.appendChild(el("p", "empty", "没有未办结的工单。"));
      block.appendChild(box);
    }
    parts.push(block);
  }
  $("district-body").replaceChildren(...parts);
}
