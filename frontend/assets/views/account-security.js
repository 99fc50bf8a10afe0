// The security parts of the account page: two-factor sign-in, recent security activity and
// deleting the account; and the banners that ask for a verified email or for two-factor.
import { api } from '../api.js';
import { actionButton, form, h, loadMoreButton, loader, notify, table, time } from '../dom.js';
import { clearSession, loadSession, options, session } from '../session.js';

// Account events, as the account's own activity and in its orgs' audit logs name them.
export const ACCOUNT_ACTIONS = {
  login: 'Logged in',
  'sso.login': 'Logged in with SSO',
  'password.change': 'Changed the password',
  'password_reset.request': 'Asked for a password reset',
  'password_reset.complete': 'Reset the password',
  'totp.enable': 'Turned on two-factor sign-in',
  'totp.disable': 'Turned off two-factor sign-in',
  'totp.recovery_codes': 'Made new recovery codes',
  'email.verify': 'Confirmed the email address',
  'account.delete': 'Deleted the account',
  'member.sso_join': 'Joined by SSO email domain',
};

const LOGIN_METHODS = {
  password: 'with the password',
  totp: 'with the password and an authenticator code',
  recovery_code: 'with the password and a recovery code',
};

const SSO_METHODS = {
  totp: 'with an authenticator code after the identity provider',
  recovery_code: 'with a recovery code after the identity provider',
};

function how(event) {
  if (event.action === 'login') return LOGIN_METHODS[event.detail.method] || '';
  if (event.action !== 'sso.login') return '';
  return event.detail.created ? 'first SSO login: account created' : SSO_METHODS[event.detail.method] || '';
}

export function activitySection() {
  const events = [];
  let cursor = null;
  const list = h('div');
  const more = loadMoreButton(list, async () => list.replaceChildren(render(await fetchPage())));
  const fetchPage = async () => {
    const params = new URLSearchParams({ limit: 10 });
    if (cursor) params.set('cursor', cursor);
    const data = await api.get(`/users/me/activity?${params}`);
    events.push(...data.items);
    cursor = data.next_cursor;
    more.hidden = !cursor;
    return events;
  };
  const render = (rows) =>
    table({
      testid: 'account-activity',
      caption: 'Logins and changes to how you sign in, newest first',
      rows,
      empty: 'Nothing recorded yet.',
      columns: [
        { label: 'When', cell: (event) => time(event.at) },
        { label: 'What', cell: (event) => ACCOUNT_ACTIONS[event.action] || event.action },
        { label: 'How', cell: how, class: 'cell-wrap' },
      ],
    });
  loader(fetchPage, render, list);
  return h(
    'div',
    { class: 'card' },
    h('h2', {}, 'Recent security activity'),
    h('p', { class: 'hint' }, 'If something here was not you, change your password and tell your administrator.'),
    list,
    h('div', { class: 'load-more' }, more),
  );
}

function recoveryCodes(codes) {
  return h(
    'div',
    { class: 'panel panel-warn', 'data-testid': 'recovery-codes' },
    h('p', { class: 'panel-title' }, 'Your recovery codes'),
    h('p', {}, 'Keep them somewhere safe. Each works once in place of a code, if you lose your phone. They are shown only now.'),
    h('ul', { class: 'plain-list codes' }, codes.map((code) => h('li', {}, h('code', {}, code)))),
  );
}

function setUpTwoFactor(box, refresh) {
  return actionButton('Set up two-factor sign-in', async () => {
    const { secret } = await api.post('/users/me/totp');
    box.replaceChildren(
      h('p', {}, 'Scan this QR code with your authenticator app, or enter the key by hand. Then type the 6-digit code it shows.'),
      h('img', { src: `/api/v1/users/me/totp/qr?${Date.now()}`, alt: 'QR code for your authenticator app', class: 'totp-qr', width: 200, height: 200, 'data-testid': 'totp-qr' }),
      h('p', {}, 'Key: ', h('code', { 'data-testid': 'totp-secret' }, secret)),
      form({
        id: 'totp-confirm-form',
        fields: [{ name: 'code', label: 'Code from the app', required: true, autocomplete: 'one-time-code', attrs: { inputmode: 'numeric', pattern: '[0-9]{6}', autofocus: true } }],
        submitLabel: 'Turn on two-factor',
        errorFields: { INVALID_CODE: ['code', 'That code is wrong or has expired. Try the current one.'] },
        onSubmit: async ({ code }) => {
          const { recovery_codes } = await api.post('/users/me/totp/confirm', { code });
          await loadSession();
          box.replaceChildren(h('p', { class: 'panel panel-success' }, 'Two-factor sign-in is on.'), recoveryCodes(recovery_codes), actionButton('Done', async () => refresh()));
          notify('Two-factor sign-in is on.');
        },
      }),
    );
    box.querySelector('input')?.focus();
  }, { 'data-testid': 'totp-start' });
}

