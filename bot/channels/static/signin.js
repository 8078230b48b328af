// The sign-in link's page. The token comes in the link's fragment (#token=…), which the browser
// never sends to a server, so it stays out of access logs. Opening the link spends nothing (chat
// apps fetch links to preview them): the page asks whose link it is, then the button posts the
// token once, and the console opens signed in.
"use strict";

const prompt = document.getElementById("prompt");
const button = document.getElementById("redeem");
const problem = document.getElementById("problem");
const fragment = new URLSearchParams(window.location.hash.slice(1));
// Links of an earlier release carried the token in the query; the server checked those itself.
const token =
  fragment.get("token") || new URLSearchParams(window.location.search).get("token") || "";

async function post(path) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
    credentials: "same-origin",
  });
  return { ok: response.ok, data: await response.json() };
}

async function check() {
  try {
    const { ok, data } = await post("/console/api/signin-check");
    if (ok) {
      prompt.textContent = data.prompt;
      button.hidden = false;
      button.focus();
    } else {
      prompt.textContent = data.error || "这个登录链接无效。";
    }
  } catch (error) {
    prompt.textContent = "网络好像断了，请刷新页面再试。";
  }
}

button.addEventListener("click", async () => {
  button.disabled = true;
  problem.textContent = "";
  try {
    const { ok, data } = await post("/console/api/signin");
    if (ok) {
      window.location.replace("/console"); // and the token leaves the address bar and history
      return;
    }
    problem.textContent = data.error || "登录没有成功，请稍后再试。";
  } catch (error) {
    problem.textContent = "网络好像断了，请稍后再试。";
    button.disabled = false;
  }
});

if (button.hidden) {
  check();
}
