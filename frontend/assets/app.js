// Entry point: decides logged in or not, draws the top bar and hands each route to its screen.
import { api, onUnauthorized } from './api.js';
import { actionButton, clearMessages, h, notify } from './dom.js';
import { currentPath, navigate, redirect, resolve, route } from './router.js';
import {
  atLeast, clearSession, defaultOrg, findOrg, homePath, loadOptions, loadSession, rememberOrg, roleName, session,
} from './session.js';
import { accountView } from './views/account.js';
import { twoFactorRequiredView, verificationBanner } from './views/account-security.js';
import { activityView } from './views/activity.js';
import { domainsView } from './views/domains.js';
import { dashboardView } from './views/dashboard.js';
import { importView } from './views/import.js';
import { loginView, registerView } from './views/auth.js';
import { linkView } from './views/link.js';
import { linksView } from './views/links.js';
import { membersView } from './views/members.js';
import { newOrgView } from './views/orgs.js';
import { forgotPasswordView, resetPasswordView, verifyEmailView } from './views/recovery.js';
import { settingsView } from './views/settings.js';
import { tagsView } from './views/tags.js';
import { tokensView } from './views/tokens.js';
import { webhooksView } from './views/webhooks.js';

route('/login', loginView, { public: true });
route('/register', registerView, { public: true });
route('/forgot-password', forgotPasswordView, { public: true });
route('/reset-password', resetPasswordView, { public: true });
route('/verify-email', verifyEmailView, { public: true, anyone: true }); // a mail's link
route('/account', accountView);
route('/orgs/new', newOrgView);
route('/orgs/:org/links', linksView);
route('/orgs/:org/links/:slug', linkView);
route('/orgs/:org/dashboard', dashboardView);
route('/orgs/:org/tags', tagsView);
route('/orgs/:org/import', importView);
route('/orgs/:org/members', membersView);
route('/orgs/:org/tokens', tokensView);
route('/orgs/:org/domains', domainsView);
route('/orgs/:org/webhooks', webhooksView);
route('/orgs/:org/activity', activityView);
route('/orgs/:org/settings', settingsView);

const header = document.getElementById('app-header');
const main = document.getElementById('main');
let returnTo = null; // where to go after logging in, when a deep link needed a login first

// Called by screens once the server accepted the login.
async function loggedIn() {
  await loadSession();
  clearMessages();
  const target = returnTo && resolve(returnTo) && !resolve(returnTo).public ? returnTo : homePath();
  returnTo = null;
  redirect(target); // Back then skips the login form
}

let checking = false;

onUnauthorized(async () => {
  if (!session.user || checking) return;
  // Some 401s are about the request, not the session (a wrong current password, say): only
  // log out when the server confirms the session itself is gone.
  checking = true;
  try {
    await loadSession();
    return;
  } catch (error) {
    if (error.status !== 401) return;
  } finally {
    checking = false;
  }
  clearSession();
  returnTo = currentPath();
  notify('Your session has ended. Please log in again.', 'error', { carry: true });
  redirect('/login');
});

function orgPicker(current) {
  const picker = h(
    'select',
    { id: 'org-picker', 'aria-label': 'Organization', 'data-testid': 'org-picker' },
    !current && h('option', { value: '', selected: true }, 'Choose organization'),
    session.orgs.map((org) => h('option', { value: org.id, selected: org.id === current?.id }, org.name)),
  );
  // Switch only on an explicit choice (WCAG 3.2.2): a pick from the open list or by mouse, or
  // Enter; arrow keys on the closed picker only move its value, and leaving it puts it back.
  const go = () => picker.value && picker.value !== current?.id && navigate(`/orgs/${picker.value}/links`);
  let keyed = false;
  picker.addEventListener('pointerdown', () => (keyed = false));
  picker.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') go();
    keyed = !['Enter', ' ', 'Tab', 'Escape'].includes(event.key) && !event.altKey;
  });
  picker.addEventListener('change', () => keyed || go());
  picker.addEventListener('blur', () => (picker.value = current?.id ?? ''));
  return picker;
}

