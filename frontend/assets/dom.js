// Small DOM toolkit shared by every screen. Everything is built with DOM APIs (never innerHTML),
// so user data cannot inject markup and the strict CSP holds.
import { ApiError } from './api.js';

// h('button', {class: 'btn', onclick: fn, 'data-testid': 'x'}, 'Label', child, ...)
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

// ---- Dates ---------------------------------------------------------------------------------

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function time(iso, empty = '—') {
  if (!iso) return empty;
  return h('time', { datetime: iso, title: iso }, dateTimeFormat.format(new Date(iso)));
}

// <input type="datetime-local"> works in local time without seconds; the API wants UTC.
export function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(value) {
  return value ? new Date(value).toISOString().replace(/\.\d{3}Z$/, 'Z') : null;
}

export const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

// ---- Messages ------------------------------------------------------------------------------

let flashTimer;

const CARRY_MS = 1000;

// Removes every message (on navigation and on login: they were about the screen left behind),
// except one posted with `carry` for the screen being navigated to.
export function clearMessages({ navigating = false } = {}) {
  const region = document.getElementById('flash');
  // A carried message survives the navigation it announces, redirects right after included.
  if (navigating && Date.now() - Number(region.dataset.carry || 0) < CARRY_MS) return;
  delete region.dataset.carry;
  clearTimeout(flashTimer);
  region.replaceChildren();
}

// Announces a message in the page-wide aria-live region (index.html #flash). Errors stay
// longer and can be closed. `carry`: it is about the screen this one is leaving for.
export function notify(message, kind = 'success', { carry = false } = {}) {
  const region = document.getElementById('flash');
  clearTimeout(flashTimer);
  if (carry) region.dataset.carry = String(Date.now());
  else delete region.dataset.carry;
  region.replaceChildren(
    h(
      'div',
      { class: `flash-message ${kind}` },
      h('p', {}, message),
      kind === 'error' && h('button', { type: 'button', class: 'flash-close', 'aria-label': 'Close message', onclick: clearMessages }, '×'),
    ),
  );
  flashTimer = setTimeout(clearMessages, kind === 'error' ? 8000 : 6000);
}

export function errorText(error) {
  if (error instanceof ApiError) return error.friendly;
  console.error(error);
  return 'Something went wrong. Please try again.';
}

// ---- Buttons -------------------------------------------------------------------------------

// Ignores the button while work runs; the spinner only appears if it takes longer than a blink.
// aria-disabled rather than disabled: a disabled button loses keyboard focus to <body>.
export async function busy(button, work) {
  if (button.getAttribute('aria-disabled') === 'true') return;
  button.setAttribute('aria-disabled', 'true');
  button.setAttribute('aria-busy', 'true');
  const spinner = setTimeout(() => button.classList.add('is-busy'), 150);
  try {
    return await work();
  } finally {
    clearTimeout(spinner);
    button.classList.remove('is-busy');
    button.removeAttribute('aria-busy');
    button.removeAttribute('aria-disabled');
  }
}

// A button whose click runs an async action; failures land in the flash region.
export function actionButton(label, action, props = {}) {
  const button = h('button', { type: 'button', class: 'btn', ...props }, label);
  button.addEventListener('click', () =>
    busy(button, action).catch((error) => notify(errorText(error), 'error')),
  );
  return button;
}

