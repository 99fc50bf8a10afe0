// Many links at once: paste URLs (a batch), upload a CSV file (a background import), export.
import { ApiError, api, path } from '../api.js';
import { errorText, h, notify, page, table } from '../dom.js';

const BATCH = 1000;

function batchResults(items, urls) {
  return table({
    testid: 'batch-results',
    caption: 'Result of each line',
    rows: items,
    columns: [
      { label: 'Line', cell: (item) => String(item.index + 1), class: 'num' },
      { label: 'URL', cell: (item) => urls[item.index], class: 'cell-wrap' },
      { label: 'Result', cell: (item) => (item.link ? h('a', { href: item.link.short_url }, item.link.short_url) : item.error.detail), class: 'cell-wrap' },
    ],
  });
}

function pasteCard(org) {
  const results = h('div', { 'data-testid': 'batch-output' });
  const area = h('textarea', { id: 'batch-urls', name: 'urls', rows: 6, placeholder: 'https://example.com/one\nhttps://example.com/two' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Shorten all');
  const el = h(
    'form',
    { id: 'batch-form', class: 'form' },
    h('div', { class: 'field' }, h('label', { for: 'batch-urls' }, 'One URL per line (up to 1,000)'), area),
    h('div', { class: 'form-actions' }, submit),
  );
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    const urls = area.value.split('\n').map((line) => line.trim()).filter(Boolean).slice(0, BATCH);
    if (!urls.length) return;
    submit.disabled = true;
    try {
      const data = await api.post(path('orgs', org.id, 'links', 'batch'), { items: urls.map((url) => ({ url })) });
      const made = data.items.filter((item) => item.status === 201).length;
      notify(`Created ${made} of ${urls.length} links.`, made === urls.length ? 'success' : 'error');
      results.replaceChildren(batchResults(data.items, urls));
    } catch (error) {
      results.replaceChildren(h('p', { class: 'panel panel-error', role: 'alert' }, errorText(error)));
    } finally {
      submit.disabled = false;
    }
  });
  return h('section', { class: 'card' }, h('h2', {}, 'Paste URLs'), el, results);
}

function progress(state) {
  const done = state.created + state.skipped + state.failed;
  return [
    h('p', { role: 'status', 'data-testid': 'import-status' },
      `${state.status === 'done' ? 'Done' : state.status === 'failed' ? 'Failed' : 'Importing'}: ` +
      `${state.created} created, ${state.skipped} already there, ${state.failed} failed, of ${state.total} rows.`),
    h('progress', { max: Math.max(state.total, 1), value: done, 'aria-label': 'Import progress' }),
    state.errors.length
      ? table({
          testid: 'import-errors',
          caption: 'Rows not imported',
          rows: state.errors,
          columns: [
            { label: 'Row', cell: (error) => String(error.row), class: 'num' },
            { label: 'Problem', cell: (error) => error.message, class: 'cell-wrap' },
          ],
        })
      : null,
  ];
}

async function upload(org, file) {
  // The one non-JSON body the API takes from a cookie session (same origin only).
  const response = await fetch(`/api/v1${path('orgs', org.id, 'imports')}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'text/csv', Accept: 'application/json' },
    body: file,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

function uploadCard(org) {
  const output = h('div', { 'data-testid': 'import-output' });
  const input = h('input', { type: 'file', id: 'import-file', name: 'file', accept: '.csv,text/csv', required: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Import');
  const el = h(
    'form',
    { id: 'import-form', class: 'form' },
    h('div', { class: 'field' }, h('label', { for: 'import-file' }, 'CSV file (Kurz, Bitly, Shlink or Kutt export; a url column at least)'), input),
    h('div', { class: 'form-actions' }, submit),
  );
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = input.files[0];
    if (!file) return;
    submit.disabled = true;
    try {
      let state = await upload(org, file);
      output.replaceChildren(...progress(state));
      while (state.status === 'queued' || state.status === 'running') {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        state = await api.get(path('orgs', org.id, 'imports', state.id));
        output.replaceChildren(...progress(state));
      }
    } catch (error) {
      output.replaceChildren(h('p', { class: 'panel panel-error', role: 'alert' }, errorText(error)));
    } finally {
      submit.disabled = false;
    }
  });
  return h('section', { class: 'card' }, h('h2', {}, 'Import a CSV file'), el, output);
}

export function importView({ org }) {
  const exportLink = h('a', { class: 'btn', id: 'export-csv', href: `/api/v1${path('orgs', org.id, 'links', 'export.csv')}`, download: 'links.csv' }, 'Export all links (CSV)');
  return page('Import and export', pasteCard(org), uploadCard(org), h('section', { class: 'card' }, h('h2', {}, 'Export'), exportLink));
}
