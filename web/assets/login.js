// Login page: carries the page the user was going to and shows errors.
const params = new URLSearchParams(location.search);
document.getElementById("next").value = params.get("next") || "/";
if (params.has("error")) document.getElementById("login-error").hidden = false;
