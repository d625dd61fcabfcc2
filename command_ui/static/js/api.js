/**
 * The pages' one way to the API: same-origin fetch with the session cookie, JSON in and out, the server's
 * "detail" text in errors, and a trip to the sign-in page when the session has ended.
 */

/** An API answer that was not 2xx; `detail` is the server's explanation (shown to the person as is). */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

/** Send the person to sign in, coming back here afterwards. */
export function toLogin() {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

async function request(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401 && !path.startsWith("/api/v1/auth/login")) {
    toLogin();
    throw new ApiError(401, "sign in first");
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const parsed = await response.json();
      detail = typeof parsed.detail === "string" ? parsed.detail : JSON.stringify(parsed.detail);
    } catch {
      /* not JSON: keep the status text */
    }
    throw new ApiError(response.status, detail);
  }
  return response.status === 204 ? null : response.json();
}

export const api = {
  /** GET a JSON resource. */
  get: (path) => request("GET", path),
  /** POST a JSON body; returns the JSON answer (null for 204). */
  post: (path, body) => request("POST", path, body),
  /** PUT a JSON body; returns the JSON answer (null for 204). */
  put: (path, body) => request("PUT", path, body),
  /** DELETE a resource; returns the JSON answer (null for 204). */
  delete: (path) => request("DELETE", path),
};

/** Who is signed in ({id, role, scope_path}); goes to the sign-in page when nobody is. */
export function whoAmI() {
  return api.get("/api/v1/auth/me");
}

/** Keep the signed-in person's language with their account, so every device they sign in on speaks it. */
export function saveMyLanguage(locale) {
  return api.put("/api/v1/auth/me/locale", { locale });
}

/** End the session on the server, then show the sign-in page. */
export async function signOut() {
  try {
    await api.post("/api/v1/auth/logout");
  } finally {
    location.assign("/login");
  }
}

/** Roles that may move incidents through their lifecycle (mirrors command_ui.deps.ACT_ON_INCIDENTS). */
export const ACT_ON_INCIDENTS = new Set(["guard", "school_admin", "district_officer", "district_admin", "admin"]);
/** Roles that may read and export the audit trail (mirrors command_ui.deps.READ_AUDIT). */
export const READ_AUDIT = new Set(["auditor", "district_admin", "admin"]);
