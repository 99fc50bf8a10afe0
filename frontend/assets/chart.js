// Clicks-over-time bar chart, drawn as SVG with DOM APIs; colours and fonts come from app.css.
import { h, plural } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const HEIGHT = 220;
const MARGIN = { top: 12, right: 8, bottom: 26, left: 40 };

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  el.append(...children);
  return el;
}

const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
export const dayLabel = (day) => dayFormat.format(new Date(`${day}T00:00:00Z`));

// A whole-number tick step of 1, 2 or 5 times a power of ten, giving about four gridlines.
function tickStep(max) {
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  return Math.max(1, step);
}

function draw(series, width) {
  const peak = Math.max(0, ...series.map((d) => d.clicks));
  const step = tickStep(Math.max(peak, 1));
  const top = Math.ceil(Math.max(peak, 1) / step) * step;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const y = (value) => MARGIN.top + plotHeight - (value / top) * plotHeight;
  const slot = plotWidth / series.length;
  const gap = slot > 4 ? Math.min(slot * 0.25, 6) : 0;

  const total = series.reduce((sum, d) => sum + d.clicks, 0);
  const busiest = series.find((d) => d.clicks === peak);
  const summary = peak
    ? `Clicks per day over ${series.length} days: ${total} in total, most (${peak}) on ${dayLabel(busiest.date)}.`
    : `No clicks in the last ${series.length} days.`;
  const chart = svg('svg', {
    class: 'chart',
    viewBox: `0 0 ${width} ${HEIGHT}`,
    width,
    height: HEIGHT,
    role: 'img',
    'aria-label': summary,
    'data-testid': 'clicks-chart',
  });

  for (let value = 0; value <= top; value += step) {
    chart.append(
      svg('line', { class: 'chart-grid', x1: MARGIN.left, x2: width - MARGIN.right, y1: y(value), y2: y(value) }),
      svg('text', { class: 'chart-axis', x: MARGIN.left - 6, y: y(value), 'text-anchor': 'end', 'dominant-baseline': 'middle' }, String(value)),
    );
  }

  // Label about one day per 70px, counted back from the last day so "today" is always named.
  const every = Math.ceil(series.length / Math.max(2, Math.floor(plotWidth / 70)));
  series.forEach((day, i) => {
    const x = MARGIN.left + i * slot;
    // Each day is a full-height hover target carrying a tooltip, so empty days have one too.
    chart.append(
      svg(
        'g',
        { class: 'chart-day' },
        svg('title', {}, `${dayLabel(day.date)}: ${plural(day.clicks, 'click')}`),
        svg('rect', { class: 'chart-hit', x, y: MARGIN.top, width: slot, height: plotHeight }),
        svg('rect', { class: 'chart-bar', x: x + gap / 2, y: y(day.clicks), width: Math.max(slot - gap, 1), height: plotHeight - (y(day.clicks) - MARGIN.top), rx: Math.min(2, slot / 4) }),
      ),
    );
    if ((series.length - 1 - i) % every === 0) {
      chart.append(svg('text', { class: 'chart-axis', x: x + slot / 2, y: HEIGHT - 8, 'text-anchor': 'middle' }, dayLabel(day.date)));
    }
  });
  return chart;
}

// The chart in a box that redraws at its real pixel width, so text stays legible on a phone.
export function clicksChart(series) {
  const box = h('div', { class: 'chart-box' });
  if (!series.length) return box;
  let drawnWidth = 0;
  new ResizeObserver(([entry]) => {
    const width = Math.floor(entry.contentRect.width);
    if (width > 0 && width !== drawnWidth) {
      drawnWidth = width;
      box.replaceChildren(draw(series, width));
    }
  }).observe(box);
  return box;
}
