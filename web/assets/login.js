// Login page: carries the page the user was going to and shows errors.
const params = new URLSearchParams(location.search);
document.getElementById("next").value = params.get("next") || "/";
if (params.has("error")) {
  const el = document.getElementById("login-error");
  el.hidden = false;
  if (params.get("error") === "locked") {
    const secs = Number(params.get("retry")) || 30;
    el.textContent = `Too many failed sign-ins from this address. Try again in ${secs < 120 ? secs + " seconds" : Math.ceil(secs / 60) + " minutes"}.`;
  }
}
