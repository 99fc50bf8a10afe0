// The org's audit log (admins): who changed what, newest first, with "load more".
import { api, path } from '../api.js';
import { h, loadMoreButton, loader, page, table, time } from '../dom.js';
import { atLeast } from '../session.js';
import { ACCOUNT_ACTIONS } from './account-security.js';

const PAGE_SIZE = 50;
const ACTIONS = {
  'org.create': 'Created the organization',
  'org.rename': 'Renamed the organization',
  'org.security': 'Changed the security settings',
  'member.add': 'Added a member',
  'member.remove': 'Removed a member',
  'member.leave': 'Left the organization',
  'member.role': 'Changed a role',
  'invitation.create': 'Invited someone',
  'invitation.accept': 'Accepted an invitation',
  'invitation.delete': 'Withdrew an invitation',
  'link.delete': 'Deleted a link',
  'link.disable': 'Disabled a link',
  'link.enable': 'Enabled a link',
  'token.create': 'Created an API token',
  'token.revoke': 'Revoked an API token',
  ...ACCOUNT_ACTIONS,
};

const who = (entry) => entry.actor?.email ?? (entry.token_id ? 'An API token' : '—');
const details = (detail) =>
  Object.entries(detail || {})
    .map(([key, value]) => `${key.replaceAll('_', ' ')}: ${typeof value === 'object' ? JSON.stringify(value) : value}`)
    .join(' · ');

export function activityView({ org }) {
  if (!atLeast(org.role, 'admin')) {
    return page('Activity', h('p', { class: 'panel' }, `Only admins and owners of ${org.name} can see its activity log.`));
  }
  const entries = [];
  let cursor = null;
  const list = h('div');
  const more = loadMoreButton(list, async () => list.replaceChildren(render(await fetchPage())));

  const fetchPage = async () => {
    const params = new URLSearchParams({ limit: PAGE_SIZE });
    if (cursor) params.set('cursor', cursor);
    const data = await api.get(`${path('orgs', org.id, 'audit')}?${params}`);
    entries.push(...data.items);
    cursor = data.next_cursor;
    more.hidden = !cursor;
    return entries;
  };
  const render = (rows) =>
    table({
      testid: 'audit-table',
      caption: 'Changes to members, invitations, tokens, links and the organization',
      rows,
      empty: 'Nothing recorded yet.',
      columns: [
        { label: 'When', cell: (e) => time(e.at) },
        { label: 'Who', cell: who, class: 'cell-wrap' },
        { label: 'What', cell: (e) => ACTIONS[e.action] || e.action },
        { label: 'Target', cell: (e) => e.target, class: 'cell-wrap' },
        { label: 'Details', cell: (e) => details(e.detail), class: 'cell-wrap' },
      ],
    });

  loader(fetchPage, render, list);
  return page('Activity', h('p', { class: 'hint' }, 'The log cannot be edited or deleted.'), list, h('div', { class: 'load-more' }, more));
}
