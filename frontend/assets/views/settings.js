// Organization settings (admins): rename; and for owners, deleting the whole organization.
import { ApiError, api, path } from '../api.js';
import { form, h, notify, page } from '../dom.js';
import { atLeast, homePath, loadSession } from '../session.js';
import { orgSecuritySettings } from './org-security.js';

export function settingsView({ org, navigate, refresh }) {
  if (!atLeast(org.role, 'admin')) {
    return page('Settings', h('p', { class: 'panel' }, `Only admins and owners of ${org.name} can change its settings.`));
  }
  const orgApi = path('orgs', org.id);
  return page(
    `Settings of ${org.name}`,
    h(
      'div',
      { class: 'card' },
      h('h2', {}, 'Name'),
      form({
        id: 'org-rename-form',
        fields: [{ name: 'name', label: 'Organization name', required: true, value: org.name, autocomplete: 'organization' }],
        submitLabel: 'Rename',
        onSubmit: async ({ name }) => {
          const renamed = await api.patch(orgApi, { name });
          await loadSession();
          refresh();
          notify(`Renamed to ${renamed.name}.`);
        },
      }),
    ),
    org.role === 'owner' && orgSecuritySettings(org),
    org.role === 'owner' &&
      h(
        'div',
        { class: 'card card-danger' },
        h('h2', {}, 'Delete organization'),
        h('p', {}, `This deletes ${org.name} with all its links, members, invitations and API tokens. Its short links stop working at once. This cannot be undone.`),
        form({
          id: 'org-delete-form',
          fields: [{ name: 'confirm', label: `Type “${org.name}” to confirm`, required: true, autocomplete: 'off' }],
          submitLabel: 'Delete organization',
          danger: true,
          onSubmit: async ({ confirm }) => {
            if (confirm !== org.name.trim()) {
              throw new ApiError(400, { errors: [{ field: 'confirm', message: 'Type the name exactly as shown.' }] });
            }
            await api.delete(orgApi);
            await loadSession();
            navigate(homePath());
            notify(`Deleted ${org.name}.`);
          },
        }),
      ),
  );
}