function renewRecoveryCodes() {
  const ssoOnly = !session.user.has_password;
  const left = h('p', { 'data-testid': 'recovery-codes-left' });
  loader(
    () => api.get('/users/me/totp'),
    ({ recovery_codes_left: count }) => `Unused recovery codes left: ${count}.${count < 4 ? ' Make new ones soon.' : ''}`,
    left,
  );
  return h(
    'details',
    { class: 'renew-codes' },
    h('summary', {}, 'Recovery codes'),
    left,
    form({
      id: 'recovery-codes-form',
      fields: [ssoOnly ? codeField : passwordField],
      submitLabel: 'Make new recovery codes',
      errorFields: { WRONG_PASSWORD: 'password', INVALID_CODE: 'totp' },
      onSubmit: async ({ password, totp }, el) => {
        const { recovery_codes } = await api.post('/users/me/totp/recovery-codes', ssoOnly ? secondFactor(totp) : { password });
        el.replaceWith(h('p', {}, 'Your old recovery codes no longer work.'), recoveryCodes(recovery_codes));
        left.textContent = `Unused recovery codes left: ${recovery_codes.length}.`;
        notify('New recovery codes made.');
      },
    }),
  );
}

const passwordField = { name: 'password', label: 'Your password', type: 'password', required: true, autocomplete: 'current-password' };

// An account made by single sign-on has no password: it proves itself with a code from the app
// or a recovery code, typed into one field (six digits are an app code).
const codeField = {
  name: 'totp',
  label: 'Code from your authenticator app, or a recovery code',
  required: true,
  autocomplete: 'one-time-code',
  hint: 'Your account signs in with single sign-on and has no password.',
};
const secondFactor = (code) => (/^\d{6}$/.test(code.replaceAll(' ', '')) ? { totp: code } : { recovery_code: code });

export function twoFactorSection({ refresh }) {
  const ssoOnly = !session.user.has_password;
  const box = h('div', { 'data-testid': 'totp-section' });
  if (session.user.totp_enabled) {
    box.append(
      h('p', {}, 'Two-factor sign-in is ', h('strong', {}, 'on'), '. Logging in asks for a code from your authenticator app.'),
      renewRecoveryCodes(),
      form({
        id: 'totp-disable-form',
        fields: [ssoOnly ? codeField : passwordField],
        submitLabel: 'Turn off two-factor',
        danger: true,
        errorFields: { WRONG_PASSWORD: 'password', INVALID_CODE: 'totp' },
        onSubmit: async ({ password, totp }) => {
          await api.delete('/users/me/totp', ssoOnly ? secondFactor(totp) : { password });
          await loadSession();
          refresh();
          notify('Two-factor sign-in is off.');
        },
      }),
    );
  } else {
    box.append(h('p', {}, 'Protect your account with a code from an authenticator app when you log in.'), setUpTwoFactor(box, refresh));
  }
  return h('div', { class: 'card' }, h('h2', {}, 'Two-factor sign-in'), box);
}

// Without a password or two-factor (single sign-on only), a sign-in of the last 10 minutes
// confirms it (the server answers REAUTHENTICATION_REQUIRED otherwise).
export function deleteAccountSection({ navigate }) {
  const { has_password: hasPassword, totp_enabled: withCode } = session.user;
  const field = hasPassword ? passwordField : withCode ? codeField : null;
  return h(
    'div',
    { class: 'card card-danger' },
    h('h2', {}, 'Delete account'),
    h('p', {}, 'Your links stay with their organizations, shown as made by a deleted user. If you are the only owner of an organization, make someone else an owner first.'),
    field ? null : h('p', {}, 'You sign in with single sign-on: if that was more than 10 minutes ago, log out and sign in again first.'),
    form({
      id: 'account-delete-form',
      fields: field ? [field] : [],
      submitLabel: 'Delete my account',
      danger: true,
      errorFields: { WRONG_PASSWORD: 'password', INVALID_CODE: 'totp', LAST_OWNER: [field?.name, 'You are the only owner of an organization. Make someone else an owner first.'] },
      onSubmit: async ({ password, totp }) => {
        await api.delete('/users/me', hasPassword ? { password } : withCode ? secondFactor(totp) : {});
        clearSession();
        navigate('/login');
        notify('Your account is deleted.');
      },
    }),
  );
}

export function verificationBanner() {
  if (!options.email_verification || !session.user || session.user.email_verified) return null;
  const banner = h(
    'div',
    { class: 'panel panel-warn banner', role: 'status', 'data-testid': 'verify-banner' },
    `Please confirm your email address: we mailed a link to ${session.user.email}. Until then, invitations to it wait. `,
    actionButton('Send the link again', async () => {
      await api.post('/users/me/email-verification');
      notify(`A new link is on its way to ${session.user.email}.`);
    }, { class: 'btn btn-small' }),
  );
  return banner;
}

export function twoFactorRequiredView(org) {
  return h(
    'section',
    { class: 'page' },
    h('h1', { tabindex: '-1', class: 'page-title' }, org.name),
    h(
      'div',
      { class: 'panel panel-warn banner', 'data-testid': 'require-2fa-banner' },
      h('p', { class: 'panel-title' }, `${org.name} requires two-factor sign-in.`),
      h('p', {}, 'Set it up on your account page to work in this organization.'),
      h('a', { class: 'btn btn-primary', href: '#/account' }, 'Set up two-factor sign-in'),
    ),
  );
}
