// One link: its details, QR code and click statistics.
import { api } from '../api.js';
import { clicksChart } from '../chart.js';
import { copyButton, copyRow, h, loader, page, table, time } from '../dom.js';
import { lookAlikeBadge, shownUrl } from '../hosts.js';
import { setQuery } from '../router.js';
import { atLeast } from '../session.js';
import { domainQuery } from './domains.js';
import { controlFacts } from './link_controls.js';
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

const percent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });

// A breakdown's rows plus one for the clicks they leave out (no referrer, an unknown browser,
// or beyond the top values), so that every breakdown adds up to the total.
function withRest(key, rows, total) {
  const rest = total - rows.reduce((sum, row) => sum + row.clicks, 0);
  if (rest <= 0) return rows;
  const label = key === 'referrers' ? 'Direct / unknown' : 'Unknown';
  return [...rows, { value: rows.length >= 10 ? `${label} or other` : label, clicks: rest, rest: true }];
}

function breakdown(key, heading, column, stats) {
  const total = stats.total_clicks;
  const share = (row) => (total ? row.clicks / total : 0);
  return h(
    'div',
    { class: 'breakdown' },
    h('h3', {}, heading),
    table({
      testid: `stats-${key}`,
      rows: withRest(key, stats[key] || [], total),
      columns: [
        {
          label: column,
          cell: (row) => {
            const bar = h('span', { class: 'share-bar' });
            bar.style.width = `${share(row) * 100}%`; // CSSOM, which the CSP allows
            return [row.rest ? row.value : breakdownValue(key, row.value), h('span', { class: 'share', 'aria-hidden': 'true' }, bar)];
          },
          class: 'cell-wrap',
        },
        { label: 'Clicks', cell: (row) => [row.clicks.toLocaleString(), ' ', h('span', { class: 'share-pct' }, percent.format(share(row)))], class: 'num' },
      ],
    }),
  );
}

// `link`: the link shown, for the prompts of the one empty state of a link without clicks.
function renderStats(stats, link, qrHref) {
  if (!stats.total_clicks) {
    return h(
      'div',
      { class: 'panel stats-empty', 'data-testid': 'stats-empty' },
      h('p', { class: 'panel-title' }, 'No clicks in this period'),
      h('p', {}, 'Share the short link or its QR code; clicks show up here within moments.'),
      h('div', { class: 'form-actions' },
        copyButton(link.short_url, { label: 'Copy short link', what: 'short URL' }),
        h('a', { class: 'btn btn-small', href: qrHref, download: `kurz-${link.slug}.png` }, 'Download QR code')),
    );
  }
  return [
    h(
      'div',
      { class: 'stat-cards' },
      stat(stats.total_clicks, 'Total clicks', 'stat-total-clicks'),
      stat(stats.unique_visitors, 'Unique visitors', 'stat-unique-visitors'),
    ),
    h('h3', {}, 'Clicks per day (UTC days)'),
    clicksChart(stats.series),
    h('div', { class: 'breakdowns' }, BREAKDOWNS.map(([key, heading, column]) => breakdown(key, heading, column, stats))),
  ];
}

export function linkView(ctx) {
  const { org, params, query, navigate } = ctx;
  const domain = query.get('domain'); // a link on a branded domain
  const onDomain = domainQuery({ domain }, '&');
  const qr = (format) => `/api/v1${linkApi(org, params.slug, 'qr')}?format=${format}${onDomain}`;
  const summary = h('div', { class: 'detail-grid' });
  const stats = h('div', { class: 'stats', 'data-testid': 'stats' });
  const chosen = Number(query.get('days')) || 30;
  const period = h(
    'select',
    { id: 'stats-period' },
    PERIODS.map((days) => h('option', { value: days, selected: days === chosen }, `Last ${days} days`)),
  );
  let shownLink;
  const loadStats = () =>
    loader(() => api.get(`${linkApi(org, params.slug, 'stats')}?days=${period.value}${onDomain}`), (data) => renderStats(data, shownLink, qr('png')), stats);
  period.addEventListener('change', () => {
    setQuery({ days: period.value, domain });
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
          h(
            'dd',
            { class: 'cell-wrap' },
            h('a', { href: link.url, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'detail-url' }, shownUrl(link.url)),
            ' ',
            lookAlikeBadge(link.url),
          ),
          h('dt', {}, 'Status'),
          h('dd', { 'data-testid': 'detail-status' }, marks.length ? marks : 'Active'),
          h('dt', {}, 'Redirect'),
          h('dd', {}, String(link.redirect_status)),
          h('dt', {}, 'Created'),
          h('dd', {}, time(link.created_at), ` by ${link.created_by?.email ?? 'a removed user'}`),
          h('dt', {}, 'Expires'),
          h('dd', {}, time(link.expires_at, 'Never')),
          controlFacts(link),
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
    shownLink = link;
    statsCard.hidden = false;
    loadStats();
    return detail(link);
  };
  loader(() => api.get(linkApi(org, params.slug) + domainQuery({ domain })), shown, summary);
  return view;
}
