// Who is logged in and which orgs they belong to, as GET /api/v1/session last said.
import { api } from './api.js';

export const session = { user: null, orgs: [] };
// What this installation offers (GET /api/v1/login-options): single sign-on, verification.
export const options = { sso: false, email_verification: false };

const RANK = { member: 1, admin: 2, owner: 3 };
const LAST_ORG = 'kurz.lastOrg';

export const atLeast = (role, minimum) => (RANK[role] || 0) >= RANK[minimum];
export const roleName = (role) => role.charAt(0).toUpperCase() + role.slice(1);

export async function loadSession() {
  const { orgs, ...user } = await api.get('/session');
  session.user = user;
  session.orgs = orgs;
}

export async function loadOptions() {
  Object.assign(options, await api.get('/login-options'));
}

export function clearSession() {
  session.user = null;
  session.orgs = [];
}

export const findOrg = (id) => session.orgs.find((org) => org.id === id) || null;

export function rememberOrg(id) {
  try {
    localStorage.setItem(LAST_ORG, id);
  } catch {
    // Storage disabled: we simply forget the choice.
  }
}

// The org to land in: the last one used if still a member, else the first, else none.
export function defaultOrg() {
  let last = null;
  try {
    last = localStorage.getItem(LAST_ORG);
  } catch {
    // As above.
  }
  return findOrg(last) || session.orgs[0] || null;
}

export function homePath() {
  const org = defaultOrg();
  return org ? `/orgs/${org.id}/links` : '/orgs/new';
}
