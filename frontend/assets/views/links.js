// The links of one org: create, search, page through, edit, disable and delete.
import { api, path } from '../api.js';
import {
  actionButton, confirmDialog, copyRow, copyText, errorText, form, fromLocalInput, h, loadMoreButton, notify,
  openDialog, page, plural, time, toLocalInput,
} from '../dom.js';
import { lookAlikeBadge, shownHost, shownUrl } from '../hosts.js';
import { setQuery } from '../router.js';
import { atLeast } from '../session.js';
import { domainFilter, domainPicker, domainQuery } from './domains.js';
import { controlBadges, linkControls } from './link_controls.js';
import { loadTags, parseTags, tagChips, tagFilter } from './tags.js';

const PAGE_SIZE = 50;

const REDIRECTS = [
  [302, '302 Found (temporary, default)'],
  [301, '301 Moved permanently'],
  [307, '307 Temporary redirect'],
  [308, '308 Permanent redirect'],
];

export const linkApi = (org, ...rest) => path('orgs', org.id, 'links', ...rest);
export const linkHref = (org, slug, domain) =>
  `#/orgs/${org.id}/links/${encodeURIComponent(slug)}${domainQuery({ domain })}`;
// The API path of one link: its slug, and its branded domain when it has one.
const oneLinkApi = (org, link, ...rest) => linkApi(org, link.slug, ...rest) + domainQuery(link);

// Re-drawing a link replaces its buttons: focus goes to the new one named `label`.
const refocus = (label) => document.querySelector(`main [aria-label="${CSS.escape(label)}"]`)?.focus();

// Only the creator of a link, or an admin/owner of the org, may change it (the API agrees).
const canChange = (ctx, link) => link.created_by?.id === ctx.user.id || atLeast(ctx.org.role, 'admin');

export function badges(link) {
  const expired = link.expires_at && new Date(link.expires_at) <= new Date();
  return [
    link.disabled && h('span', { class: 'badge badge-muted' }, 'Disabled'),
    expired && h('span', { class: 'badge badge-warn' }, 'Expired'),
    ...controlBadges(link),
  ].filter(Boolean);
}

// Edit / Disable / Delete buttons for a link, or nothing when the user may not change it.
export function linkActions(ctx, link, { onUpdate, onDelete }) {
  if (!canChange(ctx, link)) return [];
  const toggle = link.disabled ? 'Enable' : 'Disable';
  return [
    h('button', {
      type: 'button',
      class: 'btn btn-small',
      'aria-label': `Edit ${link.slug}`,
      onclick: () => editDialog(ctx, link, onUpdate),
    }, 'Edit'),
    actionButton(toggle, async () => {
      const updated = await api.patch(oneLinkApi(ctx.org, link), { disabled: !link.disabled });
      notify(`${link.slug} is ${updated.disabled ? 'disabled: it no longer redirects' : 'enabled again'}.`);
      onUpdate(updated);
      refocus(`${updated.disabled ? 'Enable' : 'Disable'} ${link.slug}`);
    }, { class: 'btn btn-small', 'aria-label': `${toggle} ${link.slug}` }),
    actionButton('Delete', async () => {
      const sure = await confirmDialog(
        'Delete this link?',
        `${link.short_url} will stop working and its statistics will be gone. This cannot be undone.`,
        'Delete link',
      );
      if (!sure) return;
      await api.delete(oneLinkApi(ctx.org, link));
      notify(`Deleted ${link.slug}.`);
      onDelete();
    }, { class: 'btn btn-small btn-danger', 'aria-label': `Delete ${link.slug}` }),
  ];
}

const optionFields = (link = {}) => [
  { name: 'title', label: 'Title', value: link.title || '', hint: 'Only for you and your team.' },
  {
    name: 'expires_at',
    label: 'Expires',
    type: 'datetime-local',
    value: toLocalInput(link.expires_at),
    hint: 'Your local time. Leave empty to never expire.',
  },
  { name: 'redirect_status', label: 'Redirect type', options: REDIRECTS, value: link.redirect_status ?? 302 },
  { name: 'tags', label: 'Tags', value: (link.tags || []).join(', '), hint: 'Separated by commas; at most 10.' },
];

