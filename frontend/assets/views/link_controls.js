// The link controls in the create/edit form (password, click limit, expired URL, targeting
// rules, UTM builder), their badges in the list, and their facts on the link page.
import { h } from '../dom.js';

export const UTM_PARAMS = [
  ['utm_source', 'Source', 'newsletter, google'],
  ['utm_medium', 'Medium', 'email, cpc, social'],
  ['utm_campaign', 'Campaign', 'spring_sale'],
  ['utm_term', 'Term', 'running shoes'],
  ['utm_content', 'Content', 'header_link'],
];
const DEVICES = [['', 'Any device'], ['desktop', 'Desktop'], ['mobile', 'Mobile'], ['tablet', 'Tablet']];
const MAX_RULES = 20;
let rowCount = 0; // ids of rule rows, unique in the page

const plural = (count, word) => `${count} ${word}${count === 1 ? '' : 's'}`;

// A small labelled input outside the form's own fields (no name: the form does not send it).
function control(id, label, props = {}) {
  const input = h(props.options ? 'select' : 'input', { id, ...props, options: undefined },
    props.options?.map(([value, text]) => h('option', { value }, text)));
  return [input, h('div', { class: 'field' }, h('label', { for: id }, label), input, h('p', { class: 'field-error', hidden: true }))];
}

// utm_* fields that write themselves into the form's Destination URL, and read it back.
function utmBuilder(formId) {
  const inputs = {};
  const urlInput = () => group.closest('form')?.querySelector('input[name="url"]');
  const parse = () => {
    try {
      return new URL(urlInput()?.value ?? '');
    } catch {
      return null; // not (yet) an absolute URL: nothing to compose with
    }
  };
  const readBack = () => {
    const url = parse();
    for (const [name] of UTM_PARAMS) inputs[name].value = url?.searchParams.get(name) ?? '';
  };
  const compose = () => {
    const url = parse();
    if (!url) return;
    for (const [name] of UTM_PARAMS) {
      const value = inputs[name].value.trim();
      if (value) url.searchParams.set(name, value);
      else url.searchParams.delete(name);
    }
    urlInput().value = url.href;
  };
  const fields = UTM_PARAMS.map(([name, label, example]) => {
    const [input, row] = control(`${formId}-${name.replace('_', '-')}`, `${label} (${name})`, {
      type: 'text', autocomplete: 'off', placeholder: example, 'data-utm': name,
    });
    inputs[name] = input;
    input.addEventListener('input', compose);
    return row;
  });
  const group = h(
    'fieldset',
    { class: 'control-group', 'data-testid': 'utm-builder' },
    h('legend', {}, 'UTM builder'),
    h('p', { class: 'hint' }, 'Campaign tags added to the destination URL.'),
    h('div', { class: 'utm-grid' }, fields),
  );
  // Read back once the form exists (on edit, the URL already has its tags), and on every edit
  // of the URL by hand.
  queueMicrotask(() => {
    readBack();
    urlInput()?.addEventListener('input', readBack);
  });
  return group;
}

// Ordered rules: [{country?, device?, os?, url}]; the first that matches wins.
function rulesEditor(formId, rules) {
  const list = h('ol', { class: 'rule-list', 'data-testid': 'rule-list' });
  const add = h('button', { type: 'button', class: 'btn btn-small' }, 'Add rule');
  const renumber = () => {
    [...list.children].forEach((row, index) => {
      row.querySelector('.rule-url').dataset.field = `rules.${index}.url`;
      row.dataset.field = `rules.${index}`;
    });
    add.hidden = list.children.length >= MAX_RULES;
  };
  const addRow = (rule = {}) => {
    const n = `${formId}-rule-${++rowCount}`;
    const [country, countryRow] = control(`${n}-country`, 'Country', { maxlength: 2, placeholder: 'DE', autocomplete: 'off', 'data-rule': 'country' });
    const [device, deviceRow] = control(`${n}-device`, 'Device', { options: DEVICES, 'data-rule': 'device' });
    const [os, osRow] = control(`${n}-os`, 'OS', { placeholder: 'iOS, Android, Windows', autocomplete: 'off', 'data-rule': 'os' });
    const [url, urlRow] = control(`${n}-url`, 'Send to', { type: 'url', placeholder: 'https://', 'data-rule': 'url' });
    country.value = rule.country ?? '';
    device.value = rule.device ?? '';
    os.value = rule.os ?? '';
    url.value = rule.url ?? '';
    urlRow.classList.add('rule-url');
    const row = h(
      'li',
      { class: 'rule-row', 'data-testid': 'rule' },
      countryRow, deviceRow, osRow, urlRow,
      h('button', {
        type: 'button',
        class: 'btn btn-small btn-danger',
        'aria-label': 'Remove rule',
        onclick: () => (row.remove(), renumber(), add.focus()),
      }, 'Remove'),
    );
    list.append(row);
    renumber();
    return row;
  };
  add.addEventListener('click', () => addRow().querySelector('input').focus());
  for (const rule of rules) addRow(rule);
  renumber();
  const element = h(
    'fieldset',
    { class: 'control-group' },
    h('legend', {}, 'Targeting rules'),
    h('p', { class: 'hint' }, 'Checked in order; the first whose conditions all match sends the visit to its URL. Country: two letters (ISO), such as DE.'),
    list,
    add,
  );
  const value = () =>
    [...list.children].map((row) => {
      const rule = {};
      for (const input of row.querySelectorAll('[data-rule]')) {
        const text = input.value.trim();
        if (text) rule[input.dataset.rule] = input.dataset.rule === 'country' ? text.toUpperCase() : text;
      }
      return rule;
    });
  const clear = () => (list.replaceChildren(), renumber());
  return { element, value, clear };
}

