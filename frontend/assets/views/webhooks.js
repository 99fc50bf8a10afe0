// Webhook endpoints of one org (admins only): add, test, enable/disable, rotate the secret,
// delete, and each endpoint's recent deliveries with their outcome and a retry button.
import { ApiError, api, path } from '../api.js';
import {
  actionButton, confirmDialog, copyRow, form, h, loadMoreButton, loader, notify, page, table, time,
} from '../dom.js';
import { atLeast } from '../session.js';

const EVENTS = [
  ['link.created', 'Link created'],
  ['link.updated', 'Link updated'],
  ['link.deleted', 'Link deleted'],
  ['link.clicked', 'Link clicked (every human visit)'],
  ['member.added', 'Member added'],
  ['member.removed', 'Member removed'],
];
const STATUS = { pending: 'Pending', delivered: 'Delivered', failed: 'Failed' };
const STATUS_BADGE = { pending: 'badge-muted', delivered: '', failed: 'badge-warn' };

const eventField = (name) => `event_${name.replace('.', '_')}`;

export function webhooksView({ org }) {
  if (!atLeast(org.role, 'admin')) {
    return page('Webhooks', h('p', { class: 'panel' }, `Only admins and owners of ${org.name} can manage webhooks.`));
  }
  const hooksApi = (...rest) => path('orgs', org.id, 'webhooks', ...rest);
  const secret = h('div', { class: 'panel panel-warn', hidden: true, 'data-testid': 'webhook-secret' });
  const list = h('div');
  const reload = () => loader(() => api.get(hooksApi()), render, list);

  function showSecret(title, value) {
    secret.hidden = false;
    secret.replaceChildren(
      h('p', { class: 'panel-title' }, title),
      h('p', {}, h('strong', {}, 'Copy the signing secret now: it will not be shown again.'),
        ' Receivers verify each request’s webhook-signature header with it.'),
      copyRow('webhook-secret-value', 'Signing secret', value, 'secret'),
    );
    secret.querySelector('button').focus();
  }

  async function toggle(hook) {
    await api.patch(hooksApi(hook.id), { enabled: !hook.enabled });
    notify(hook.enabled ? 'Endpoint disabled.' : 'Endpoint enabled.');
    reload();
  }

  async function test(hook) {
    await api.post(hooksApi(hook.id, 'test'));
    notify('A ping event is on its way; its delivery shows below.');
    setTimeout(reload, 1500);
  }

  async function rotate(hook) {
    const ok = await confirmDialog(
      'Rotate the signing secret?',
      'A new secret signs from now on. For 24 hours the old one signs too, time to update your receiver.',
      'Rotate secret',
    );
    if (!ok) return;
    const rotated = await api.post(hooksApi(hook.id, 'rotate-secret'));
    showSecret(`New secret for ${rotated.url}`, rotated.secret);
  }

  async function remove(hook) {
    if (!(await confirmDialog('Delete endpoint?', `Nothing more will be sent to ${hook.url}.`, 'Delete'))) return;
    await api.delete(hooksApi(hook.id));
    notify('Endpoint deleted.');
    reload();
  }

  function deliveries(hook) {
    const box = h('div', { 'data-testid': 'deliveries' });
    let cursor = null;
    let rows = [];
    const fetchPage = async (after) => {
      const query = after ? `?limit=20&cursor=${encodeURIComponent(after)}` : '?limit=20';
      const pageOf = await api.get(`${hooksApi(hook.id, 'deliveries')}${query}`);
      rows = rows.concat(pageOf.items);
      cursor = pageOf.next_cursor;
    };
    const more = loadMoreButton(box, async () => {
      await fetchPage(cursor);
      box.replaceChildren(...drawn());
    });
    const drawn = () => {
      more.hidden = !cursor;
      return [
        table({
          testid: 'deliveries-table',
          caption: 'Recent deliveries',
          rows,
          empty: 'No deliveries yet.',
          columns: [
            { label: 'Event', cell: (d) => d.type },
            { label: 'Status', cell: (d) => h('span', { class: `badge ${STATUS_BADGE[d.status]}` }, STATUS[d.status]) },
            { label: 'Response', cell: (d) => (d.response_status ? String(d.response_status) : d.error || '—'), class: 'cell-wrap' },
            { label: 'Attempts', cell: (d) => String(d.attempts) },
            { label: 'Last attempt', cell: (d) => time(d.last_attempt_at, 'Not yet') },
            { label: 'Took', cell: (d) => (d.duration_ms == null ? '—' : `${d.duration_ms} ms`) },
            { label: 'Next attempt', cell: (d) => time(d.next_attempt_at) },
            {
              label: 'Actions',
              cell: (d) =>
                actionButton('Retry', async () => {
                  await api.post(hooksApi(hook.id, 'deliveries', d.id, 'retry'));
                  notify('Delivery queued again.');
                  setTimeout(reload, 1500);
                }, { class: 'btn btn-small', 'aria-label': `Retry delivery ${d.id} (${d.type})` }),
            },
          ],
        }),
        more,
      ];
    };
    return loader(() => fetchPage(null), drawn, box);
  }

  function endpoint(hook) {
    return h(
      'section',
      { class: 'card', 'data-testid': 'webhook', 'aria-label': `Endpoint ${hook.url}` },
      h('h3', { class: 'cell-wrap' }, hook.url),
      hook.description && h('p', {}, hook.description),
      h('p', {}, h('span', { class: `badge ${hook.enabled ? '' : 'badge-warn'}`, 'data-testid': 'webhook-state' },
        hook.enabled ? 'Enabled' : 'Disabled'), ' ', hook.events.join(', ')),
      hook.disabled_reason && h('p', { class: 'panel panel-warn', 'data-testid': 'disabled-reason' }, hook.disabled_reason),
      h(
        'div',
        { class: 'form-actions' },
        actionButton('Send test event', () => test(hook), { class: 'btn btn-small', 'aria-label': `Send test event to ${hook.url}` }),
        actionButton(hook.enabled ? 'Disable' : 'Enable', () => toggle(hook), { class: 'btn btn-small', 'aria-label': `${hook.enabled ? 'Disable' : 'Enable'} ${hook.url}` }),
        actionButton('Rotate secret', () => rotate(hook), { class: 'btn btn-small', 'aria-label': `Rotate secret of ${hook.url}` }),
        actionButton('Delete', () => remove(hook), { class: 'btn btn-small btn-danger', 'aria-label': `Delete ${hook.url}` }),
      ),
      deliveries(hook),
    );
  }

  function render({ items }) {
    return [
      h('h2', {}, 'Endpoints'),
      ...(items.length ? items.map(endpoint) : [h('p', { class: 'empty', 'data-testid': 'webhooks-empty' }, 'No endpoints yet.')]),
    ];
  }

  reload();
  return page(
    'Webhooks',
    h(
      'div',
      { class: 'card' },
      h('h2', {}, 'Add an endpoint'),
      h('p', { class: 'hint' }, `Kurz sends each chosen event of ${org.name} as a signed JSON POST (Standard Webhooks), and retries for more than a day until your endpoint answers 2xx.`),
      form({
        id: 'webhook-form',
        fields: [
          { name: 'url', label: 'Endpoint URL', type: 'url', required: true, autocomplete: 'off', attrs: { placeholder: 'https://example.com/kurz-events' } },
          { name: 'description', label: 'Description (optional)', autocomplete: 'off' },
          ...EVENTS.map(([name, label]) => ({ name: eventField(name), label, type: 'checkbox', value: name !== 'link.clicked' })),
        ],
        errorFields: { INVALID_URL: 'url' },
        submitLabel: 'Add endpoint',
        onSubmit: async (values, el) => {
          const events = EVENTS.map(([name]) => name).filter((name) => values[eventField(name)]);
          if (!events.length) throw new ApiError(400, { detail: 'Choose at least one event.' });
          const body = { url: values.url, events };
          if (values.description) body.description = values.description;
          const hook = await api.post(hooksApi(), body);
          el.reset();
          showSecret(`Endpoint ${hook.url} added`, hook.secret);
          reload();
        },
      }),
      secret,
    ),
    list,
  );
}
