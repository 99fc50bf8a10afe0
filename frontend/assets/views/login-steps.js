// The login page's extras: the second step when two-factor is on, single sign-on, and the
// reasons a single sign-on came back refused.
import { api } from '../api.js';
import { form, h } from '../dom.js';
import { options } from '../session.js';

const SSO_ERRORS = {
  SSO_EMAIL_UNVERIFIED: 'Your identity provider has not verified your email address, so Kurz cannot sign you in with it.',
  SSO_STATE_MISMATCH: 'That sign-in was started in another browser tab or has expired. Please try again.',
  SSO_UNAVAILABLE: 'The identity provider could not be reached. Please try again in a moment.',
};

// Asks for the code once the server wants one (401 TOTP_REQUIRED): after the password, or after
// a single sign-on (?sso_step=totp). `send(values)` posts the code.
export function secondStep(send, loggedIn) {
  let useRecovery = false;
  const box = h('div', { 'data-testid': 'second-step' });
  const draw = () => {
    const field = useRecovery
      ? { name: 'recovery_code', label: 'Recovery code', required: true, autocomplete: 'off', attrs: { autofocus: true } }
      : { name: 'totp', label: 'Code from your authenticator app', required: true, autocomplete: 'one-time-code', attrs: { inputmode: 'numeric', pattern: '[0-9]{6}', autofocus: true } };
    box.replaceChildren(
      h('p', {}, 'Two-factor sign-in is on for this account.'),
      form({
        id: 'totp-login-form',
        fields: [field],
        submitLabel: 'Log in',
        errorFields: { TOTP_REQUIRED: [field.name, 'That code is wrong or was used already.'] },
        onSubmit: async (values) => {
          await send(values);
          await loggedIn();
        },
      }),
      h('button', {
        type: 'button',
        class: 'btn btn-ghost',
        onclick: () => {
          useRecovery = !useRecovery;
          draw();
          box.querySelector('input')?.focus();
        },
      }, useRecovery ? 'Use a code from the app instead' : 'Use a recovery code instead'),
    );
  };
  draw();
  return box;
}

// After a single sign-on into an account with two-factor on.
export function ssoSecondStep(loggedIn) {
  return h(
    'div',
    {},
    h('p', {}, 'Your identity provider signed you in.'),
    secondStep((values) => api.post('/sso/second-factor', values), loggedIn),
  );
}

export function ssoBlock(query) {
  const error = query.get('sso_error');
  return h(
    'div',
    { class: 'sso' },
    error && h('p', { class: 'panel panel-error', role: 'alert', 'data-testid': 'sso-error' }, SSO_ERRORS[error] || 'Single sign-on did not work. Please try again.'),
    options.sso && h('a', { class: 'btn btn-block', href: '/api/v1/sso/login', 'data-testid': 'sso-button' }, 'Sign in with SSO'),
  );
}