/**
 * The controls of the create (no link) or edit (the link) form: `fields` go into its
 * "More options" group; `body(values)` answers the API fields to send (on edit, only those
 * that changed).
 */
export function linkControls(formId, link = null) {
  const rules = rulesEditor(formId, link?.rules ?? []);
  const utm = utmBuilder(formId);
  const fields = [
    { element: utm },
    {
      name: 'password',
      label: link?.password_protected ? 'New password' : 'Password',
      type: 'password',
      autocomplete: 'new-password',
      hint: link?.password_protected
        ? 'Leave empty to keep the current password.'
        : 'Visitors must enter it before they are sent on. 4 to 72 characters.',
    },
    link?.password_protected && { name: 'remove_password', label: 'Remove the password', type: 'checkbox' },
    {
      name: 'max_clicks',
      label: 'Click limit',
      type: 'number',
      value: link?.max_clicks ?? '',
      attrs: { min: 1, max: 1000000000, step: 1 },
      hint: 'After this many visits the link stops redirecting. Leave empty for no limit.',
    },
    {
      name: 'expired_url',
      label: 'URL once over',
      type: 'url',
      value: link?.expired_url ?? '',
      hint: 'Where visitors go once the link has expired, is disabled or used up, instead of an error page.',
    },
    { element: rules.element },
  ].filter(Boolean);

  const body = (values) => {
    const out = {};
    const { password = '', remove_password: remove = false, max_clicks: max = '', expired_url: expired = '' } = values;
    if (remove) out.password = null;
    else if (password) out.password = password;
    const limit = max === '' ? null : Number(max);
    if (limit !== (link?.max_clicks ?? null)) out.max_clicks = limit;
    const fallback = expired || null;
    if (fallback !== (link?.expired_url ?? null)) out.expired_url = fallback;
    const chosen = rules.value();
    if (JSON.stringify(chosen) !== JSON.stringify(link?.rules ?? [])) out.rules = chosen;
    return out;
  };
  // Names the form collects that are not API fields of a link.
  return { fields, body, reset: rules.clear };
}

export function controlBadges(link) {
  const used = link.max_clicks === null ? 0 : link.max_clicks - link.clicks_remaining;
  return [
    link.password_protected && h('span', { class: 'badge', title: 'Needs a password' }, 'Locked'),
    link.max_clicks !== null && h('span', { class: link.clicks_remaining ? 'badge' : 'badge badge-warn', title: 'Clicks used of the limit' }, `Limit ${used}/${link.max_clicks}`),
    link.rules?.length > 0 && h('span', { class: 'badge' }, plural(link.rules.length, 'rule')),
  ].filter(Boolean);
}

const describeRule = (rule) =>
  [rule.country, rule.device, rule.os].filter(Boolean).join(' · ');

// dt/dd pairs for the link page's facts.
export function controlFacts(link) {
  return [
    h('dt', {}, 'Password'),
    h('dd', { 'data-testid': 'detail-password' }, link.password_protected ? 'Required' : 'None'),
    h('dt', {}, 'Click limit'),
    h('dd', { 'data-testid': 'detail-limit' }, link.max_clicks === null ? 'None' : `${(link.max_clicks - link.clicks_remaining).toLocaleString()} of ${link.max_clicks.toLocaleString()} used`),
    h('dt', {}, 'Once over'),
    h('dd', { class: 'cell-wrap', 'data-testid': 'detail-expired-url' }, link.expired_url ?? 'Error page (410)'),
    h('dt', {}, 'Rules'),
    h(
      'dd',
      { 'data-testid': 'detail-rules' },
      link.rules.length
        ? h('ol', { class: 'rule-facts' }, link.rules.map((rule) => h('li', { class: 'cell-wrap' }, `${describeRule(rule)} → ${rule.url}`)))
        : 'None',
    ),
  ];
}
