// One link: its details, QR code and click statistics.
import { api } from '../api.js';
import { clicksChart } from '../chart.js';
import { copyRow, h, loader, page, table, time } from '../dom.js';
import { setQuery } from '../router.js';
import { atLeast } from '../session.js';
import { badges, linkActions, linkApi } from './links.js';

const PERIODS = [7, 30, 90, 365];
const BREAKDOWNS = [
  ['referrers', 'Top referrers', 'Referrer'],
  ['browsers', 'Browsers', 'Browser'],
  ['os', 'Operating systems', 'Operating system'],
  ['devices', 'Devices', 'Device'],
];

// Referrers are hosts and stay as they are; "desktop" and friends read better capitalised.
function breakdownValue(key, value) {
  if (!value) return key === 'referrers' ? 'Direct or unknown' : 'Unknown';
  // Device classes are lower-case words; names (iOS, macOS, a host) are shown as they are.
  return key === 'devices' ? value.charAt(0).toUpperCase() + value.slice(1) : value;
}

function stat(value, label, testid) {
  return h('div', { class: 'stat' }, h('span', { class: 'stat-value', 'data-testid': testid }, value.toLocaleString()), h('span', { class: 'stat-label' }, label));
}

function renderStats(stats) {
  return [
    h(
      'div',
      { class: 'stat-cards' },
      stat(stats.total_clicks, 'Total clicks', 'stat-total-clicks'),
      stat(stats.unique_visitors, 'Unique visitors', 'stat-unique-visitors'),
    ),
    h('h3', {}, 'Clicks per day'),
    clicksChart(stats.series),
    h(
      'div',
      { class: 'breakdowns' },
      BREAKDOWNS.map(([key, heading, column]) =>
        h(
          'div',
          { class: 'breakdown' },
          h('h3', {}, heading),
          table({
            testid: `stats-${key}`,
            empty: 'No clicks yet.',
            rows: stats[key] || [],
            columns: [
              { label: column, cell: (row) => breakdownValue(key, row.value), class: 'cell-wrap' },
              { label: 'Clicks', cell: (row) => row.clicks.toLocaleString(), class: 'num' },
            ],
          }),
        ),
      ),
    ),
  ];
}

export function linkView(ctx) {
  const { org, params, query, navigate } = ctx;
  const qr = (format) => `/api/v1${linkApi(org, params.slug, 'qr')}?format=${format}`;
  const summary = h('div', { class: 'detail-grid' });
  const stats = h('div', { class: 'stats', 'data-testid': 'stats' });
  const chosen = Number(query.get('days')) || 30;
  const period = h(
    'select',
    { id: 'stats-period' },
    PERIODS.map((days) => h('option', { value: days, selected: days === chosen }, `Last ${days} days`)),
  );
  const loadStats = () => loader(() => api.get(`${linkApi(org, params.slug, 'stats')}?days=${period.value}`), renderStats, stats);
  period.addEventListener('change', () => {
    setQuery({ days: period.value });
    loadStats();
  });
  const statsCard = h(
    'section',
    { class: 'card', 'aria-labelledby': 'stats-heading', hidden: true },
    h(
      'div',
      { class: 'list-toolbar' },
      h('h2', { id: 'stats-heading' }, 'Statistics'),
      h('div', { class: 'inline-field' }, h('label', { for: 'stats-period' }, 'Period'), period),
    ),
    stats,
  );

  const view = page(
    params.slug,
    h('p', { class: 'back' }, h('a', { href: `#/orgs/${org.id}/links` }, '← All links')),
    summary,
    statsCard,
  );
  const heading = view.querySelector('h1');

  function detail(link) {
    heading.textContent = link.title || link.slug;
    document.title = `${heading.textContent} · Kurz`;
    const onUpdate = (updated) => summary.replaceChildren(...detail(updated));
    const onDelete = () => navigate(`/orgs/${org.id}/links`);
    const marks = badges(link);
    return [
      h(
        'div',
        { class: 'card' },
        copyRow('detail-short-url', 'Short URL', link.short_url, 'short URL'),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Destination'),
          h('dd', { class: 'cell-wrap' }, h('a', { href: link.url, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'detail-url' }, link.url)),
          h('dt', {}, 'Status'),
          h('dd', { 'data-testid': 'detail-status' }, marks.length ? marks : 'Active'),
          h('dt', {}, 'Redirect'),
          h('dd', {}, String(link.redirect_status)),
          h('dt', {}, 'Created'),
          h('dd', {}, time(link.created_at), ` by ${link.created_by?.email ?? 'a removed user'}`),
          h('dt', {}, 'Expires'),
          h('dd', {}, time(link.expires_at, 'Never')),
        ),
        h('div', { class: 'form-actions' }, linkActions(ctx, link, { onUpdate, onDelete })),
        atLeast(org.role, 'admin') &&
          h('p', {}, h('a', { href: `#/orgs/${org.id}/activity?link=${encodeURIComponent(link.slug)}`, 'data-testid': 'link-history' }, 'History of this link')),
      ),
      h(
        'figure',
        { class: 'card qr' },
        h('img', { src: qr('svg'), alt: `QR code for ${link.short_url}`, width: 180, height: 180, 'data-testid': 'qr-image' }),
        h('figcaption', {},
          h('a', { href: qr('png'), download: `kurz-${link.slug}.png`, id: 'qr-download' }, 'Download QR code (PNG)'),
          ' · ',
          h('a', { href: qr('svg'), download: `kurz-${link.slug}.svg`, 'aria-label': 'Download QR code (SVG)' }, 'SVG')),
      ),
    ];
  }

  // Statistics only for a link that exists: an unknown one would show its error twice.
  const shown = (link) => {
    statsCard.hidden = false;
    loadStats();
    return detail(link);
  };
  loader(() => api.get(linkApi(org, params.slug)), shown, summary);
  return view;
}
