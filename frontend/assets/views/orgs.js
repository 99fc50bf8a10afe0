// Creating an organization (also the landing screen of a user who has none).
import { api } from '../api.js';
import { form, h, notify, page } from '../dom.js';
import { session } from '../session.js';

export function newOrgView({ navigate }) {
  return page(
    'New organization',
    !session.orgs.length &&
      h('p', { class: 'lead' }, 'Organizations own links, members and API tokens. Create one to get started.'),
    form({
      id: 'org-form',
      fields: [{ name: 'name', label: 'Organization name', required: true, autocomplete: 'organization', attrs: { autofocus: true } }],
      submitLabel: 'Create organization',
      onSubmit: async (values) => {
        const org = await api.post('/orgs', values);
        session.orgs.push(org);
        navigate(`/orgs/${org.id}/links`);
        notify(`Created ${org.name}. You are its owner.`);
      },
    }),
  );
}