// "Load more" under a paged list: `load` shows the next page, and hides the button after the
// last one; keyboard focus then goes to the list instead of dropping to <body>.
export function loadMoreButton(list, load) {
  const button = actionButton('Load more', async () => {
    await load();
    if (button.hidden) {
      list.tabIndex = -1;
      list.focus();
    }
  }, { hidden: true });
  return button;
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No Clipboard API (plain http on a non-localhost host) or permission refused.
    const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

export function copyButton(text, { label = 'Copy', what = 'link', ...props } = {}) {
  const button = h('button', { type: 'button', class: 'btn btn-small', ...props }, label);
  button.addEventListener('click', async () => {
    if (await copyText(text)) {
      button.textContent = 'Copied';
      notify(`Copied ${what} to the clipboard.`);
      setTimeout(() => (button.textContent = label), 1500);
    } else {
      notify('Copying is blocked by the browser. Select the text and press Ctrl+C.', 'error');
    }
  });
  return button;
}

// A labelled read-only field with a copy button, for values people paste elsewhere.
export function copyRow(id, label, value, what) {
  return h(
    'div',
    { class: 'copy-row' },
    h('label', { for: id }, label),
    h('div', { class: 'copy-field' }, h('input', { id, value, readonly: true, 'data-testid': id }), copyButton(value, { what })),
  );
}

// ---- Forms ---------------------------------------------------------------------------------

function fieldRow(formId, field) {
  const id = `${formId}-${field.name.replaceAll('_', '-')}`;
  const errorId = `${id}-error`;
  const hintId = field.hint ? `${id}-hint` : null;
  const common = {
    id,
    name: field.name,
    required: field.required,
    autocomplete: field.autocomplete,
    'aria-describedby': [hintId, errorId].filter(Boolean).join(' '),
    ...field.attrs,
  };
  let control;
  if (field.options) {
    control = h(
      'select',
      common,
      field.options.map(([value, text]) =>
        h('option', { value, selected: String(value) === String(field.value ?? '') }, text),
      ),
    );
  } else {
    const type = field.type || 'text';
    control = h('input', { ...common, type, value: type === 'checkbox' ? null : field.value });
    if (type === 'checkbox') control.checked = Boolean(field.value);
  }
  const label = h('label', { for: id }, field.label);
  const parts =
    field.type === 'checkbox'
      ? [h('div', { class: 'check' }, control, label)]
      : [label, control];
  return h(
    'div',
    { class: 'field', 'data-field': field.name },
    parts,
    hintId && h('p', { class: 'hint', id: hintId }, field.hint),
    h('p', { class: 'field-error', id: errorId, hidden: true }),
  );
}

/**
 * form({id, fields, submitLabel, onSubmit}) builds a labelled form that handles its own
 * errors: validation errors go next to their field, anything else into the form's alert.
 * fields: [{name, label, type, required, value, options: [[value, text]], hint, autocomplete,
 * attrs}], or {details: 'Summary', fields: [...]} for a collapsible group, or {element} for a
 * ready-made part (its controls have no name, so the form does not collect them).
 * onSubmit(values, form) may return a promise; values are trimmed strings / booleans.
 * errorFields maps API error codes to the field they concern: {SLUG_TAKEN: 'slug'}, or
 * {CODE: [field, message]} to word it differently. danger: true for a destructive submit.
 */
export function form({ id, fields, submitLabel, onSubmit, errorFields = {}, extra, danger = false }) {
  const alert = h('div', { class: 'form-alert', role: 'alert', 'data-testid': `${id}-alert` });
  const submit = h('button', { type: 'submit', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}` }, submitLabel);
  const row = (f) => f.element ?? fieldRow(id, f);
  const rows = fields.map((f) =>
    f.details ? h('details', { class: 'field-group' }, h('summary', {}, f.details), f.fields.map(row)) : row(f),
  );
  const el = h(
    'form',
    { id, class: 'form', 'data-testid': id },
    alert,
    rows,
    h('div', { class: 'form-actions' }, submit, extra),
  );

  const clearErrors = () => {
    alert.replaceChildren();
    for (const row of el.querySelectorAll('.field')) {
      row.querySelector('.field-error').hidden = true;
      row.querySelector('input, select')?.removeAttribute('aria-invalid');
    }
  };

  // Returns false when the form has no such field, so the message goes to the alert instead.
  const showFieldError = (name, message) => {
    const row = el.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
    if (!row) return false;
    const error = row.querySelector('.field-error');
    error.textContent = message;
    error.hidden = false;
    row.querySelector('input, select').setAttribute('aria-invalid', 'true');
    const group = row.closest('details');
    if (group) group.open = true;
    return true;
  };

  const showError = (error) => {
    const leftover = [];
    if (error instanceof ApiError) {
      let nested = false; // an error shown at a nested field ("rules.0.url"), not at "url"
      for (const { field, message } of error.errors) {
        // A nested field of its own first; else (servers sometimes report "body.url") the
        // last segment names our field.
        const name = String(field ?? '').split('.').pop();
        if (name !== field && showFieldError(field, message)) nested = true;
        else if (!showFieldError(name, message)) leftover.push(field ? `${field}: ${message}` : message);
      }
      const [codeField, codeMessage = error.friendly] = [].concat(errorFields[error.code] ?? []);
      if (codeField && !nested && showFieldError(codeField, codeMessage)) {
        leftover.length = 0;
      } else if (!error.errors.length || leftover.length) {
        leftover.unshift(error.friendly);
      }
    } else {
      leftover.push(errorText(error));
    }
    if (leftover.length) {
      alert.replaceChildren(...[...new Set(leftover)].map((m) => h('p', {}, m)));
    }
    el.querySelector('[aria-invalid="true"]')?.focus();
  };

  el.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors();
    const values = {};
    for (const control of el.querySelectorAll('input[name], select[name]')) {
      values[control.name] = control.type === 'checkbox' ? control.checked : control.value.trim();
    }
    busy(submit, () => onSubmit(values, el)).catch(showError);
  });
  return el;
}

// ---- Tables --------------------------------------------------------------------------------

/** table({caption, columns: [{label, cell: row => node|string, class}], rows, empty, testid}) */
// On phones a table of more than two columns becomes a stack of cards, each cell labelled by
// its column (data-label), so that nothing scrolls sideways.
export function table({ caption, columns, rows, empty = 'Nothing here yet.', testid }) {
  if (!rows.length) return h('p', { class: 'empty', 'data-testid': testid }, empty);
  const stack = columns.length > 2;
  return h(
    'div',
    { class: stack ? 'table-wrap stack-wrap' : 'table-wrap' },
    h(
      'table',
      { 'data-testid': testid, class: stack ? 'stack' : undefined },
      caption && h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h(
        'tbody',
        {},
        rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.class, 'data-label': typeof c.label === 'string' ? c.label : undefined }, c.cell(row) ?? '')))),
      ),
    ),
  );
}

// ---- Page sections -------------------------------------------------------------------------

// Re-drawing a container must not drop keyboard focus to <body>. Call before: the returned
// function, called after, focuses the control with the same name (aria-label) if there still is
// one, else the heading of the list it was in (made focusable from script only), else the container.
function keepFocus(container) {
  const focused = document.activeElement;
  if (!container.contains(focused)) return () => {};
  const label = focused.getAttribute('aria-label');
  const headings = () => container.querySelectorAll('h2, h3');
  const above = [...headings()].filter((heading) => heading.compareDocumentPosition(focused) & Node.DOCUMENT_POSITION_FOLLOWING).length;
  return () => {
    const control = label && container.querySelector(`[aria-label="${CSS.escape(label)}"]`);
    const fallback = headings()[Math.max(above - 1, 0)] || container;
    if (!control) fallback.tabIndex = -1;
    (control || fallback).focus();
  };
}

// Asking again may help after a network failure, a server error or a rate limit; not after a
// 404 or another answer about the request itself.
const retryable = (error) => !(error instanceof ApiError) || error.status >= 500 || error.status === 429;

// Shows "Loading…" (after a blink) until fetch() settles, then render(data) or the error
// with a retry button. Returns the container so callers can place it synchronously.
export function loader(fetch, render, container = h('div', { class: 'loader-box' })) {
  const run = async () => {
    const restoreFocus = keepFocus(container);
    const pending = setTimeout(
      () => container.replaceChildren(h('p', { class: 'loading', role: 'status' }, 'Loading…')),
      150,
    );
    try {
      const data = await fetch();
      clearTimeout(pending);
      container.replaceChildren(...[render(data)].flat());
      restoreFocus();
    } catch (error) {
      clearTimeout(pending);
      container.replaceChildren(
        h(
          'div',
          { class: 'panel panel-error', role: 'alert' },
          h('p', {}, errorText(error)),
          retryable(error) && h('button', { type: 'button', class: 'btn', onclick: run }, 'Try again'),
        ),
      );
      restoreFocus();
    }
  };
  run();
  return container;
}

// A screen: heading (focused on navigation so keyboard and screen-reader users land there).
export function page(title, ...children) {
  return h(
    'section',
    { class: 'page' },
    h('h1', { tabindex: '-1', class: 'page-title' }, title),
    children,
  );
}

// ---- Dialogs -------------------------------------------------------------------------------

let dialogs = 0; // numbers their titles: a confirmation may open over another dialog

// A native modal <dialog>: focus is trapped and Escape closes it, for free.
export function openDialog(title, build) {
  const close = () => dialog.close();
  const titleId = `dialog-title-${++dialogs}`;
  const dialog = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': titleId },
    h(
      'div',
      { class: 'dialog-head' },
      h('h2', { id: titleId }, title),
      h('button', { type: 'button', class: 'btn btn-ghost', 'aria-label': 'Close', onclick: close }, '×'),
    ),
  );
  dialog.append(...[build(close)].flat());
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  // Start where the work is (the first field, or the safe choice), not on the close button.
  (dialog.querySelector('[autofocus]') || dialog.querySelector('input, select'))?.focus();
  return dialog;
}

// Resolves true when the person confirms.
export function confirmDialog(title, message, confirmLabel) {
  return new Promise((resolve) => {
    let confirmed = false;
    const dialog = openDialog(title, (close) => [
      h('p', {}, message),
      h(
        'div',
        { class: 'form-actions' },
        h('button', {
          type: 'button',
          class: 'btn btn-danger',
          onclick: () => {
            confirmed = true;
            close();
          },
        }, confirmLabel),
        h('button', { type: 'button', class: 'btn', onclick: close, autofocus: true }, 'Cancel'),
      ),
    ]);
    dialog.addEventListener('close', () => resolve(confirmed));
  });
}
