// The links of one org: create, search, page through, edit, disable and delete.
import { api, path } from '../api.js';
import {
  actionButton, confirmDialog, copyButton, copyRow, errorText, form, fromLocalInput, h, loadMoreButton, notify,
  openDialog, page, plural, time, toLocalInput,
} from '../dom.js';
import { lookAlikeBadge, shownUrl } from '../hosts.js';
import { setQuery } from '../router.js';
import { atLeast } from '../session.js';
import { domainPicker, domainQuery } from './domains.js';
import { controlBadges, linkControls } from './link_controls.js';
import { parseTags, tagChips, tagFilter } from './tags.js';

const PAGE_SIZE = 20;

const REDIRECTS = [
  [302, '302 Found (temporary, default)'],
  [301, '301 Moved permanently'],
  [307, '307 Temporary redirect'],
  [308, '308 Permanent redirect'],
];

export const linkApi = (org, ...rest) => path('orgs', org.id, 'links', ...rest);
export const linkHref = (org, slug, domain) =>
  `#/orgs/${org.id}/links/${encodeURIComponent(slug)}${domainQuery({ domain })}`;

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
      const updated = await api.patch(linkApi(ctx.org, link.slug) + domainQuery(link), { disabled: !link.disabled });
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
      await api.delete(linkApi(ctx.org, link.slug) + domainQuery(link));
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
          onUpdate(await api.patch(linkApi(ctx.org, link.slug) + domainQuery(link), changes));
          notify(`Saved ${link.slug}.`);
        }
        close();
        refocus(`Edit ${link.slug}`);
      },
    }),
  );
}

function linkItem(ctx, link, onRemove) {
  const item = h('li', { class: 'link-item', 'data-testid': 'link-item', 'data-slug': link.slug });
  const fill = (link) =>
    item.replaceChildren(
      h(
        'div',
        { class: 'link-main' },
        h('div', { class: 'link-head' }, h('a', { class: 'link-title', href: linkHref(ctx.org, link.slug, link.domain) }, link.title || link.slug), badges(link), tagChips(link.tags)),
        h(
          'div',
          { class: 'link-short' },
          h('a', { href: link.short_url, target: '_blank', rel: 'noopener noreferrer' }, link.short_url),
          copyButton(link.short_url, { 'aria-label': `Copy short URL for ${link.slug}` }),
        ),
        h('p', { class: 'link-dest', title: shownUrl(link.url) }, shownUrl(link.url), ' ', lookAlikeBadge(link.url)),
        h(
          'p',
          { class: 'link-meta' },
          h('strong', {}, plural(link.clicks, 'click')),
          ` · by ${link.created_by?.email ?? 'a removed user'} · `,
          time(link.created_at),
          link.expires_at && [' · expires ', time(link.expires_at)],
        ),
      ),
      h(
        'div',
        { class: 'link-actions' },
        h('a', { class: 'btn btn-small', href: linkHref(ctx.org, link.slug, link.domain), 'aria-label': `Stats and QR code for ${link.slug}` }, 'Stats & QR'),
        linkActions(ctx, link, { onUpdate: fill, onDelete: () => (item.remove(), onRemove()) }),
      ),
    );
  fill(link);
  return item;
}

export function linksView(ctx) {
  const heading = h('h2', { tabindex: '-1' }, 'All links');
  const list = h('ul', { class: 'link-list', 'data-testid': 'link-list', 'aria-label': 'Links' });
  const status = h('p', { class: 'list-status', role: 'status', 'data-testid': 'links-status' });
  const more = loadMoreButton(list, () => loadPage(false));
  const created = h('div', { class: 'panel panel-success', id: 'created-link', 'data-testid': 'created-link', hidden: true });
  const search = h('input', { type: 'search', id: 'link-search', name: 'q', autocomplete: 'off', placeholder: 'Slug, URL or title' });
  search.value = ctx.query.get('q') ?? '';
  let query = search.value.trim();
  let tag = ctx.query.get('tag') ?? '';
  let cursor = null;
  let generation = 0; // a newer search makes older answers irrelevant

  const showEmpty = () => {
    if (list.children.length) status.textContent = '';
    else status.textContent = query ? `No links match “${query}”.` : 'No links yet. Shorten your first URL above.';
  };
  // A deleted link's buttons are gone: keyboard focus goes to the list's heading.
  const item = (link) => linkItem(ctx, link, () => (showEmpty(), heading.focus()));

  async function loadPage(reset) {
    const mine = reset ? ++generation : generation;
    const params = new URLSearchParams({ limit: PAGE_SIZE });
    if (query) params.set('q', query);
    if (tag) params.set('tag', tag);
    if (!reset && cursor) params.set('cursor', cursor);
    const data = await api.get(`${linkApi(ctx.org)}?${params}`);
    if (mine !== generation) return;
    if (reset) list.replaceChildren();
    list.append(...data.items.map(item));
    cursor = data.next_cursor;
    more.hidden = !cursor;
    showEmpty();
  }

  async function reload() {
    const pending = setTimeout(() => (status.textContent = 'Loading…'), 150);
    try {
      await loadPage(true);
    } catch (error) {
      status.textContent = errorText(error);
    } finally {
      clearTimeout(pending);
    }
  }

  let typing;
  const runSearch = () => {
    clearTimeout(typing);
    query = search.value.trim();
    setQuery({ q: query, tag });
    exportLink.href = exportHref();
    reload();
  };
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(runSearch, 250);
  });

  const controls = linkControls('link-create-form');
  const exportHref = () => `/api/v1${linkApi(ctx.org, 'export.csv')}?${new URLSearchParams(Object.entries({ q: query, tag }).filter(([, v]) => v))}`;
  const exportLink = h('a', { class: 'btn btn-small', id: 'links-export', href: exportHref(), download: 'links.csv' }, 'Export CSV');
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
        ...Object.fromEntries(Object.entries(toApi(values)).filter(([, v]) => v !== null && v !== '')),
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
      if (query) {
        reload(); // the new link shows only if it matches the search
      } else {
        list.prepend(item(link));
        showEmpty();
      }
    },
  });

  createForm.querySelector('.form-actions').before(domainPicker(ctx.org));
  reload();
  return page(
    'Links',
    h('div', { class: 'card' }, h('h2', {}, 'Shorten a URL'), createForm, created),
    h(
      'div',
      { class: 'list-toolbar' },
      heading,
      h(
        'form',
        { role: 'search', class: 'search', onsubmit: (e) => (e.preventDefault(), runSearch()) },
        h('label', { for: 'link-search' }, 'Search links'),
        search,
      ),
      tagFilter(ctx.org, tag, (value) => ((tag = value), runSearch())),
      exportLink,
    ),
    status,
    list,
    h('div', { class: 'load-more' }, more),
  );
}
