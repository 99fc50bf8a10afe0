// The org's dashboard: clicks of all its links, top links, countries and the rest.
import { api, path } from '../api.js';
import { clicksChart } from '../chart.js';
import { h, loader, page, table } from '../dom.js';
import { setQuery } from '../router.js';
import { linkHref } from './links.js';
import { tagFilter } from './tags.js';

const PERIODS = [7, 30, 90, 365];
const regions = new Intl.DisplayNames(undefined, { type: 'region' });

export function countryName(code) {
  if (!code) return 'Unknown';
  try {
    return regions.of(code) || code;
  } catch {
    return code;
  }
}

// Each row with a bar of its share (a <meter>: the CSP allows no inline styles).
function barTable(testid, label, rows, name) {
  const peak = Math.max(1, ...rows.map((row) => row.clicks));
  return table({
    testid,
    empty: 'No clicks yet.',
    rows,
    columns: [
      { label, cell: name, class: 'cell-wrap' },
      { label: 'Clicks', cell: (row) => row.clicks.toLocaleString(), class: 'num' },
      { label: 'Share', cell: (row) => h('meter', { min: 0, max: peak, value: row.clicks, 'aria-label': `${row.clicks} clicks` }) },
    ],
  });
}

function render(org, stats) {
  const card = (value, label, testid) =>
    h('div', { class: 'stat' }, h('span', { class: 'stat-value', 'data-testid': testid }, value.toLocaleString()), h('span', { class: 'stat-label' }, label));
  return [
    h('div', { class: 'stat-cards' }, card(stats.total_clicks, 'Total clicks', 'org-total-clicks'), card(stats.unique_visitors, 'Unique visitors', 'org-unique-visitors')),
    h('h3', {}, 'Clicks per day'),
    clicksChart(stats.series),
    h(
      'div',
      { class: 'breakdowns' },
      h('div', { class: 'breakdown' }, h('h3', {}, 'Top links'), table({
        testid: 'top-links',
        empty: 'No clicks yet.',
        rows: stats.top_links,
        columns: [
          { label: 'Link', cell: (link) => h('a', { href: linkHref(org, link.slug, link.domain) }, link.title || link.slug), class: 'cell-wrap' },
          { label: 'Clicks', cell: (link) => link.clicks.toLocaleString(), class: 'num' },
        ],
      })),
      h('div', { class: 'breakdown' }, h('h3', {}, 'Countries'), barTable('countries', 'Country', stats.countries, (row) => countryName(row.value))),
      h('div', { class: 'breakdown' }, h('h3', {}, 'Top referrers'), barTable('org-referrers', 'Referrer', stats.referrers, (row) => row.value || 'Direct or unknown')),
      h('div', { class: 'breakdown' }, h('h3', {}, 'Browsers'), barTable('org-browsers', 'Browser', stats.browsers, (row) => row.value)),
    ),
  ];
}

export function dashboardView({ org, query }) {
  const box = h('div', { class: 'stats', 'data-testid': 'org-stats' });
  const chosen = Number(query.get('days')) || 30;
  let tag = query.get('tag') || '';
  const period = h('select', { id: 'org-stats-period' }, PERIODS.map((days) => h('option', { value: days, selected: days === chosen }, `Last ${days} days`)));
  const params = () => {
    const p = new URLSearchParams({ days: period.value });
    if (tag) p.set('tag', tag);
    return p;
  };
  const load = () => loader(() => api.get(`${path('orgs', org.id, 'stats')}?${params()}`), (stats) => render(org, stats), box);
  const csv = h('a', { class: 'btn btn-small', id: 'org-stats-csv', download: 'stats.csv' }, 'Download CSV');
  const refresh = () => {
    setQuery({ days: period.value, tag });
    csv.href = `/api/v1${path('orgs', org.id, 'stats')}?${params()}&format=csv`;
    load();
  };
  period.addEventListener('change', refresh);
  refresh();
  return page(
    'Dashboard',
    h(
      'div',
      { class: 'list-toolbar' },
      h('div', { class: 'inline-field' }, h('label', { for: 'org-stats-period' }, 'Period'), period),
      tagFilter(org, tag, (value) => ((tag = value), refresh())),
      csv,
    ),
    box,
  );
}
