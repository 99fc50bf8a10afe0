// The user's own account: who they are, their orgs, and changing the password.
import { ApiError, api } from '../api.js';
import { form, h, notify, page } from '../dom.js';
import { roleName, session } from '../session.js';
import { activitySection, deleteAccountSection, twoFactorSection } from './account-security.js';

const WRONG_PASSWORD = 'This is not your current password.';

export function accountView({ user, refresh, navigate }) {
  return page(
    'Your account',
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Name'), h('dd', {}, user.name || '—'),
      h('dt', {}, 'Email'), h('dd', {}, user.email),
    ),
    h('h2', {}, 'Your organizations'),
    session.orgs.length
      ? h(
          'ul',
          { class: 'plain-list', 'data-testid': 'account-orgs' },
          session.orgs.map((org) =>
            h('li', {}, h('a', { href: `#/orgs/${org.id}/links` }, org.name), ' ', h('span', { class: 'badge' }, roleName(org.role))),
          ),
        )
      : h('p', { class: 'empty' }, 'You are not in any organization yet. ', h('a', { href: '#/orgs/new' }, 'Create one')),
    h('h2', {}, 'Change password'),
    form({
      id: 'password-form',
      fields: [
        { name: 'current_password', label: 'Current password', type: 'password', required: true, autocomplete: 'current-password' },
        {
          name: 'new_password',
          label: 'New password',
          type: 'password',
          required: true,
          autocomplete: 'new-password',
          hint: 'At least 8 characters. Avoid common words and obvious patterns.',
          attrs: { minlength: 8 },
        },
      ],
      submitLabel: 'Change password',
      onSubmit: async (values, el) => {
        try {
          await api.put('/users/me/password', values);
        } catch (error) {
          // A refused current password may come as 401 or 403 under various codes.
          if (error.status !== 401 && error.status !== 403) throw error;
          throw new ApiError(400, { errors: [{ field: 'current_password', message: WRONG_PASSWORD }] });
        }
        el.reset();
        notify('Password changed. Any other sessions of yours have been logged out.');
      },
    }),
    twoFactorSection({ refresh }),
    activitySection(),
    deleteAccountSection({ navigate }),
  );
}