// Form values -> API fields; "" becomes null so an edit can clear a title or an expiry. The
// link controls' values are sent by `linkControls(...).body`.
const toApi = ({ password, remove_password, max_clicks, expired_url, ...values }) => ({
  ...values,
  title: values.title || null,
  expires_at: fromLocalInput(values.expires_at),
  redirect_status: Number(values.redirect_status),
  tags: parseTags(values.tags),
});

function editDialog(ctx, link, onUpdate) {
  const controls = linkControls('link-edit-form', link);
  openDialog(`Edit ${link.slug}`, (close) =>
    form({
      id: 'link-edit-form',
      fields: [
        { name: 'url', label: 'Destination URL', type: 'url', required: true, value: link.url },
        ...optionFields(link),
        { details: 'More options', fields: controls.fields },
      ],
      submitLabel: 'Save changes',
      errorFields: { INVALID_URL: 'url' },
      extra: h('button', { type: 'button', class: 'btn', onclick: close }, 'Cancel'),
      onSubmit: async (values) => {
        // Send only what changed, so an old expiry in the past is not re-validated.
        const original = toApi({ url: link.url, title: link.title, expires_at: toLocalInput(link.expires_at), redirect_status: link.redirect_status, tags: (link.tags || []).join(', ') });
        const changes = {
          ...Object.fromEntries(Object.entries(toApi(values)).filter(([key, value]) => String(value) !== String(original[key]))),
          ...controls.body(values),
        };
        if (Object.keys(changes).length) {
          onUpdate(await api.patch(oneLinkApi(ctx.org, link), changes));
          notify(`Saved ${link.slug}.`);
        }
        close();
        refocus(`Edit ${link.slug}`);
      },
    }),
  );
}


// The list's sorts and status filter, as the API names them.
const SORT_OPTIONS = [
  ['newest', 'Newest first'],
  ['oldest', 'Oldest first'],
  ['clicks', 'Most clicks'],
  ['last_clicked', 'Last clicked'],
];
const STATUS_OPTIONS = [
  ['', 'Any status'],
  ['active', 'Active'],
  ['disabled', 'Disabled'],
  ['expired', 'Expired'],
  ['limit_reached', 'Limit reached'],
];
// The address keeps the list's state under these names (the API's, so links are shareable).
// `tag` is repeatable: a list.
const FILTERS = ['q', 'sort', 'status', 'created_by', 'created_after', 'created_before', 'tag', 'tags_mode', 'domain'];

const count = new Intl.NumberFormat();
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const exact = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });

// "3 days ago", with the exact local time on hover.
function ago(iso) {
  const seconds = (new Date(iso) - Date.now()) / 1000;
  const steps = [[60, 'second'], [60, 'minute'], [24, 'hour'], [30, 'day'], [12, 'month'], [Infinity, 'year']];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) {
      return h('time', { datetime: iso, title: exact.format(new Date(iso)) }, relative.format(Math.round(value), unit));
    }
    value /= size;
  }
  return null;
}

export function linkStatus(link) {
  if (link.disabled) return 'disabled';
  if (link.expires_at && new Date(link.expires_at) <= new Date()) return 'expired';
  if (link.max_clicks !== null && link.clicks_remaining === 0) return 'limit_reached';
  return 'active';
}

const STATUS_LABELS = { active: 'Active', disabled: 'Disabled', expired: 'Expired', limit_reached: 'Limit reached' };

