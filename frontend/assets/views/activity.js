// The org's audit log (admins): who changed what, newest first, filtered by who, what and which
// link (kept in the address), with "load more" and a CSV export of what the filters match.
import { api, path } from '../api.js';
import { h, loadMoreButton, loader, page, table, time } from '../dom.js';
import { setQuery } from '../router.js';
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
  'link.create': 'Created a link',
  'link.update': 'Changed a link',
  'link.delete': 'Deleted a link',
  'link.disable': 'Disabled a link',
  'link.enable': 'Enabled a link',
  'token.create': 'Created an API token',
  'token.revoke': 'Revoked an API token',
  ...ACCOUNT_ACTIONS,
};
// The action filter: a kind of action (the API matches its prefix), or one action.
const KINDS = [
  ['link', 'Links'],
  ['member', 'Members'],
  ['invitation', 'Invitations'],
  ['token', 'API tokens'],
  ['org', 'Organization'],
];
const FIELDS = { url: 'Destination', title: 'Title', expires_at: 'Expiry', redirect_status: 'Redirect type', tags: 'Tags' };
const FILTERS = ['actor', 'action', 'link'];

const who = (entry) => {
  if (entry.actor) return entry.actor.email;
  if (entry.token_id) return entry.token_name ? `API token “${entry.token_name}”` : 'An API token';
  return '—';
};
const shown = (value) => {
  if (value === null || value === '' || (Array.isArray(value) && !value.length)) return 'none';
  if (Array.isArray(value)) return value.join(', '); // a link's tags
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
};
// A link's edit reads "Destination: old → new"; other entries list their details.
const details = (detail) => {
  const { changes, ...rest } = detail || {};
  if (changes) {
    return Object.entries(changes).map(([field, { from, to }]) => `${FIELDS[field] || field}: ${shown(from)} → ${shown(to)}`).join(' · ');
  }
  return Object.entries(rest).map(([key, value]) => `${key.replaceAll('_', ' ')}: ${shown(value)}`).join(' · ');
};

export function activityView({ org, query }) {
  if (!atLeast(org.role, 'admin')) {
    return page('Activity', h('p', { class: 'panel' }, `Only admins and owners of ${org.name} can see its activity log.`));
  }
  const state = Object.fromEntries(FILTERS.map((name) => [name, query?.get(name) ?? '']));
  const auditApi = path('orgs', org.id, 'audit');
  const filterParams = () => new URLSearchParams(Object.entries(state).filter(([, value]) => value));
  let entries = [];
  let cursor = null;
  const list = h('div');
  const more = loadMoreButton(list, async () => list.replaceChildren(render(await fetchPage())));
  const exportLink = h('a', { class: 'btn btn-small', download: 'audit-log.csv', 'data-testid': 'audit-export' }, 'Export CSV');
  const showExport = () => {
    const params = filterParams();
    exportLink.href = `/api/v1${auditApi}/export.csv${params.size ? `?${params}` : ''}`;
  };

  const fetchPage = async () => {
    const params = filterParams();
    params.set('limit', PAGE_SIZE);
    if (cursor) params.set('cursor', cursor);
    const mine = entries;
    const data = await api.get(`${auditApi}?${params}`);
    if (mine !== entries) return entries; // the filters changed meanwhile: a newer load shows
    entries.push(...data.items);
    cursor = data.next_cursor;
    more.hidden = !cursor;
    return entries;
  };
  const filtered = () => FILTERS.some((name) => state[name]);
  const render = (rows) =>
    table({
      testid: 'audit-table',
      caption: 'Changes to members, invitations, tokens, links and the organization',
      rows,
      empty: filtered() ? 'Nothing recorded matches these filters.' : 'Nothing recorded yet.',
      columns: [
        { label: 'When', cell: (e) => time(e.at), class: 'cell-when' },
        { label: 'Who', cell: who, class: 'cell-wrap' },
        { label: 'What', cell: (e) => ACTIONS[e.action] || e.action },
        { label: 'Target', cell: (e) => e.target, class: 'cell-wrap' },
        { label: 'Details', cell: (e) => details(e.detail), class: 'cell-wrap' },
      ],
    });
  const reload = () => {
    entries = [];
    cursor = null;
    setQuery(state);
    showExport();
    loader(fetchPage, render, list);
  };

  // ---- filters ----
  const field = (id, label, control) => h('div', { class: 'filter' }, h('label', { for: id }, label), control);
  // An option of the filter `name`, chosen when the address says so.
  const option = (name) => (value, text) => h('option', { value, selected: value === state[name] }, text);
  const actorOption = option('actor');
  const actionOption = option('action');
  const actor = h('select', { id: 'audit-actor', name: 'actor' }, actorOption('', 'Anyone'));
  const action = h(
    'select',
    { id: 'audit-action', name: 'action' },
    actionOption('', 'Any action'),
    h('optgroup', { label: 'Kinds' }, KINDS.map(([value, text]) => actionOption(value, text))),
    h('optgroup', { label: 'Actions' }, Object.entries(ACTIONS).map(([value, text]) => actionOption(value, text))),
  );
  const link = h('input', { type: 'search', id: 'audit-link', name: 'link', autocomplete: 'off', placeholder: 'Short name (slug)', value: state.link });
  actor.addEventListener('change', () => ((state.actor = actor.value), reload()));
  action.addEventListener('change', () => ((state.action = action.value), reload()));
  const filters = h(
    'form',
    {
      role: 'search',
      class: 'filters',
      'aria-label': 'Filter the activity',
      onsubmit: (event) => {
        event.preventDefault();
        state.link = link.value.trim();
        reload();
      },
    },
    field('audit-actor', 'Who', actor),
    field('audit-action', 'What', action),
    field('audit-link', 'Link', link),
  );
  link.addEventListener('change', () => {
    if (link.value.trim() !== state.link) filters.requestSubmit();
  });
  // Who may have acted: the members, and the API tokens (a deleted one only by id in the URL).
  Promise.all([api.get(path('orgs', org.id, 'members')), api.get(path('orgs', org.id, 'tokens'))])
    .then(([members, tokens]) => {
      actor.append(
        h('optgroup', { label: 'Members' }, members.items.map((m) => actorOption(m.user_id, m.email))),
        h('optgroup', { label: 'API tokens' }, tokens.items.map((t) => actorOption(t.id, `Token “${t.name}”`))),
      );
      if (state.actor && !actor.value) actor.append(actorOption(state.actor, 'Someone else'));
    })
    .catch(() => {
      // The log still works without the names; the filter keeps the address's choice.
      if (state.actor) actor.append(actorOption(state.actor, 'Someone'));
    });

  reload();
  return page(
    'Activity',
    h('div', { class: 'list-toolbar' }, h('p', { class: 'hint' }, 'The log cannot be edited or deleted.'), exportLink),
    filters,
    list,
    h('div', { class: 'load-more' }, more),
  );
}
