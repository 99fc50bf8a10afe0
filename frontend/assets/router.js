// A tiny hash router: "#/orgs/abc/links?q=x" -> {view, params: {org: 'abc'}, query: {q: 'x'}}
// (query as URLSearchParams).
const routes = [];

export function route(pattern, view, options = {}) {
  const keys = [];
  const source = pattern.replace(/:(\w+)/g, (_, key) => {
    keys.push(key);
    return '([^/]+)';
  });
  routes.push({ regexp: new RegExp(`^${source}$`), keys, view, ...options });
}

export function resolve(path) {
  const [, pathname, search] = /^([^?]*)(.*)$/s.exec(path);
  for (const r of routes) {
    const match = r.regexp.exec(pathname);
    if (match) {
      const params = Object.fromEntries(r.keys.map((key, i) => [key, decodeURIComponent(match[i + 1])]));
      return { ...r, params, query: new URLSearchParams(search) };
    }
  }
  return null;
}

export const currentPath = () => location.hash.replace(/^#/, '') || '/';

// Navigating to the page already shown re-renders it (hashchange would not fire).
// `replace`: for redirects, which must not leave a history entry that Back would return to
// (and be redirected forward from again).
export function navigate(path, { replace = false } = {}) {
  if (currentPath() === path) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else if (replace) location.replace(`#${path}`);
  else location.hash = path;
}

export const redirect = (path) => navigate(path, { replace: true });

// Keeps a screen's state (a search, a period) in the address, so that reload and Back restore
// it: replaces the query without a new history entry or a re-render. Empty values are left out.
export function setQuery(values) {
  // A list is a repeated name: {tag: ['a', 'b']} -> tag=a&tag=b.
  const pairs = Object.entries(values).flatMap(([name, value]) => [value].flat().map((one) => [name, one]));
  const query = new URLSearchParams(pairs.filter(([, value]) => value));
  const pathname = currentPath().split('?')[0];
  history.replaceState(history.state, '', `#${pathname}${query.size ? `?${query}` : ''}`);
}
