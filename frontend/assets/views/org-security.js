// Owners' security settings of an org: require two-factor, and the email domains whose single
// sign-on users join as members.
import { api, path } from '../api.js';
import { form, h, notify } from '../dom.js';
import { session } from '../session.js';

export function orgSecuritySettings(org) {
  const box = h('div', { class: 'card', 'data-testid': 'org-security' }, h('h2', {}, 'Security'), h('p', { class: 'loading' }, 'Loading…'));
  const orgApi = path('orgs', org.id);
  (async () => {
    let current;
    try {
      current = await api.get(orgApi);
    } catch (error) {
      box.replaceChildren(h('h2', {}, 'Security'), h('p', { class: 'panel panel-error' }, error.friendly));
      return;
    }
    box.replaceChildren(
      h('h2', {}, 'Security'),
      form({
        id: 'org-security-form',
        fields: [
          {
            name: 'require_2fa',
            label: 'Require two-factor sign-in for every member',
            type: 'checkbox',
            value: current.require_2fa,
            // Owners are members too: without it themselves, they would be shut out as well.
            hint: session.user.totp_enabled ? undefined : 'You have not set up two-factor sign-in yourself: once this is on, you too must set it up on your account page before working in this organization.',
          },
          {
            name: 'sso_domains',
            label: 'Single sign-on domains',
            value: current.sso_domains.join(', '),
            hint: 'Comma-separated, such as example.com. Whoever signs in by SSO with an email of these domains joins as a member.',
            autocomplete: 'off',
          },
        ],
        submitLabel: 'Save security settings',
        onSubmit: async ({ require_2fa, sso_domains }) => {
          const domains = sso_domains.split(/[\s,]+/).filter(Boolean);
          await api.patch(orgApi, { require_2fa, sso_domains: domains });
          notify('Security settings saved.');
        },
      }),
    );
  })();
  return box;
}
