// Log in and register: the only screens shown without a session.
import { api } from '../api.js';
import { form, h, notify, page } from '../dom.js';
import { secondStep, ssoBlock, ssoSecondStep } from './login-steps.js';
import { roleName, session } from '../session.js';

const EMAIL = { name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'username', attrs: { autofocus: true } };

const authPage = (title, ...children) => h('div', { class: 'auth' }, page(title, ...children));

function passwordForm(loggedIn) {
  return form({
    id: 'login-form',
    fields: [
      EMAIL,
      { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' },
      { name: 'remember', label: 'Keep me logged in on this device', type: 'checkbox' },
    ],
    submitLabel: 'Log in',
    onSubmit: async (values, formEl) => {
      try {
        await api.post('/session', values);
      } catch (error) {
        if (error.code !== 'TOTP_REQUIRED') throw error;
        const next = secondStep((code) => api.post('/session', { ...values, ...code }), loggedIn);
        formEl.replaceWith(next);
        next.querySelector('input')?.focus();
        return;
      }
      await loggedIn();
    },
  });
}

export function loginView({ loggedIn, query }) {
  return authPage(
    'Log in to Kurz',
    query.get('sso_step') === 'totp' ? ssoSecondStep(loggedIn) : passwordForm(loggedIn),
    h('p', { class: 'auth-switch' }, h('a', { href: '#/forgot-password', 'data-testid': 'forgot-link' }, 'Forgot password?')),
    ssoBlock(query),
    h('p', { class: 'auth-switch' }, 'New to Kurz? ', h('a', { href: '#/register' }, 'Create an account')),
  );
}

// After registering: the organisations an invitation made this person a member of, by name.
function welcome() {
  const joined = session.orgs.map((org) => `${org.name} (${roleName(org.role)})`);
  return joined.length
    ? `Welcome to Kurz! You were invited and joined ${joined.join(', ')}.`
    : 'Welcome to Kurz! Your account is ready.';
}

export function registerView({ loggedIn, query }) {
  return authPage(
    'Create your Kurz account',
    form({
      id: 'register-form',
      fields: [
        { name: 'name', label: 'Name (optional)', autocomplete: 'name' },
        { ...EMAIL, value: query?.get('email') || '' }, // an invitation's link names the address
        {
          name: 'password',
          label: 'Password',
          type: 'password',
          required: true,
          autocomplete: 'new-password',
          hint: 'At least 8 characters. Avoid common words and obvious patterns.',
          attrs: { minlength: 8 },
        },
      ],
      submitLabel: 'Create account',
      errorFields: { EMAIL_TAKEN: 'email' },
      onSubmit: async ({ name, email, password }) => {
        await api.post('/users', name ? { name, email, password } : { email, password });
        await api.post('/session', { email, password });
        await loggedIn();
        notify(welcome(), 'success', { carry: true });
      },
    }),
    h('p', { class: 'auth-switch' }, 'Already have an account? ', h('a', { href: '#/login' }, 'Log in')),
  );
}
