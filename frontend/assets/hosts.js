// Look-alike host names: a host that mixes alphabets ("аpple.com" with a Cyrillic "а") may
// imitate another site. Such a destination is shown by its real (punycode) name, with a badge.
import { h } from './dom.js';

const SCRIPTS = [
  'Latin', 'Cyrillic', 'Greek', 'Armenian', 'Georgian', 'Hebrew', 'Arabic', 'Devanagari', 'Thai',
  'Han', 'Hiragana', 'Katakana', 'Hangul', 'Bopomofo', 'Cherokee',
].map((name) => [name, new RegExp(`\\p{Script=${name}}`, 'u')]);
// Mixtures that a language writes (Unicode TS 39, "highly restrictive"); any other is suspect.
const ALLOWED = [
  ['Latin', 'Han', 'Hiragana', 'Katakana'],
  ['Latin', 'Han', 'Bopomofo'],
  ['Latin', 'Han', 'Hangul'],
];

function hostOf(url) {
  // The host as written: the URL parser would already turn it into punycode.
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(url);
  return match ? match[1].replace(/^.*@/, '').replace(/:\d*$/, '') : '';
}

export function isLookAlike(url) {
  const host = hostOf(url);
  if (/^[\x00-\x7f]*$/.test(host)) return false;
  const scripts = new Set();
  for (const char of host) {
    if (!/\p{L}/u.test(char)) continue;
    scripts.add(SCRIPTS.find(([, pattern]) => pattern.test(char))?.[0] ?? `other ${char}`);
  }
  return scripts.size > 1 && !ALLOWED.some((allowed) => [...scripts].every((script) => allowed.includes(script)));
}

// The URL as shown to people: by its punycode host when that host is a look-alike.
export function shownUrl(url) {
  if (!isLookAlike(url)) return url;
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

export function lookAlikeBadge(url) {
  if (!isLookAlike(url)) return null;
  return h(
    'span',
    {
      class: 'badge badge-warn',
      title: 'This host name mixes alphabets and may imitate another site; it is shown by its real (punycode) name.',
      'data-testid': 'look-alike',
    },
    'Look-alike host',
  );
}

// Just the host of shownUrl(url): as written, or by its punycode name when a look-alike.
export const shownHost = (url) => hostOf(shownUrl(url));
