// The one door to the Kurz JSON API (see API.md). Every call is same-origin with the session
// cookie; bodies are always JSON because the server refuses cookie-authenticated non-JSON bodies.

const FRIENDLY = {
  INVALID_CREDENTIALS: 'Wrong email or password.',
  EMAIL_TAKEN: 'An account with this email already exists.',
  SLUG_TAKEN: 'This short name is already taken. Try another one.',
  LAST_OWNER: 'An organization needs at least one owner. Make someone else an owner first.',
  INTERNAL_ERROR: 'Something went wrong on our side. Please try again in a moment.',
};

const BY_STATUS = {
  0: 'Could not reach the server. Check your connection and try again.',
  401: 'Your session has ended. Please log in again.',
  403: 'Your role does not allow this.',
  404: 'Not found. It may have been deleted, or you are not a member of this organization.',
  413: 'That is too much data to send at once.',
  500: 'Something went wrong on our side. Please try again in a moment.',
  502: 'The service did not answer. Please try again in a moment.',
  503: 'The service is briefly unavailable. Please try again in a moment.',
};

export class ApiError extends Error {
  constructor(status, problem = {}, retryAfter = null) {
    super(problem.detail || problem.title || `Request failed (${status})`);
    this.status = status;
    this.code = problem.code || null;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  // A sentence for people: known codes first, then the server's own words, then the status.
  get friendly() {
    if (FRIENDLY[this.code]) return FRIENDLY[this.code];
    if (this.status === 429) {
      const wait = this.retryAfter ? ` in ${this.retryAfter} seconds` : ' in a moment';
      return `Too many attempts. Please try again${wait}.`;
    }
    // A server failure without a code of its own (a proxy's page, say) is worded for people.
    if (this.status >= 500 && !this.code) return BY_STATUS[this.status] || BY_STATUS[500];
    return this.problem.detail || BY_STATUS[this.status] || this.problem.title || this.message;
  }
}

let unauthorizedHandler = () => {};

// Called when a request fails because the session is gone (not for a wrong password).
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api/v1${path}`, init);
  } catch {
    throw new ApiError(0);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's HTML error page, for instance: fall through to a status-based message.
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data || {}, response.headers.get('Retry-After'));
    if (error.status === 401 && error.code !== 'INVALID_CREDENTIALS') unauthorizedHandler(error);
    throw error;
  }
  return { status: response.status, data };
}

export const api = {
  get: async (path) => (await request('GET', path)).data,
  post: async (path, body = {}) => (await request('POST', path, body)).data,
  put: async (path, body = {}) => (await request('PUT', path, body)).data,
  patch: async (path, body = {}) => (await request('PATCH', path, body)).data,
  delete: async (path, body) => (await request('DELETE', path, body)).data,
};

// Builds "/orgs/<id>/links/<slug>"-style paths with every segment escaped.
export function path(...segments) {
  return segments.map((s) => `/${encodeURIComponent(s)}`).join('');
}
