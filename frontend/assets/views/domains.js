// Branded domains of one org (admins manage them): add, the TXT record to create, verify,
// status and last check, root/404 URLs, delete. Also the domain picker of the link form.
import { api, path } from '../api.js';
import { actionButton, confirmDialog, copyRow, form, h, loader, notify, openDialog, page, time } from '../dom.js';
import { atLeast } from '../session.js';

const domainsApi = (org, ...rest) => path('orgs', org.id, 'domains', ...rest);

// `?domain=<hostname>` for the API routes of a link on a branded domain; '' for the default.
export const domainQuery = (link, joiner = '?') =>
  link.domain ? `${joiner}domain=${encodeURIComponent(link.domain)}` : '';

// A "Domain" select for the link form, shown only once the org has a verified domain.
export function domainPicker(org) {
  const select = h('select', { id: 'link-domain', name: 'domain', 'data-testid': 'link-domain' });
  const row = h('div', { class: 'field', 'data-field': 'domain', hidden: true },
    h('label', { for: 'link-domain' }, 'Domain'),
    select,
    h('p', { class: 'field-error', hidden: true }),
  );
  api.get(domainsApi(org)).then(({ items }) => {
    const verified = items.filter((domain) => domain.verified);
    select.replaceChildren(
      h('option', { value: '' }, `${location.host} (default)`),
      ...verified.map((domain) => h('option', { value: domain.hostname }, domain.hostname)),
    );
    row.hidden = verified.length === 0;
  }, () => {}); // without its domains the form still shortens on the default domain
  return row;
}

// The links list's domain filter, shown once the org has a domain; onChange(hostname or '').
export function domainFilter(org, selected, onChange) {
  const select = h('select', { id: 'domain-filter', name: 'domain', 'data-testid': 'domain-filter' });
  const option = (value, text) => h('option', { value, selected: value === selected }, text);
  const row = h('div', { class: 'filter', hidden: !selected }, h('label', { for: 'domain-filter' }, 'Domain'), select);
  const fill = (hostnames) => {
    const known = [location.host, ...hostnames];
    select.replaceChildren(
      option('', 'All domains'),
      option(location.host, `${location.host} (default)`),
      ...hostnames.map((hostname) => option(hostname, hostname)),
      selected && !known.includes(selected) && option(selected, selected),
    );
  };
  fill([]);
  api.get(domainsApi(org)).then(({ items }) => {
    fill(items.map((domain) => domain.hostname));
    row.hidden = !items.length && !selected;
  }, () => {});
  select.addEventListener('change', () => onChange(select.value));
  return row;
}

function status(domain) {
  if (!domain.verified) return h('span', { class: 'badge badge-warn', 'data-testid': 'domain-status' }, 'Waiting for DNS');
  if (domain.check_failures) {
    return h('span', { class: 'badge badge-warn', 'data-testid': 'domain-status' }, `Verified · last ${domain.check_failures} checks failed`);
  }
  return h('span', { class: 'badge', 'data-testid': 'domain-status' }, 'Verified');
}

const urlFields = (domain = {}) => [
  { name: 'root_url', label: 'Home page URL', type: 'url', value: domain.root_url || '', hint: 'Where visitors of the domain itself (/) go. Empty: a “not found” page.' },
  { name: 'not_found_url', label: 'Unknown link URL', type: 'url', value: domain.not_found_url || '', hint: 'Where unknown short links on the domain go. Empty: a “not found” page.' },
];

