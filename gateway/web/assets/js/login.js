// Logging in: the gateway sets the session cookie (HttpOnly) and the page
// goes where it was sent from, or to the account's own screen.

const form = document.querySelector("#login");
const error = document.querySelector("#error");

function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  // Only a path on this gateway: never a page elsewhere.
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.hidden = true;
  const button = form.querySelector("button");
  button.disabled = true;
  const data = new FormData(form);
  try {
    const r = await fetch("/api/v1/session", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username: data.get("username"), password: data.get("password") }),
    });
    if (r.ok) {
      location.assign(nextPage());
      return;
    }
    let detail = `the gateway answered ${r.status}`;
    try { detail = (await r.json()).detail || detail; } catch (_) { /* keep the status */ }
    error.textContent = detail;
  } catch (_) {
    error.textContent = "the gateway cannot be reached; check the network and try again";
  }
  error.hidden = false;
  button.disabled = false;
});
