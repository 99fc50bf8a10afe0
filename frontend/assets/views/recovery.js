// Screens reached from mails and the login page: forgot password, choose a new one (the reset
// link), and confirm an email address (the verification link).
import { api } from '../api.js';
import { form, h, notify, page } from '../dom.js';
import { loadSession, session } from '../session.js';

const authPage = (title, ...children) => h('div', { class: 'auth' }, page(title, ...children));
const backToLogin = () => h('p', { class: 'auth-switch' }, h('a', { href: '#/login' }, 'Back to log in'));

export function forgotPasswordView() {
  const done = h('div', { 'data-testid': 'forgot-done' });
  const el = authPage(
    'Forgot your password?',
    h('p', {}, 'Enter the email of your account. We will mail you a link to choose a new password.'),
    form({
      id: 'forgot-form',
      fields: [{ name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'username', attrs: { autofocus: true } }],
      submitLabel: 'Send reset link',
      onSubmit: async ({ email }, formEl) => {
        await api.post('/password-reset', { email });
        formEl.hidden = true;
        done.replaceChildren(
          h('p', { class: 'panel panel-success' }, `If ${email} belongs to an account, a link is on its way. It works once, within one hour.`),
        );
      },
    }),
    done,
    backToLogin(),
  );
  return el;
}

export function resetPasswordView({ query, navigate }) {
  const token = query.get('token');
  if (!token) {
    return authPage('Reset your password', h('p', { class: 'panel panel-error' }, 'This link is incomplete. Ask for a new one.'), h('p', {}, h('a', { href: '#/forgot-password' }, 'Forgot password')));
  }
  return authPage(
    'Choose a new password',
    form({
      id: 'reset-form',
      fields: [
        {
          name: 'new_password',
          label: 'New password',
          type: 'password',
          required: true,
          autocomplete: 'new-password',
          hint: 'At least 8 characters. Avoid common words and obvious patterns.',
          attrs: { minlength: 8, autofocus: true },
        },
      ],
      submitLabel: 'Set new password',
      errorFields: { INVALID_TOKEN: ['new_password', 'This link is invalid, used or expired. Ask for a new one.'] },
      onSubmit: async ({ new_password }) => {
        await api.post('/password-reset/confirm', { token, new_password });
        navigate('/login');
        notify('Your password is changed. Log in with the new one; your other sessions have ended.');
      },
    }),
    h('p', { class: 'auth-switch' }, h('a', { href: '#/forgot-password' }, 'Ask for a new link')),
  );
}

export function verifyEmailView({ query, navigate }) {
  const status = h('div', { 'data-testid': 'verify-status' }, h('p', { class: 'loading' }, 'Confirming your email…'));
  const token = query.get('token') || '';
  (async () => {
    try {
      await api.post('/email-verification/confirm', { token });
    } catch (error) {
      status.replaceChildren(h('p', { class: 'panel panel-error' }, error.code === 'INVALID_TOKEN' ? 'This link is invalid, used or expired. Log in and ask for a new one.' : error.friendly));
      return;
    }
    if (session.user) {
      await loadSession();
      navigate('/');
      notify('Your email is confirmed.', 'success', { carry: true });
    } else {
      status.replaceChildren(h('p', { class: 'panel panel-success' }, 'Your email is confirmed. ', h('a', { href: '#/login' }, 'Log in')));
    }
  })();
  return authPage('Confirm your email', status);
}