function drawHeader(org, path) {
  const brand = h('a', { class: 'brand', href: '#/' }, 'Kurz');
  if (!session.user) return header.replaceChildren(brand);
  const navOrg = org || defaultOrg();
  const links = [
    navOrg && ['Links', `/orgs/${navOrg.id}/links`],
    navOrg && ['Dashboard', `/orgs/${navOrg.id}/dashboard`],
    navOrg && ['Tags', `/orgs/${navOrg.id}/tags`],
    navOrg && ['Import', `/orgs/${navOrg.id}/import`],
    navOrg && ['Members', `/orgs/${navOrg.id}/members`],
    ...(navOrg && atLeast(navOrg.role, 'admin')
      ? [
          ['API tokens', `/orgs/${navOrg.id}/tokens`],
          ['Domains', `/orgs/${navOrg.id}/domains`],
          ['Webhooks', `/orgs/${navOrg.id}/webhooks`],
          ['Activity', `/orgs/${navOrg.id}/activity`],
          ['Settings', `/orgs/${navOrg.id}/settings`],
        ]
      : []),
  ].filter(Boolean);
  header.replaceChildren(
    brand,
    h(
      'div',
      { class: 'org-switch' },
      session.orgs.length > 0 && orgPicker(org),
      org && h('span', { class: 'badge role-badge', 'data-testid': 'current-role', title: 'Your role in this organization' }, roleName(org.role)),
      h('a', { href: '#/orgs/new', class: 'btn btn-small', id: 'new-org-link', 'aria-label': 'New organization', title: 'New organization' }, '+'),
    ),
    h(
      'nav',
      { 'aria-label': 'Main' },
      links.map(([text, to]) =>
        h('a', { href: `#${to}`, 'aria-current': path.startsWith(to) ? 'page' : null }, text),
      ),
    ),
    h(
      'div',
      { class: 'user-menu' },
      h('a', { href: '#/account', class: 'user-email', 'data-testid': 'user-email', title: 'Your account and password', 'aria-current': path === '/account' ? 'page' : null }, session.user.email),
      actionButton('Log out', logout, { id: 'logout', class: 'btn btn-small' }),
    ),
  );
}

async function logout() {
  await api.delete('/session');
  clearSession();
  notify('You are logged out.', 'success', { carry: true });
  navigate('/login');
}

async function render() {
  const path = currentPath();
  const match = resolve(path);
  if (!match) return redirect(session.user ? homePath() : '/login');
  if (!match.public && !session.user) {
    returnTo = path;
    return redirect('/login');
  }
  if (match.public && !match.anyone && session.user) return redirect(homePath());

  let org = null;
  if (match.params.org) {
    // Memberships and roles change under us (an org joined in another tab, a promotion, a
    // removal): every org screen asks the server, so that it offers what the role allows.
    // A 401 is onUnauthorized's to handle; on other failures the last known list serves.
    try {
      await loadSession();
    } catch (error) {
      if (error.status === 401) return;
    }
    org = findOrg(match.params.org);
    if (!org) {
      notify('That organization does not exist or you are not a member of it.', 'error', { carry: true });
      return redirect(homePath());
    }
    rememberOrg(org.id);
    if (!session.user.totp_enabled && (await twoFactorMissing(org))) {
      drawHeader(org, path);
      main.replaceChildren(twoFactorRequiredView(org));
      main.querySelector('h1')?.focus();
      return;
    }
  }

  drawHeader(org, path);
  const ctx = { params: match.params, query: match.query, org, user: session.user, loggedIn, navigate, refresh: render };
  main.replaceChildren(...[verificationBanner(), match.view(ctx)].filter(Boolean));
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} · Kurz` : 'Kurz';
  (main.querySelector('[autofocus]') || heading)?.focus();
}

// An org that requires two-factor answers 403 TWO_FACTOR_REQUIRED to members without it.
async function twoFactorMissing(org) {
  try {
    await api.get(`/orgs/${encodeURIComponent(org.id)}`);
    return false;
  } catch (error) {
    return error.code === 'TWO_FACTOR_REQUIRED';
  }
}

// Messages belong to the screen they were shown on; a redirect's own message comes after.
window.addEventListener('hashchange', () => {
  clearMessages({ navigating: true });
  render();
});

(async () => {
  // Without a session cookie the server says so in the page: no request that must fail (and
  // log a 401 in the console) just to learn it.
  const signedIn = document.querySelector('meta[name="kurz-session"]')?.content !== 'none';
  try {
    await loadOptions();
  } catch {
    // The login page then simply offers no single sign-on.
  }
  try {
    if (signedIn) await loadSession();
  } catch (error) {
    if (error.status !== 401) notify(error.friendly, 'error');
  }
  render();
})();