export function domainsView({ org }) {
  if (!atLeast(org.role, 'admin')) {
    return page('Domains', h('p', { class: 'panel' }, `Only admins and owners of ${org.name} can manage domains.`));
  }
  const list = h('div', { 'data-testid': 'domains-list' });
  const reload = () => loader(() => api.get(domainsApi(org)), render, list);

  function edit(domain) {
    openDialog(`Edit ${domain.hostname}`, (close) =>
      form({
        id: 'domain-edit-form',
        fields: urlFields(domain),
        submitLabel: 'Save',
        extra: h('button', { type: 'button', class: 'btn', onclick: close }, 'Cancel'),
        onSubmit: async (values) => {
          await api.patch(domainsApi(org, domain.hostname), {
            root_url: values.root_url || null,
            not_found_url: values.not_found_url || null,
          });
          notify(`Saved ${domain.hostname}.`);
          close();
          reload();
        },
      }),
    );
  }

  async function remove(domain) {
    const sure = await confirmDialog(
      `Remove ${domain.hostname}?`,
      'Kurz will stop serving this domain. A domain that links still use cannot be removed.',
      'Remove domain',
    );
    if (!sure) return;
    await api.delete(domainsApi(org, domain.hostname));
    notify(`Removed ${domain.hostname}.`);
    reload();
  }

  async function verify(domain) {
    const result = document.getElementById(`verify-result-${domain.hostname}`);
    try {
      await api.post(domainsApi(org, domain.hostname, 'verify'));
      notify(`${domain.hostname} is verified: its short links work now.`);
      reload();
    } catch (error) {
      if (error.code !== 'DOMAIN_NOT_VERIFIED') throw error;
      result.textContent = `Not verified yet. ${error.problem.detail}`;
      result.hidden = false;
    }
  }

  const card = (domain) =>
    h(
      'div',
      { class: 'card', 'data-testid': 'domain-card', 'data-hostname': domain.hostname },
      h('h3', {}, domain.hostname, ' ', status(domain)),
      !domain.verified && [
        h('p', {}, 'Create this TXT record at your DNS provider, then verify. Point the domain itself at Kurz with a CNAME (or A/AAAA) record too.'),
        copyRow(`txt-name-${domain.hostname}`, 'TXT record name', domain.verification.name, 'record name'),
        copyRow(`txt-value-${domain.hostname}`, 'TXT record value', domain.verification.value, 'record value'),
      ],
      h('p', { class: 'panel panel-warn', id: `verify-result-${domain.hostname}`, role: 'status', hidden: true, 'data-testid': 'verify-result' }),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Last check'),
        h('dd', {}, time(domain.last_checked_at, 'Not checked yet'), domain.last_check_result && [' · ', domain.last_check_result]),
        h('dt', {}, 'Home page'),
        h('dd', {}, domain.root_url || 'Not found page'),
        h('dt', {}, 'Unknown links'),
        h('dd', {}, domain.not_found_url || 'Not found page'),
      ),
      h(
        'div',
        { class: 'form-actions' },
        !domain.verified && actionButton('Verify', () => verify(domain), { class: 'btn btn-primary', 'aria-label': `Verify ${domain.hostname}` }),
        h('button', { type: 'button', class: 'btn', 'aria-label': `Edit ${domain.hostname}`, onclick: () => edit(domain) }, 'Edit'),
        actionButton('Remove', () => remove(domain), { class: 'btn btn-danger', 'aria-label': `Remove ${domain.hostname}` }),
      ),
    );

  function render({ items }) {
    return [h('h2', {}, 'Domains'), ...(items.length ? items.map(card) : [h('p', { class: 'panel' }, 'No domains yet.')])];
  }

  reload();
  return page(
    'Domains',
    h(
      'div',
      { class: 'card' },
      h('h2', {}, 'Add a domain'),
      h('p', { class: 'hint' }, `Serve the short links of ${org.name} from your own host name, such as go.example.com. Visitors there get your links only; Kurz re-checks the TXT record daily.`),
      form({
        id: 'domain-form',
        fields: [
          { name: 'hostname', label: 'Host name', required: true, autocomplete: 'off', attrs: { placeholder: 'go.example.com' } },
          { details: 'Home page and unknown links', fields: urlFields() },
        ],
        submitLabel: 'Add domain',
        errorFields: { DOMAIN_TAKEN: 'hostname', INVALID_DOMAIN: 'hostname' },
        onSubmit: async (values, el) => {
          const body = Object.fromEntries(Object.entries(values).filter(([, value]) => value !== ''));
          const domain = await api.post(domainsApi(org), body);
          el.reset();
          notify(`Added ${domain.hostname}. Create its TXT record, then verify.`);
          reload();
        },
      }),
    ),
    list,
  );
}
