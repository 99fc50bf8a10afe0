// Tags: chips on links, the links list's tag filter, and the tag manager page.
import { api, path } from '../api.js';
import { actionButton, confirmDialog, form, h, loader, notify, openDialog, page, table } from '../dom.js';
import { atLeast } from '../session.js';

const NS = 'http://www.w3.org/2000/svg';
const tagsApi = (org, ...rest) => path('orgs', org.id, 'tags', ...rest);
let known = new Map(); // name (lower case) -> colour, from the last list of the org's tags

// A coloured dot (an SVG fill: the CSP allows no inline styles).
function dot(color) {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'tag-dot');
  svg.setAttribute('viewBox', '0 0 10 10');
  svg.setAttribute('aria-hidden', 'true');
  const circle = document.createElementNS(NS, 'circle');
  for (const [key, value] of Object.entries({ cx: 5, cy: 5, r: 5, fill: color || '#6b7280' })) circle.setAttribute(key, value);
  svg.append(circle);
  return svg;
}

export function tagChip(name, color = known.get(name.toLowerCase())) {
  return h('span', { class: 'tag-chip', 'data-testid': 'tag-chip' }, dot(color), name);
}

export function tagChips(tags = []) {
  return tags.length ? h('span', { class: 'tag-chips', 'aria-label': 'Tags' }, tags.map((name) => tagChip(name))) : null;
}

export async function loadTags(org) {
  const data = await api.get(tagsApi(org));
  known = new Map(data.items.map((tag) => [tag.name.toLowerCase(), tag.color]));
  return data.items;
}

// "a, b" -> ["a", "b"]; the form's text field for a link's tags.
export const parseTags = (text) => (text || '').split(',').map((name) => name.trim()).filter(Boolean);

// A select of the org's tags; calls onChange(name or '') when the choice changes. `selected`
// may be a list: several tags show as one choice, whose value is their names joined by commas.
export function tagFilter(org, selected, onChange, { layout = 'inline-field' } = {}) {
  const names = [selected].flat().filter(Boolean);
  const several = names.length > 1 && h('option', { value: names.join(','), selected: true }, names.join(' + '));
  const chosen = names.length === 1 ? names[0].toLowerCase() : null;
  const select = h('select', { id: 'tag-filter', 'data-testid': 'tag-filter' }, h('option', { value: '' }, 'All tags'), several);
  loadTags(org)
    .then((tags) => {
      select.append(...tags.map((tag) => h('option', { value: tag.name, selected: tag.name.toLowerCase() === chosen }, `${tag.name} (${tag.links})`)));
    })
    .catch(() => {});
  select.addEventListener('change', () => onChange(select.value));
  return h('div', { class: layout }, h('label', { for: 'tag-filter' }, 'Tag'), select);
}

function editDialog(org, tag, reload) {
  openDialog(`Edit tag ${tag.name}`, (close) =>
    form({
      id: 'tag-edit-form',
      fields: [
        { name: 'name', label: 'Name', required: true, value: tag.name },
        { name: 'color', label: 'Colour', type: 'color', value: tag.color },
      ],
      submitLabel: 'Save tag',
      errorFields: { TAG_TAKEN: 'name' },
      extra: h('button', { type: 'button', class: 'btn', onclick: close }, 'Cancel'),
      onSubmit: async (values) => {
        await api.patch(tagsApi(org, tag.name), values);
        notify(`Saved tag ${values.name}.`);
        close();
        reload();
      },
    }),
  );
}

export function tagsView({ org }) {
  const admin = atLeast(org.role, 'admin');
  const box = h('div');
  const reload = () => loader(() => loadTags(org), render, box);
  const render = (tags) =>
    table({
      testid: 'tags-table',
      caption: 'Tags of this organization',
      rows: tags,
      empty: 'No tags yet. Give a link tags when you create or edit it.',
      columns: [
        { label: 'Tag', cell: (tag) => tagChip(tag.name, tag.color) },
        { label: 'Links', cell: (tag) => h('a', { href: `#/orgs/${org.id}/links?tag=${encodeURIComponent(tag.name)}` }, tag.links.toLocaleString()), class: 'num' },
        admin && {
          label: 'Actions',
          cell: (tag) => [
            h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Edit tag ${tag.name}`, onclick: () => editDialog(org, tag, reload) }, 'Edit'),
            actionButton('Delete', async () => {
              const sure = await confirmDialog('Delete this tag?', `“${tag.name}” will be taken off its ${tag.links} links.`, 'Delete tag');
              if (!sure) return;
              await api.delete(tagsApi(org, tag.name));
              notify(`Deleted tag ${tag.name}.`);
              reload();
            }, { class: 'btn btn-small btn-danger', 'aria-label': `Delete tag ${tag.name}` }),
          ],
        },
      ].filter(Boolean),
    });
  reload();
  return page('Tags', admin ? null : h('p', { class: 'hint' }, 'Admins and owners can rename and delete tags.'), box);
}