const withoutScheme = (url) => url.replace(/^https?:\/\//, '');

// A CSV cell a spreadsheet shows as text, never runs as a formula.
const csvCell = (value) => {
  let text = value == null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

export function linksCsv(links) {
  const columns = ['slug', 'short_url', 'url', 'title', 'tags', 'created_at', 'expires_at', 'disabled', 'clicks', 'created_by'];
  const cell = (link, column) => {
    if (column === 'created_by') return link.created_by?.email;
    if (column === 'tags') return (link.tags || []).join('|'); // as the CSV import reads them
    return link[column];
  };
  const rows = links.map((link) => columns.map((column) => csvCell(cell(link, column))).join(','));
  return [columns.join(','), ...rows].join('\r\n') + '\r\n';
}

function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, class: 'offscreen' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function copyQr(ctx, link) {
  const response = await fetch(`/api/v1${linkApi(ctx.org, link.slug, 'qr')}?format=png${domainQuery(link, '&')}`, { credentials: 'same-origin' });
  if (!response.ok) throw new Error('QR code');
  const blob = await response.blob();
  try {
    await navigator.clipboard.write([new ClipboardItem({ 'image/png': blob })]);
    notify(`Copied the QR code of ${link.slug}.`);
  } catch {
    notify('Copying images is blocked by the browser. Open the link page to download the QR code.', 'error');
  }
}

// Two overlapping sheets, drawn rather than a glyph that not every system font has.
function copyIcon() {
  const NS = 'http://www.w3.org/2000/svg';
  const icon = document.createElementNS(NS, 'svg');
  for (const [key, value] of Object.entries({ viewBox: '0 0 16 16', width: 14, height: 14, 'aria-hidden': 'true', focusable: 'false', class: 'icon' })) {
    icon.setAttribute(key, value);
  }
  for (const [x, y] of [[5, 5], [2, 2]]) {
    const sheet = document.createElementNS(NS, 'rect');
    for (const [key, value] of Object.entries({ x, y, width: 9, height: 9, rx: 1.5 })) sheet.setAttribute(key, value);
    icon.append(sheet);
  }
  return icon;
}

// A menu button with its items: arrow keys move between items, Escape closes it.
function rowMenu(label, items) {
  const menu = h('div', { class: 'row-menu', role: 'menu', 'aria-label': label, hidden: true });
  const button = h('button', {
    type: 'button',
    class: 'btn btn-small btn-ghost menu-button',
    'aria-label': label,
    'aria-haspopup': 'menu',
    'aria-expanded': 'false',
    tabindex: '-1',
  }, '⋯');
  const close = (refocus = true) => {
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    if (refocus) button.focus();
  };
  const open = () => {
    menu.replaceChildren(...items().map(([text, action, danger]) =>
      h('button', {
        type: 'button',
        role: 'menuitem',
        tabindex: '-1',
        class: danger ? 'menu-item danger' : 'menu-item',
        onclick: () => {
          close();
          Promise.resolve(action()).catch((error) => notify(errorText(error), 'error'));
        },
      }, text),
    ));
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    menu.firstChild?.focus();
  };
  button.addEventListener('click', () => (menu.hidden ? open() : close()));
  menu.addEventListener('keydown', (event) => {
    const entries = [...menu.children];
    const at = entries.indexOf(document.activeElement);
    if (event.key === 'Escape' || event.key === 'Tab') {
      event.preventDefault();
      close();
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      entries[(at + (event.key === 'ArrowDown' ? 1 : -1) + entries.length) % entries.length].focus();
    }
    event.stopPropagation();
  });
  menu.addEventListener('focusout', (event) => {
    if (!menu.contains(event.relatedTarget) && event.relatedTarget !== button) close(false);
  });
  return h('div', { class: 'menu-wrap' }, button, menu);
}

export function linksView(ctx) {
  const state = Object.fromEntries(FILTERS.map((name) => [name, ctx.query.get(name) ?? '']));
  state.tag = ctx.query.getAll('tag');
  if (!SORT_OPTIONS.some(([value]) => value === state.sort)) state.sort = 'newest';
  // Filters in use ('' and an empty tag list are not).
  const filtering = () => FILTERS.filter((name) => name !== 'sort' && String(state[name]) !== '');
  const apiFilter = () => Object.fromEntries(filtering().map((name) => [name, state[name]]));
  // The filters as a query string (a repeated `tag` for each tag).
  const filterParams = () => new URLSearchParams(filtering().flatMap((name) => [state[name]].flat().map((value) => [name, value])));

  const heading = h('h2', { tabindex: '-1' }, 'All links');
  const total = h('p', { class: 'list-count', 'data-testid': 'links-count', 'aria-live': 'polite' });
  const status = h('div', { class: 'list-status', role: 'status', 'data-testid': 'links-status' });
  const body = h('tbody', {});
  const selectPage = h('input', { type: 'checkbox', 'aria-label': 'Select all links shown', 'data-testid': 'select-page' });
  const tableEl = h(
    'table',
    { class: 'links-table', 'data-testid': 'link-list', 'aria-label': 'Links' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'col-select' }, selectPage),
      h('th', { scope: 'col' }, 'Short link'),
      h('th', { scope: 'col', class: 'col-dest' }, 'Destination'),
      h('th', { scope: 'col', class: 'col-title' }, 'Title'),
      h('th', { scope: 'col', class: 'num' }, 'Clicks'),
      h('th', { scope: 'col', class: 'col-creator' }, 'Creator'),
      h('th', { scope: 'col', class: 'col-created' }, 'Created'),
      h('th', { scope: 'col' }, 'Status'),
      h('th', { scope: 'col', class: 'col-menu' }, h('span', { class: 'offscreen' }, 'Actions')),
    )),
    body,
  );
  const more = loadMoreButton(tableEl, () => loadPage(false));
  const created = h('div', { class: 'panel panel-success', id: 'created-link', 'data-testid': 'created-link', hidden: true });

  let cursor = null;
  let generation = 0; // a newer search makes older answers irrelevant
  let matching = 0;
  let links = new Map(); // key -> link, in the order shown
  const selected = new Set(); // keys
  let allMatching = false; // "select all N matching": the filters, not the slugs, are the selection
  let anchor = null; // the last checkbox clicked, for shift-click ranges

  // ---- filters ----
  // Every matching link as the server writes it (the bulk bar exports the selection).
  const exportHref = () => {
    const params = filterParams();
    if (state.sort !== 'newest') params.set('sort', state.sort);
    return `/api/v1${linkApi(ctx.org, 'export.csv')}${params.size ? `?${params}` : ''}`;
  };
  const exportLink = h('a', {
    class: 'btn btn-small',
    id: 'links-export',
    'data-testid': 'links-export',
    download: 'links.csv',
    'aria-label': 'Export CSV of all matching links',
  }, 'Export CSV');
  exportLink.href = exportHref();
  const field = (id, label, control) => h('div', { class: 'filter' }, h('label', { for: id }, label), control);
  const select = (id, name, options) => {
    const el = h('select', { id, name }, options.map(([value, text]) => h('option', { value, selected: value === state[name] }, text)));
    el.addEventListener('change', () => update({ [name]: el.value }));
    return el;
  };
  const search = h('input', { type: 'search', id: 'link-search', name: 'q', autocomplete: 'off', placeholder: 'Slug, URL or title', value: state.q });
  const creator = h('select', { id: 'link-creator', name: 'created_by' },
    h('option', { value: '', selected: !state.created_by }, 'Anyone'),
    h('option', { value: 'me', selected: state.created_by === 'me' }, 'My links'),
    state.created_by && state.created_by !== 'me' && h('option', { value: state.created_by, selected: true }, 'One member'),
  );
  creator.addEventListener('change', () => update({ created_by: creator.value }));
  // Date inputs are local days; the API gets the local midnight in UTC (before: the next day's).
  const dayInput = (id, name, shift) => {
    const el = h('input', { type: 'date', id, name });
    if (state[name]) {
      const day = new Date(state[name]);
      if (shift) day.setDate(day.getDate() - 1);
      el.value = toLocalInput(day.toISOString()).slice(0, 10);
    }
    el.addEventListener('change', () => {
      if (!el.value) return update({ [name]: '' });
      const midnight = new Date(`${el.value}T00:00`);
      if (shift) midnight.setDate(midnight.getDate() + 1);
      update({ [name]: fromLocalInput(toLocalInput(midnight.toISOString())) });
    });
    return el;
  };
  const filters = h(
    'form',
    { role: 'search', class: 'filters', 'aria-label': 'Search and filter links', onsubmit: (e) => (e.preventDefault(), update({ q: search.value.trim() })) },
    field('link-search', 'Search links', search),
    field('link-sort', 'Sort', select('link-sort', 'sort', SORT_OPTIONS)),
    field('link-status', 'Status', select('link-status', 'status', STATUS_OPTIONS)),
    field('link-creator', 'Creator', creator),
    field('link-from', 'Created from', dayInput('link-from', 'created_after', false)),
    field('link-to', 'Created until', dayInput('link-to', 'created_before', true)),
    tagFilter(ctx.org, state.tag, (value) => update({ tag: parseTags(value) }), { layout: 'filter' }),
    domainFilter(ctx.org, state.domain, (domain) => update({ domain })),
  );
  let typing;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => update({ q: search.value.trim() }), 250);
  });

  function update(changes) {
    Object.assign(state, changes);
    setQuery({ ...state, sort: state.sort === 'newest' ? '' : state.sort });
    exportLink.href = exportHref();
    reload();
  }

  // ---- selection ----
  const bulkCount = h('span', { class: 'bulk-count', 'data-testid': 'bulk-count' });
  const selectAll = h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'data-testid': 'select-all-matching', hidden: true });
  const selectionSize = () => (allMatching ? matching : selected.size);
  // The bulk requests for the selection: the filters, or the chosen slugs of each domain.
  const selections = () => {
    if (allMatching) return [{ filter: apiFilter() }];
    const byDomain = new Map();
    for (const key of selected) {
      const link = links.get(key);
      const domain = link.domain ?? '';
      byDomain.set(domain, [...(byDomain.get(domain) ?? []), link.slug]);
    }
    return [...byDomain].map(([domain, slugs]) => (domain ? { slugs, domain } : { slugs }));
  };
  const bulk = async (action, extra = {}) => {
    let count = 0;
    for (const body of selections()) count += (await api.post(linkApi(ctx.org, action), { ...body, ...extra })).count;
    return count;
  };
  // Changes that a member may make to their own links only (export is for anyone's).
  const deleteButton = actionButton('Delete', bulkDelete, { class: 'btn btn-small btn-danger' });
  const changes = [
    actionButton('Disable', () => bulkUpdate(true), { class: 'btn btn-small' }),
    actionButton('Enable', () => bulkUpdate(false), { class: 'btn btn-small' }),
    h('button', { type: 'button', class: 'btn btn-small', onclick: () => bulkTagsDialog('add_tags') }, 'Add tag'),
    h('button', { type: 'button', class: 'btn btn-small', onclick: () => bulkTagsDialog('remove_tags') }, 'Remove tag'),
    deleteButton,
  ];
  const bulkReason = h('p', { class: 'hint bulk-reason', id: 'bulk-reason', 'data-testid': 'bulk-reason', hidden: true });
  const bulkBar = h(
    'div',
    { class: 'bulk-bar', 'data-testid': 'bulk-bar', hidden: true, role: 'region', 'aria-label': 'Selected links' },
    bulkCount,
    selectAll,
    changes.filter((button) => button !== deleteButton),
    actionButton('Export CSV', exportSelection, { class: 'btn btn-small' }),
    deleteButton,
    h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: () => clearSelection() }, 'Clear selection'),
    bulkReason,
  );
  // Why a member may not change this selection, or null.
  const blocked = () => {
    if (atLeast(ctx.org.role, 'admin')) return null;
    if (allMatching) {
      return state.created_by === 'me' ? null : 'Members may change only their own links: filter by “My links” to change all of them.';
    }
    const others = [...selected].filter((key) => links.has(key) && !canChange(ctx, links.get(key))).length;
    return others ? `${plural(others, 'selected link')} ${others === 1 ? 'is' : 'are'} someone else's: members may change only their own links.` : null;
  };
  selectAll.addEventListener('click', () => {
    allMatching = true;
    drawSelection();
  });

  function drawSelection() {
    for (const row of body.rows) {
      const box = row.querySelector('input[type="checkbox"]');
      box.checked = allMatching || selected.has(row.dataset.key);
      row.classList.toggle('is-selected', box.checked);
    }
    const size = selectionSize();
    bulkBar.hidden = size === 0;
    bulkCount.textContent = allMatching ? `All ${count.format(matching)} matching links selected` : `${count.format(size)} selected`;
    const pageAll = links.size > 0 && [...links.keys()].every((key) => selected.has(key));
    selectPage.checked = allMatching || pageAll;
    selectPage.indeterminate = !selectPage.checked && size > 0;
    selectAll.hidden = allMatching || !pageAll || matching <= links.size;
    selectAll.textContent = `Select all ${count.format(matching)} matching`;
    const reason = blocked();
    bulkReason.hidden = !reason;
    bulkReason.textContent = reason || '';
    for (const button of changes) {
      button.disabled = Boolean(reason);
      if (reason) button.setAttribute('aria-describedby', 'bulk-reason');
      else button.removeAttribute('aria-describedby');
    }
  }

  function clearSelection() {
    selected.clear();
    allMatching = false;
    drawSelection();
  }

  selectPage.addEventListener('change', () => {
    allMatching = false;
    for (const key of links.keys()) {
      if (selectPage.checked) selected.add(key);
      else selected.delete(key);
    }
    drawSelection();
  });

  function toggle(key, checked, shift) {
    if (allMatching) {
      // Leaving "all matching": keep the rows shown, as the person sees them.
      allMatching = false;
      for (const shown of links.keys()) selected.add(shown);
    }
    const order = [...links.keys()];
    const range = shift && anchor && order.includes(anchor)
      ? order.slice(Math.min(order.indexOf(anchor), order.indexOf(key)), Math.max(order.indexOf(anchor), order.indexOf(key)) + 1)
      : [key];
    for (const one of range) {
      if (checked) selected.add(one);
      else selected.delete(one);
    }
    anchor = key;
    drawSelection();
  }

  async function bulkUpdate(disabled) {
    const count = await bulk('bulk-update', { disabled });
    notify(`${plural(count, 'link')} ${disabled ? 'disabled' : 'enabled'}.`);
    clearSelection();
    await reload();
  }

  // Puts tags on (field add_tags) or takes them off (remove_tags) every selected link.
  function bulkTagsDialog(field) {
    const adding = field === 'add_tags';
    const size = selectionSize();
    const suggestions = h('datalist', { id: 'bulk-tag-names' });
    loadTags(ctx.org)
      .then((tags) => suggestions.append(...tags.map((tag) => h('option', { value: tag.name }))))
      .catch(() => {});
    openDialog(adding ? `Add tags to ${plural(size, 'link')}` : `Remove tags from ${plural(size, 'link')}`, (close) =>
      form({
        id: 'bulk-tags-form',
        fields: [
          {
            name: field,
            label: 'Tags',
            required: true,
            autocomplete: 'off',
            attrs: { list: 'bulk-tag-names' },
            hint: adding ? 'Separated by commas; a new name becomes a tag. A link keeps at most 10.' : 'Separated by commas.',
          },
          { element: suggestions },
        ],
        submitLabel: adding ? 'Add tags' : 'Remove tags',
        extra: h('button', { type: 'button', class: 'btn', onclick: close }, 'Cancel'),
        onSubmit: async (values) => {
          const tags = parseTags(values[field]);
          const count = await bulk('bulk-update', { [field]: tags });
          notify(adding ? `Tagged ${plural(count, 'link')} with ${tags.join(', ')}.` : `Took ${tags.join(', ')} off ${plural(count, 'link')}.`);
          close();
          clearSelection();
          await reload();
          heading.focus();
        },
      }),
    );
  }

  async function bulkDelete() {
    const size = selectionSize();
    const sure = await confirmDialog(
      `Delete ${plural(size, 'link')}?`,
      `${plural(size, 'short link')} will stop working and ${size === 1 ? 'its' : 'their'} statistics will be gone. This cannot be undone.`,
      `Delete ${plural(size, 'link')}`,
    );
    if (!sure) return;
    const count = await bulk('bulk-delete');
    notify(`Deleted ${plural(count, 'link')}.`);
    clearSelection();
    await reload();
    heading.focus();
  }

  async function exportSelection() {
    let rows;
    if (allMatching) {
      rows = [];
      let next = null;
      do {
        const params = filterParams();
        params.set('limit', 100);
        if (next) params.set('cursor', next);
        const data = await api.get(`${linkApi(ctx.org)}?${params}`);
        rows.push(...data.items);
        next = data.next_cursor;
      } while (next);
    } else {
      rows = [...selected].map((key) => links.get(key)).filter(Boolean);
    }
    download('links.csv', linksCsv(rows), 'text/csv');
    notify(`Exported ${plural(rows.length, 'link')} as CSV.`);
  }

  // ---- rows ----
  // One Tab stop per row: its controls take turns being tabbable (roving tabindex).
  const controlsOf = (row) => [...row.querySelectorAll('[data-rove]')];
  function rove(row, target) {
    for (const control of controlsOf(row)) control.tabIndex = control === target ? 0 : -1;
    target.focus();
  }
  body.addEventListener('keydown', (event) => {
    const row = event.target.closest('tr');
    if (!row || !event.target.matches('[data-rove]')) return;
    const controls = controlsOf(row);
    const at = controls.indexOf(event.target);
    const moves = { ArrowRight: [0, 1], ArrowLeft: [0, -1], ArrowDown: [1, 0], ArrowUp: [-1, 0], Home: [0, -at], End: [0, controls.length - 1 - at] };
    if (event.key === 'Enter' && event.target.type === 'checkbox') {
      event.preventDefault();
      ctx.navigate(linkHref(ctx.org, row.dataset.slug, links.get(row.dataset.key)?.domain).slice(1));
      return;
    }
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    const [down, right] = move;
    if (right) {
      const next = controls[Math.min(Math.max(at + right, 0), controls.length - 1)];
      if (next) rove(row, next);
    } else {
      const other = down > 0 ? row.nextElementSibling : row.previousElementSibling;
      if (!other) return;
      const otherControls = controlsOf(other);
      const target = otherControls[Math.min(at, otherControls.length - 1)];
      for (const control of controls) control.tabIndex = control === controls[0] ? 0 : -1;
      rove(other, target);
    }
  });

  function removeRow(row) {
    const next = row.nextElementSibling || row.previousElementSibling;
    links.delete(row.dataset.key);
    selected.delete(row.dataset.key);
    row.remove();
    matching = Math.max(matching - 1, 0);
    showCount();
    drawSelection();
    if (next) rove(next, controlsOf(next)[0]);
    else heading.focus();
  }

  // The link's controls under its status, all of them named on hover when the cell cuts them.
  const controlSummary = (link) => {
    const marks = controlBadges(link);
    return marks.length > 0 && h('span', { class: 'cell-sub', title: marks.map((mark) => mark.textContent).join(' · ') }, marks);
  };

  // Slugs are unique per domain: a row is known by both.
  const keyOf = (link) => (link.domain ? `${link.slug}@${link.domain}` : link.slug);

  function linkRow(link) {
    const row = h('tr', { 'data-testid': 'link-item', 'data-slug': link.slug, 'data-key': keyOf(link) });
    if (link.domain) row.dataset.domain = link.domain;
    const fill = (link) => {
      links.set(keyOf(link), link);
      const condition = linkStatus(link);
      row.className = condition === 'active' ? '' : 'is-dimmed';
      const box = h('input', { type: 'checkbox', 'data-rove': '', tabindex: '0', 'aria-label': `Select ${link.slug}` });
      box.addEventListener('click', (event) => toggle(keyOf(link), box.checked, event.shiftKey));
      const actions = () => [
        ...(canChange(ctx, link)
          ? [
              ['Edit', () => editDialog(ctx, link, (updated) => {
                fill(updated);
                // After the dialog has closed (and put focus back where it was).
                setTimeout(() => rove(row, controlsOf(row).at(-1)));
              })],
              [link.disabled ? 'Enable' : 'Disable', async () => {
                const updated = await api.patch(oneLinkApi(ctx.org, link), { disabled: !link.disabled });
                notify(`${link.slug} is ${updated.disabled ? 'disabled: it no longer redirects' : 'enabled again'}.`);
                fill(updated);
                rove(row, controlsOf(row).at(-1));
              }],
            ]
          : []),
        ['Copy QR code', () => copyQr(ctx, link)],
        ...(canChange(ctx, link)
          ? [['Delete', async () => {
              const sure = await confirmDialog(
                'Delete this link?',
                `${link.short_url} will stop working and its statistics will be gone. This cannot be undone.`,
                'Delete link',
              );
              if (!sure) return;
              await api.delete(oneLinkApi(ctx.org, link));
              notify(`Deleted ${link.slug}.`);
              removeRow(row);
            }, true]]
          : []),
      ];
      const menu = rowMenu(`Actions for ${link.slug}`, actions);
      menu.querySelector('.menu-button').dataset.rove = '';
      const copy = h('button', {
        type: 'button',
        class: 'btn btn-small btn-ghost copy-icon',
        'data-rove': '',
        tabindex: '-1',
        'aria-label': `Copy short URL for ${link.slug}`,
        title: 'Copy short URL',
        onclick: async () => {
          if (await copyText(link.short_url)) notify('Copied link to the clipboard.');
          else notify('Copying is blocked by the browser. Select the text and press Ctrl+C.', 'error');
        },
      }, copyIcon());
      row.replaceChildren(
        h('td', { class: 'col-select' }, box),
        h('td', { class: 'col-short' }, h('div', { class: 'short-cell' },
          h('a', { href: linkHref(ctx.org, link.slug, link.domain), 'data-rove': '', tabindex: '-1', class: 'short-link', title: withoutScheme(link.short_url) },
            // The slug stays readable: a long host is what gets cut short.
            h('span', { class: 'short-host' }, withoutScheme(link.short_url).slice(0, -link.slug.length)),
            h('span', { class: 'short-slug' }, link.slug)),
          copy,
        )),
        h('td', { class: 'col-dest', title: shownUrl(link.url) }, shownHost(link.url), lookAlikeBadge(link.url)),
        h('td', { class: 'col-title' }, h('span', { class: 'cell-line' }, link.title || ''), link.tags?.length > 0 && h('span', { class: 'cell-sub' }, tagChips(link.tags))),
        h('td', { class: 'num' }, count.format(link.clicks)),
        h('td', { class: 'col-creator', title: link.created_by?.email ?? '' }, link.created_by?.email ?? 'a removed user'),
        h('td', { class: 'col-created' }, ago(link.created_at)),
        h('td', { class: 'col-status' },
          h('span', { class: `pill pill-${condition}`, 'data-testid': 'link-status' }, STATUS_LABELS[condition]),
          controlSummary(link)),
        h('td', { class: 'col-menu' }, menu),
      );
      drawSelection();
    };
    fill(link);
    return row;
  }

  // ---- loading ----
  const showCount = () => {
    total.textContent = `${count.format(matching)} ${matching === 1 ? 'link' : 'links'}`;
  };
  const showEmpty = () => {
    const filtered = filtering().length > 0;
    tableEl.hidden = !body.rows.length;
    if (body.rows.length) status.replaceChildren();
    else status.textContent = filtered ? 'No links match these filters.' : 'No links yet. Shorten your first URL above.';
  };

  async function loadPage(reset) {
    const mine = reset ? ++generation : generation;
    const params = filterParams();
    params.set('limit', PAGE_SIZE);
    if (state.sort !== 'newest') params.set('sort', state.sort);
    if (!reset && cursor) params.set('cursor', cursor);
    const data = await api.get(`${linkApi(ctx.org)}?${params}`);
    if (mine !== generation) return;
    if (reset) {
      body.replaceChildren();
      links = new Map();
      selected.clear();
      allMatching = false;
    }
    body.append(...data.items.map(linkRow));
    cursor = data.next_cursor;
    matching = data.total;
    more.hidden = !cursor;
    showCount();
    showEmpty();
    drawSelection();
  }

  async function reload() {
    const pending = setTimeout(() => (status.textContent = 'Loading…'), 150);
    try {
      await loadPage(true);
    } catch (error) {
      tableEl.hidden = !body.rows.length;
      status.replaceChildren(
        h('div', { class: 'panel panel-error', role: 'alert' },
          h('p', {}, errorText(error)),
          h('button', { type: 'button', class: 'btn', onclick: reload }, 'Try again')),
      );
    } finally {
      clearTimeout(pending);
    }
  }

  const controls = linkControls('link-create-form');
  const createForm = form({
    id: 'link-create-form',
    fields: [
      { name: 'url', label: 'Destination URL', type: 'url', required: true, attrs: { placeholder: 'https://example.com/a/long/page' } },
      {
        details: 'More options',
        fields: [
          { name: 'slug', label: 'Custom short name', hint: '3–64 letters, digits, - or _. Leave empty for a random one.', autocomplete: 'off' },
          ...optionFields(),
          ...controls.fields,
        ],
      },
    ],
    submitLabel: 'Shorten',
    errorFields: { SLUG_TAKEN: 'slug', INVALID_SLUG: 'slug', INVALID_URL: 'url', INVALID_DOMAIN: 'domain' },
    onSubmit: async (values, el) => {
      // Empty optional fields are left out rather than sent as null.
      const body = {
        ...Object.fromEntries(Object.entries(toApi(values)).filter(([, v]) => v !== null && String(v) !== '')),
        ...controls.body(values),
      };
      created.hidden = true; // the last link's panel must not pass for this one's if it fails
      const link = await api.post(linkApi(ctx.org), body);
      el.reset();
      controls.reset();
      created.hidden = false;
      created.replaceChildren(
        h('p', { class: 'panel-title' }, 'Your short link is ready'),
        copyRow('created-short-url', 'Short URL', link.short_url, 'short URL'),
        h('a', { href: linkHref(ctx.org, link.slug, link.domain) }, 'Stats and QR code'),
      );
      created.querySelector('button').focus();
      reload(); // where the new link shows depends on the sort and filters
    },
  });

  createForm.querySelector('.form-actions').before(domainPicker(ctx.org));
  reload();
  return page(
    'Links',
    h('div', { class: 'card' }, h('h2', {}, 'Shorten a URL'), createForm, created),
    h('div', { class: 'list-toolbar' }, heading, total, exportLink),
    filters,
    bulkBar,
    status,
    h('div', { class: 'table-wrap links-wrap' }, tableEl),
    h('div', { class: 'load-more' }, more),
  );
}
