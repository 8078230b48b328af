// The sign-in link's page. Opening the link spends nothing (chat apps fetch links to preview
// them); this button posts the token once, and the console opens signed in.
"use strict";

const button = document.getElementById("redeem");
const problem = document.getElementById("problem");

button.addEventListener("click", async () => {
  button.disabled = true;
  problem.textContent = "";
  const token = new URLSearchParams(window.location.search).get("token") || "";
  try {
    const response = await fetch("/console/api/signin", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
      credentials: "same-origin",
    });
    const data = await response.json();
    if (response.ok) {
      window.location.replace("/console"); // and the token leaves the address bar and history
      return;
    }
    problem.textContent = data.error || "登录没有成功，请稍后再试。";
  } catch (error) {
    problem.textContent = "网络好像断了，请稍后再试。";
    button.disabled = false;
  }
});
